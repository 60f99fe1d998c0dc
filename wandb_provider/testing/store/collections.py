"""Artifact types, collections (sequences and portfolios), memberships and aliases.

A sequence is the collection a version was logged into; a portfolio is a collection versions are
linked into (every registry collection is one). A version belongs to its sequence and to any number
of portfolios, with its own ``versionIndex`` and aliases in each.
"""

from __future__ import annotations

import json
from typing import Any

from ..errors import Conflict, InvalidInput, NotFound, PermissionDenied
from ._db import Database
from ._util import check_alias, check_name, check_tag, is_version_alias, json_object, now
from .accounts import AccountsMixin
from .records import Alias, ArtifactType, Collection, Membership, Project, Tag, User, Version, from_row

LIVE = "a.state != 'DELETED'"


class CollectionsMixin(AccountsMixin):
    db: Database

    # --- types ----------------------------------------------------------------------------

    def artifact_type(self, type_id: int) -> ArtifactType:
        row = self.db.one("SELECT * FROM artifact_types WHERE id = ?", (type_id,))
        assert row is not None
        return from_row(ArtifactType, row)

    def type_by_name(self, project_id: int, name: str) -> ArtifactType | None:
        row = self.db.one(
            "SELECT * FROM artifact_types WHERE project_id = ? AND name = ?", (project_id, name)
        )
        return from_row(ArtifactType, row) if row else None

    def ensure_type(self, project_id: int, name: str) -> ArtifactType:
        check_name("artifact type", name)
        existing = self.type_by_name(project_id, name)
        if existing:
            return existing
        type_id = self.db.execute(
            "INSERT INTO artifact_types (project_id, name, created_at) VALUES (?, ?, ?)",
            (project_id, name, now()),
        )
        return self.artifact_type(type_id)

    def types_in(self, project_id: int) -> list[ArtifactType]:
        rows = self.db.all("SELECT * FROM artifact_types WHERE project_id = ? ORDER BY id", (project_id,))
        return [from_row(ArtifactType, r) for r in rows]

    # --- collections ----------------------------------------------------------------------

    def collection(self, collection_id: int) -> Collection:
        row = self.db.one("SELECT * FROM collections WHERE id = ?", (collection_id,))
        assert row is not None
        return from_row(Collection, row)

    def find_collection(self, collection_id: int) -> Collection | None:
        row = self.db.one(
            "SELECT * FROM collections WHERE id = ? AND state = 'READY'", (collection_id,)
        )
        return from_row(Collection, row) if row else None

    def collection_by_name(self, project_id: int, name: str, type_id: int | None = None) -> Collection | None:
        sql = "SELECT * FROM collections WHERE project_id = ? AND name = ? AND state = 'READY'"
        params: list[Any] = [project_id, name]
        if type_id is not None:
            sql += " AND type_id = ?"
            params.append(type_id)
        row = self.db.one(sql, params)
        return from_row(Collection, row) if row else None

    def collections_in(
        self, project_id: int, type_id: int | None, filters: str | None, order: str | None
    ) -> list[Collection]:
        sql = "SELECT * FROM collections WHERE project_id = ? AND state = 'READY'"
        params: list[Any] = [project_id]
        if type_id is not None:
            sql += " AND type_id = ?"
            params.append(type_id)
        wanted = json_object(filters, "filters")
        name = wanted.get("name")
        if isinstance(name, str):
            sql += " AND name = ?"
            params.append(name)
        elif isinstance(name, dict) and isinstance(name.get("$regex"), str):
            sql += " AND name LIKE ?"
            params.append("%" + name["$regex"].strip("^$.*") + "%")
        kind = wanted.get("collectionType") or wanted.get("type")
        if kind in ("SEQUENCE", "PORTFOLIO"):
            sql += " AND kind = ?"
            params.append(kind)
        sql += " ORDER BY " + _order_clause(order, {"createdAt": "id", "name": "name", "updatedAt": "updated_at"},
                                           default="id DESC")
        return [from_row(Collection, r) for r in self.db.all(sql, params)]

    def collection_tags(self, collection_id: int) -> list[Tag]:
        rows = self.db.all(
            "SELECT id, name FROM collection_tags WHERE collection_id = ? ORDER BY name", (collection_id,)
        )
        return [Tag(id=r["id"], name=r["name"]) for r in rows]

    def _insert_collection(self, project: Project, type_id: int, name: str, kind: str) -> Collection:
        stamp = now()
        collection_id = self.db.execute(
            "INSERT INTO collections (project_id, type_id, name, kind, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (project.id, type_id, name, kind, stamp, stamp),
        )
        return self.collection(collection_id)

    def _take_index(self, collection: Collection) -> int:
        index = self.db.scalar("SELECT next_index FROM collections WHERE id = ?", (collection.id,))
        self.db.execute(
            "UPDATE collections SET next_index = next_index + 1, updated_at = ? WHERE id = ?",
            (now(), collection.id),
        )
        return int(index)

    # --- memberships ----------------------------------------------------------------------

    def membership(self, collection_id: int, artifact_id: int) -> Membership | None:
        row = self.db.one(
            "SELECT * FROM memberships WHERE collection_id = ? AND artifact_id = ?", (collection_id, artifact_id)
        )
        return from_row(Membership, row) if row else None

    def membership_by_id(self, membership_id: int) -> Membership | None:
        row = self.db.one("SELECT * FROM memberships WHERE id = ?", (membership_id,))
        return from_row(Membership, row) if row else None

    def resolve_membership(self, collection: Collection, alias: str | None) -> Membership | None:
        """The live member of ``collection`` named by ``alias`` (``vN``, an alias, or None = latest)."""
        alias = alias or "latest"
        if is_version_alias(alias):
            row = self.db.one(
                f"SELECT m.* FROM memberships m JOIN artifacts a ON a.id = m.artifact_id "
                f"WHERE m.collection_id = ? AND m.version_index = ? AND {LIVE}",
                (collection.id, int(alias[1:])),
            )
        else:
            row = self.db.one(
                f"SELECT m.* FROM memberships m JOIN aliases l ON l.collection_id = m.collection_id "
                f"AND l.artifact_id = m.artifact_id JOIN artifacts a ON a.id = m.artifact_id "
                f"WHERE m.collection_id = ? AND l.alias = ? AND {LIVE}",
                (collection.id, alias),
            )
        return from_row(Membership, row) if row else None

    def resolve_name(self, project: Project, name: str) -> tuple[Collection, Membership] | None:
        """Resolve ``collection[:alias]`` in a project."""
        collection_name, _, alias = name.partition(":")
        collection = self.collection_by_name(project.id, collection_name)
        if collection is None:
            return None
        membership = self.resolve_membership(collection, alias or None)
        return (collection, membership) if membership else None

    def members(
        self, collection: Collection, filters: str | None = None, order: str | None = None
    ) -> list[Membership]:
        sql = (
            f"SELECT m.* FROM memberships m JOIN artifacts a ON a.id = m.artifact_id "
            f"WHERE m.collection_id = ? AND {LIVE}"
        )
        params: list[Any] = [collection.id]
        wanted = json_object(filters, "filters")
        if isinstance(wanted.get("state"), str):
            sql += " AND a.state = ?"
            params.append(wanted["state"])
        if isinstance(wanted.get("digest"), str):
            sql += " AND a.digest = ?"
            params.append(wanted["digest"])
        alias = wanted.get("alias")
        if isinstance(alias, str):
            sql += (" AND EXISTS (SELECT 1 FROM aliases l WHERE l.collection_id = m.collection_id "
                    "AND l.artifact_id = m.artifact_id AND l.alias = ?)")
            params.append(alias)
        sql += " ORDER BY " + _order_clause(
            order, {"createdAt": "m.id", "versionIndex": "m.version_index", "updatedAt": "a.updated_at"},
            default="m.version_index DESC",
        )
        return [from_row(Membership, r) for r in self.db.all(sql, params)]

    def memberships_of(self, artifact_id: int) -> list[Membership]:
        rows = self.db.all("SELECT * FROM memberships WHERE artifact_id = ? ORDER BY id", (artifact_id,))
        return [from_row(Membership, r) for r in rows]

    def live_memberships_of(self, artifact_id: int) -> list[Membership]:
        """The version's memberships in collections that are not deleted (what clients see)."""
        rows = self.db.all(
            "SELECT m.* FROM memberships m JOIN collections c ON c.id = m.collection_id "
            "WHERE m.artifact_id = ? AND c.state = 'READY' ORDER BY m.id",
            (artifact_id,),
        )
        return [from_row(Membership, r) for r in rows]

    # --- aliases --------------------------------------------------------------------------

    def aliases_of(self, collection_id: int, artifact_id: int) -> list[Alias]:
        rows = self.db.all(
            "SELECT * FROM aliases WHERE collection_id = ? AND artifact_id = ? ORDER BY id",
            (collection_id, artifact_id),
        )
        return [from_row(Alias, r) for r in rows]

    def all_aliases_of(self, artifact_id: int) -> list[Alias]:
        rows = self.db.all("SELECT * FROM aliases WHERE artifact_id = ? ORDER BY id", (artifact_id,))
        return [from_row(Alias, r) for r in rows]

    def collection_aliases(self, collection_id: int) -> list[Alias]:
        rows = self.db.all(
            f"SELECT l.* FROM aliases l JOIN artifacts a ON a.id = l.artifact_id "
            f"WHERE l.collection_id = ? AND {LIVE} ORDER BY l.alias",
            (collection_id,),
        )
        return [from_row(Alias, r) for r in rows]

    def _assign_alias(self, collection: Collection, alias: str, artifact_id: int) -> None:
        # Aliases are unique per collection: adding one takes it off the version that held it
        # (W&B docs: registry/aliases).
        self.db.execute("DELETE FROM aliases WHERE collection_id = ? AND alias = ?", (collection.id, alias))
        self.db.execute(
            "INSERT INTO aliases (collection_id, alias, artifact_id) VALUES (?, ?, ?)",
            (collection.id, alias, artifact_id),
        )

    def _repoint_latest(self, collection: Collection) -> None:
        """Put ``latest`` on the newest committed member (after a commit, link, unlink or delete)."""
        newest = self.db.one(
            "SELECT m.artifact_id FROM memberships m JOIN artifacts a ON a.id = m.artifact_id "
            "WHERE m.collection_id = ? AND a.state = 'COMMITTED' ORDER BY m.version_index DESC LIMIT 1",
            (collection.id,),
        )
        self.db.execute("DELETE FROM aliases WHERE collection_id = ? AND alias = 'latest'", (collection.id,))
        if newest is not None:
            self._assign_alias(collection, "latest", newest["artifact_id"])

    def _check_alias_change(
        self, user: User, collection: Collection, alias: str, artifact_id: int, *, linking: bool = False
    ) -> None:
        project = self.project(collection.project_id)
        self.require_write(user, project, "change aliases")
        # Linking with aliases is how Model Registry aliases are set, so the rule below binds
        # only alias edits made through the linked artifact (addAliases / deleteAliases).
        if project.is_legacy_model_registry and collection.kind == "PORTFOLIO" and not linking:
            # W&B docs (core/artifacts/update-an-artifact): the aliases of an artifact linked to
            # a model in the Model Registry cannot be updated through that artifact.
            raise InvalidInput(
                "You can not update the alias of artifact linked to a model in Model Registry. "
                f"Change aliases of {collection.name!r} in the Model Registry instead (link the version "
                "again with the aliases it should have)."
            )
        self._refuse_protected_aliases(user, project, [alias])

    def _refuse_protected_aliases(self, user: User, project: Project, aliases: list[str]) -> None:
        """Only registry admins add or remove protected aliases (on a version, a link or a new version)."""
        protected = sorted(set(aliases) & self.protected_aliases(project.id))
        if protected and not self.is_admin_of(user, project):
            shown = repr(protected[0]) if len(protected) == 1 else str(protected)
            raise PermissionDenied(
                f"alias {shown} is protected in {project.entity_name}/{project.name}: only registry "
                "admins can add or remove protected aliases; ask a registry admin to make this change"
            )

    def change_aliases(
        self, user: User, artifact_id: int, targets: list[dict[str, str]], add: bool
    ) -> None:
        """Add (or remove) aliases given as ``ArtifactCollectionAliasInput`` dicts on one version."""
        version = self.live_version(artifact_id)
        for target in targets:
            alias = check_alias(target["alias"])
            project = self.get_project(user, target["entityName"], target["projectName"])
            collection = self.collection_by_name(project.id, check_name("collection", target["artifactCollectionName"]))
            if collection is None:
                raise NotFound(
                    f"artifact collection {target['artifactCollectionName']!r} not found in "
                    f"{project.entity_name}/{project.name}"
                )
            if self.membership(collection.id, version.id) is None:
                raise NotFound(
                    f"artifact {artifact_id} is not a member of {project.entity_name}/{project.name}/"
                    f"{collection.name}; aliases apply to the collection the version belongs to"
                )
            self._check_alias_change(user, collection, alias, version.id)
            if add:
                if version.state != "COMMITTED":
                    raise InvalidInput(
                        f"artifact {artifact_id} is {version.state}; only committed versions take aliases"
                    )
                self._assign_alias(collection, alias, version.id)
            else:
                self.db.execute(
                    "DELETE FROM aliases WHERE collection_id = ? AND alias = ? AND artifact_id = ?",
                    (collection.id, alias, version.id),
                )

    # --- linking --------------------------------------------------------------------------

    def link(
        self,
        user: User,
        version: Version,
        entity_name: str | None,
        project_name: str | None,
        portfolio_name: str | None,
        portfolio_id: int | None,
        aliases: list[dict[str, str]],
    ) -> Membership:
        """Link a committed version into a portfolio, creating the portfolio on first link."""
        if version.state != "COMMITTED":
            raise InvalidInput(f"artifact {version.id} is {version.state}; only committed versions can be linked")
        source = self.collection(version.sequence_id)
        if portfolio_id is not None:
            portfolio = self.find_collection(portfolio_id)
            if portfolio is None:
                raise NotFound(f"artifact portfolio {portfolio_id} not found")
            project = self.project(portfolio.project_id)
            self.require_write(user, project, "link artifacts")
        else:
            name = check_name("portfolio", portfolio_name)
            project = self.ensure_project(user, entity_name, project_name)
            portfolio = self.collection_by_name(project.id, name)
            if portfolio is None:
                artifact_type = self.ensure_type(project.id, self.artifact_type(source.type_id).name)
                portfolio = self._insert_collection(project, artifact_type.id, name, "PORTFOLIO")
        if portfolio.kind != "PORTFOLIO":
            raise InvalidInput(
                f"{project.entity_name}/{project.name}/{portfolio.name} is a collection logged by runs, "
                "not a link collection (portfolio); link into another name"
            )
        wanted_type = self.artifact_type(source.type_id).name
        have_type = self.artifact_type(portfolio.type_id).name
        if wanted_type != have_type:
            raise InvalidInput(
                f"{portfolio.name!r} holds artifacts of type {have_type!r}; cannot link an artifact of type "
                f"{wanted_type!r}"
            )
        for item in aliases:
            self._check_alias_change(user, portfolio, check_alias(item["alias"]), version.id, linking=True)
        membership = self.membership(portfolio.id, version.id)
        if membership is None:
            # Linking the same version twice creates no second membership.
            self.db.execute(
                "INSERT INTO memberships (collection_id, artifact_id, version_index, created_at) "
                "VALUES (?, ?, ?, ?)",
                (portfolio.id, version.id, self._take_index(portfolio), now()),
            )
            self._repoint_latest(portfolio)
        for item in aliases:
            self._assign_alias(portfolio, item["alias"], version.id)
        result = self.membership(portfolio.id, version.id)
        assert result is not None
        return result

    def unlink(self, user: User, artifact_id: int, portfolio_id: int) -> None:
        portfolio = self.find_collection(portfolio_id)
        if portfolio is None or portfolio.kind != "PORTFOLIO":
            raise NotFound(f"artifact portfolio {portfolio_id} not found")
        project = self.project(portfolio.project_id)
        self.require_write(user, project, "unlink artifacts")
        if self.membership(portfolio.id, artifact_id) is None:
            raise NotFound(f"artifact {artifact_id} is not linked to {portfolio.name!r}")
        self._refuse_protected(user, project, [a.alias for a in self.aliases_of(portfolio.id, artifact_id)], "unlink")
        self.db.execute(
            "DELETE FROM aliases WHERE collection_id = ? AND artifact_id = ?", (portfolio.id, artifact_id)
        )
        self.db.execute(
            "DELETE FROM memberships WHERE collection_id = ? AND artifact_id = ?", (portfolio.id, artifact_id)
        )
        self._repoint_latest(portfolio)

    def _refuse_protected(self, user: User, project: Project, aliases: list[str], action: str) -> None:
        protected = sorted(set(aliases) & self.protected_aliases(project.id))
        if protected and not self.is_admin_of(user, project):
            raise PermissionDenied(
                f"cannot {action}: the version holds protected alias(es) {protected} in "
                f"{project.entity_name}/{project.name}; only registry admins may {action} it"
            )

    # --- collection updates ---------------------------------------------------------------

    def update_collection(
        self, user: User, collection_id: int, kind: str, name: str | None, description: str | None
    ) -> Collection:
        collection = self.find_collection(collection_id)
        if collection is None or collection.kind != kind:
            raise NotFound(f"artifact {kind.lower()} {collection_id} not found")
        project = self.project(collection.project_id)
        self.require_write(user, project, "update collections")
        if name is not None and name != collection.name:
            check_name("collection", name)
            if self.collection_by_name(project.id, name):
                raise Conflict(f"a collection named {name!r} already exists in {project.entity_name}/{project.name}")
            self.db.execute("UPDATE collections SET name = ? WHERE id = ?", (name, collection.id))
        if description is not None:
            self.db.execute("UPDATE collections SET description = ? WHERE id = ?", (description, collection.id))
        self.db.execute("UPDATE collections SET updated_at = ? WHERE id = ?", (now(), collection.id))
        return self.collection(collection.id)

    def move_sequence(self, user: User, collection_id: int, type_name: str) -> Collection:
        collection = self.find_collection(collection_id)
        if collection is None or collection.kind != "SEQUENCE":
            raise NotFound(f"artifact sequence {collection_id} not found")
        project = self.project(collection.project_id)
        self.require_write(user, project, "change collection types")
        if type_name.startswith("wandb-") or type_name == "job":
            raise InvalidInput(f"artifact type {type_name!r} is reserved by W&B")
        target = self.ensure_type(project.id, type_name)
        self.db.execute(
            "UPDATE collections SET type_id = ?, updated_at = ? WHERE id = ?", (target.id, now(), collection.id)
        )
        return self.collection(collection.id)

    def tag_collection(
        self, user: User, entity: str, project_name: str, name: str, tags: list[str], add: bool
    ) -> list[Tag]:
        project = self.get_project(user, entity, project_name)
        collection = self.collection_by_name(project.id, name)
        if collection is None:
            raise NotFound(f"artifact collection {name!r} not found in {entity}/{project_name}")
        self.require_write(user, project, "tag collections")
        if len(tags) > 20:
            raise InvalidInput(f"{len(tags)} tags given; at most 20 per request")
        for tag in tags:
            check_tag(tag)
            if add:
                self.db.execute(
                    "INSERT OR IGNORE INTO collection_tags (collection_id, name) VALUES (?, ?)", (collection.id, tag)
                )
            else:
                self.db.execute(
                    "DELETE FROM collection_tags WHERE collection_id = ? AND name = ?", (collection.id, tag)
                )
        wanted = set(tags)
        return [t for t in self.collection_tags(collection.id) if t.name in wanted]

    def delete_collection(self, user: User, collection_id: int, kind: str) -> Collection:
        collection = self.find_collection(collection_id)
        if collection is None or collection.kind != kind:
            raise NotFound(f"artifact {kind.lower()} {collection_id} not found")
        project = self.project(collection.project_id)
        self.require_write(user, project, "delete collections")
        self._refuse_protected(
            user, project, [a.alias for a in self.collection_aliases(collection.id)], "delete this collection"
        )
        if kind == "SEQUENCE":
            for member in self.members(collection):
                self._soft_delete(member.artifact_id)
        self.db.execute("DELETE FROM aliases WHERE collection_id = ?", (collection.id,))
        self.db.execute(
            "UPDATE collections SET state = 'DELETED', updated_at = ? WHERE id = ?", (now(), collection.id)
        )
        return self.collection(collection.id)

    # --- versions (defined in versions.py) ------------------------------------------------

    def live_version(self, artifact_id: int) -> Version:
        raise NotImplementedError

    def _soft_delete(self, artifact_id: int) -> None:
        raise NotImplementedError


def _order_clause(order: str | None, columns: dict[str, str], default: str) -> str:
    if not order:
        return default
    descending = order.startswith("-")
    column = columns.get(order.lstrip("-+"))
    if column is None:
        raise InvalidInput(f"invalid order {order!r}: use one of {sorted(columns)} with an optional '-'")
    return f"{column} {'DESC' if descending else 'ASC'}"


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))
