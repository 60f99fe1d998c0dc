"""Users, entities (personal, team, organization), organizations, projects and who may do what.

Roles follow W&B teams: ``admin`` and ``member`` may write, ``viewer`` may only look (W&B's docs:
view-only seats cannot download artifacts). An organization's entity owns its registries
(``wandb-registry-*`` projects); a user's role there is their best role in the org's teams.
"""

from __future__ import annotations

from ..errors import InvalidInput, NotFound, PermissionDenied
from ._db import Database
from ._util import check_name, check_project_name, now
from .records import Entity, Organization, Project, User

ROLES = ("viewer", "member", "admin")
CORE_REGISTRIES = ("model", "dataset")
_PROJECT_SELECT = (
    "SELECT p.*, e.name AS entity_name FROM projects p JOIN entities e ON e.id = p.entity_id"
)


class Accounts:
    """The store's part for who and where: identities, projects and the access rules between them."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # --- users, teams, organizations ------------------------------------------------------

    def add_user(self, username: str, api_key: str, email: str | None = None) -> User:
        check_name("user", username)
        with self.db.transaction():
            existing = self.user_by_name(username)
            if existing:
                if existing.api_key != api_key:
                    self.db.execute("UPDATE users SET api_key = ? WHERE id = ?", (api_key, existing.id))
                return self.user_by_name(username)  # type: ignore[return-value]
            user_id = self.db.execute(
                "INSERT INTO users (username, api_key, email, created_at) VALUES (?, ?, ?, ?)",
                (username, api_key, email or f"{username}@example.com", now()),
            )
            self.db.execute(
                "INSERT INTO entities (name, kind, user_id) VALUES (?, 'user', ?)", (username, user_id)
            )
        return self.user_by_name(username)  # type: ignore[return-value]

    def add_team(self, team: str, members: dict[str, str]) -> Entity:
        """Create team entity ``team`` (or update it) with ``{username: role}`` members."""
        check_name("team", team)
        with self.db.transaction():
            entity = self.entity_by_name(team)
            if entity is None:
                self.db.execute("INSERT INTO entities (name, kind) VALUES (?, 'team')", (team,))
                entity = self.entity_by_name(team)
            elif entity.kind != "team":
                raise InvalidInput(f"entity {team!r} already exists and is not a team")
            assert entity is not None
            for username, role in members.items():
                if role not in ROLES:
                    raise InvalidInput(f"unknown role {role!r} for {username!r}; use one of {ROLES}")
                user = self.user_by_name(username)
                if user is None:
                    raise NotFound(f"user {username!r} does not exist; add it with --user first")
                self.db.execute(
                    "INSERT OR REPLACE INTO entity_members (entity_id, user_id, role) VALUES (?, ?, ?)",
                    (entity.id, user.id, role),
                )
        return entity

    def add_organization(self, org: str, team: str) -> Organization:
        """Create organization ``org`` owning team ``team``, its org entity and core registries."""
        check_name("organization", org)
        with self.db.transaction():
            team_entity = self.entity_by_name(team)
            if team_entity is None or team_entity.kind != "team":
                raise NotFound(f"team {team!r} does not exist; declare it with --team first")
            row = self.db.one("SELECT * FROM organizations WHERE name = ?", (org,))
            if row is None:
                # Deviation: W&B names org entities itself; here it is "<org>-org".
                entity_name = f"{org}-org"
                entity_id = self.db.execute(
                    "INSERT INTO entities (name, kind) VALUES (?, 'org')", (entity_name,)
                )
                org_id = self.db.execute(
                    "INSERT INTO organizations (name, entity_id) VALUES (?, ?)", (org, entity_id)
                )
                self.db.execute("UPDATE entities SET org_id = ? WHERE id = ?", (org_id, entity_id))
                for registry in CORE_REGISTRIES:
                    self._insert_project(entity_id, f"wandb-registry-{registry}")
            else:
                org_id = row["id"]
            self.db.execute("UPDATE entities SET org_id = ? WHERE id = ?", (org_id, team_entity.id))
        return self.organization(org_id)

    def user_by_key(self, api_key: str) -> User | None:
        return self.db.find(User, "SELECT * FROM users WHERE api_key = ?", (api_key,))

    def user_by_name(self, username: str) -> User | None:
        return self.db.find(User, "SELECT * FROM users WHERE username = ?", (username,))

    def user(self, user_id: int) -> User | None:
        return self.db.find(User, "SELECT * FROM users WHERE id = ?", (user_id,))

    def entity_by_name(self, name: str | None) -> Entity | None:
        return self.db.find(Entity, "SELECT * FROM entities WHERE name = ?", (name,))

    def entity(self, entity_id: int) -> Entity:
        return self.db.get(Entity, "SELECT * FROM entities WHERE id = ?", (entity_id,))

    def personal_entity(self, user: User) -> Entity:
        return self.db.get(Entity, "SELECT * FROM entities WHERE user_id = ? AND kind = 'user'", (user.id,))

    def teams_of(self, user: User) -> list[Entity]:
        return self.db.find_all(
            Entity,
            "SELECT e.* FROM entities e JOIN entity_members m ON m.entity_id = e.id "
            "WHERE m.user_id = ? ORDER BY e.name",
            (user.id,),
        )

    def organization(self, org_id: int) -> Organization:
        return self.db.get(Organization, "SELECT * FROM organizations WHERE id = ?", (org_id,))

    def organization_by_name(self, name: str | None) -> Organization | None:
        return self.db.find(
            Organization,
            "SELECT o.* FROM organizations o JOIN entities e ON e.id = o.entity_id "
            "WHERE o.name = ? OR e.name = ?",
            (name, name),
        )

    def organizations_of(self, user: User) -> list[Organization]:
        return self.db.find_all(
            Organization,
            "SELECT DISTINCT o.* FROM organizations o JOIN entities t ON t.org_id = o.id AND t.kind = 'team' "
            "JOIN entity_members m ON m.entity_id = t.id WHERE m.user_id = ? ORDER BY o.name",
            (user.id,),
        )

    # --- access ---------------------------------------------------------------------------

    def role(self, user: User, entity: Entity) -> str | None:
        """The user's role in ``entity``: admin, member, viewer, or None (no access)."""
        if entity.kind == "user":
            return "admin" if entity.user_id == user.id else None
        if entity.kind == "team":
            return self.db.scalar(  # type: ignore[no-any-return]
                "SELECT role FROM entity_members WHERE entity_id = ? AND user_id = ?", (entity.id, user.id)
            )
        rows = self.db.all(
            "SELECT m.role FROM entity_members m JOIN entities t ON t.id = m.entity_id "
            "WHERE t.org_id = ? AND t.kind = 'team' AND m.user_id = ?",
            (entity.org_id, user.id),
        )
        roles = [r["role"] for r in rows]
        return max(roles, key=ROLES.index) if roles else None

    def can_read(self, user: User, entity: Entity) -> bool:
        return self.role(user, entity) is not None

    def require_write(self, user: User, project: Project, action: str) -> None:
        """Refuse ``action`` unless the user is a member or admin of the project's entity."""
        role = self.role(user, self.entity(project.entity_id))
        if role is None:
            raise NotFound(f"project {project.entity_name}/{project.name} not found")
        if role == "viewer":
            raise PermissionDenied(
                f"permission denied: {user.username!r} is a viewer of {project.entity_name!r} and cannot "
                f"{action}; ask an admin of {project.entity_name!r} for the member role"
            )

    def require_download(self, user: User, project: Project) -> None:
        self.require_write(user, project, "download artifact files (view-only seats cannot download)")

    def is_admin_of(self, user: User, project: Project) -> bool:
        return self.role(user, self.entity(project.entity_id)) == "admin"

    # --- projects -------------------------------------------------------------------------

    def _insert_project(self, entity_id: int, name: str) -> int:
        return self.db.execute(
            "INSERT INTO projects (entity_id, name, created_at) VALUES (?, ?, ?)", (entity_id, name, now())
        )

    def project(self, project_id: int) -> Project:
        return self.db.get(Project, f"{_PROJECT_SELECT} WHERE p.id = ?", (project_id,))

    def find_project(self, user: User, entity_name: str | None, name: str | None) -> Project | None:
        """The project the user can see, or None (W&B answers ``project: null``)."""
        entity = self._readable_entity(user, entity_name)
        return None if entity is None else self._project_in(entity, name)

    def get_project(self, user: User, entity_name: str | None, name: str | None) -> Project:
        project = self.find_project(user, entity_name, name)
        if project is None:
            raise NotFound(f"project {name!r} not found under entity {entity_name!r}")
        return project

    def ensure_project(self, user: User, entity_name: str | None, name: str | None) -> Project:
        """Find or create a project the user may write to (W&B creates projects on first write)."""
        entity = self._readable_entity(user, entity_name)
        if entity is None:
            raise NotFound(f"entity {entity_name!r} not found")
        check_project_name(name)
        project = self._project_in(entity, name)
        if project is None:
            if name and name.startswith("wandb-registry-"):
                raise NotFound(
                    f"registry {name!r} does not exist in organization entity {entity.name!r}; "
                    "create it in the W&B Registry first"
                )
            if self.role(user, entity) == "viewer":
                raise PermissionDenied(
                    f"permission denied: {user.username!r} is a viewer of {entity.name!r} and cannot "
                    "create projects"
                )
            project_id = self._insert_project(entity.id, name)  # type: ignore[arg-type]
            return self.project(project_id)
        self.require_write(user, project, "write to this project")
        return project

    def _readable_entity(self, user: User, entity_name: str | None) -> Entity | None:
        """The named entity (the user's own when unnamed) if the user can see it."""
        entity = self.entity_by_name(entity_name or self.personal_entity(user).name)
        return entity if entity is not None and self.can_read(user, entity) else None

    def _project_in(self, entity: Entity, name: str | None) -> Project | None:
        return self.db.find(Project, f"{_PROJECT_SELECT} WHERE p.entity_id = ? AND p.name = ?", (entity.id, name))

    def protected_aliases(self, project_id: int) -> set[str]:
        rows = self.db.all("SELECT alias FROM protected_aliases WHERE project_id = ?", (project_id,))
        return {r["alias"] for r in rows}

    def set_protected_aliases(self, entity_name: str, project_name: str, aliases: list[str]) -> None:
        """Declare the protected aliases of a registry (W&B's registry admins do this in the UI)."""
        entity = self.entity_by_name(entity_name)
        if entity is None:
            raise NotFound(f"entity {entity_name!r} not found")
        with self.db.transaction():
            project_id = self.db.scalar(
                "SELECT id FROM projects WHERE entity_id = ? AND name = ?", (entity.id, project_name)
            )
            if project_id is None:
                project_id = self._insert_project(entity.id, project_name)
            self.db.execute("DELETE FROM protected_aliases WHERE project_id = ?", (project_id,))
            for alias in aliases:
                self.db.execute(
                    "INSERT INTO protected_aliases (project_id, alias) VALUES (?, ?)", (project_id, alias)
                )
