"""Aliases: names a version holds in one collection, unique there, and who may move protected ones.

``latest`` is kept by the store itself on the newest committed member of each collection; ``vN``
aliases are not stored (they are the memberships' version indexes).
"""

from __future__ import annotations

from ..errors import InvalidInput, PermissionDenied
from ._db import Database
from ._util import LIVE
from .accounts import Accounts
from .records import Alias, Collection, Project, User


class Aliases:
    """The store's part for the ``aliases`` table and the rules on changing it."""

    def __init__(self, db: Database, accounts: Accounts) -> None:
        self.db = db
        self.accounts = accounts

    # --- lookups --------------------------------------------------------------------------

    def aliases_of(self, collection_id: int, artifact_id: int) -> list[Alias]:
        return self.db.find_all(
            Alias,
            "SELECT * FROM aliases WHERE collection_id = ? AND artifact_id = ? ORDER BY id",
            (collection_id, artifact_id),
        )

    def all_aliases_of(self, artifact_id: int) -> list[Alias]:
        return self.db.find_all(Alias, "SELECT * FROM aliases WHERE artifact_id = ? ORDER BY id", (artifact_id,))

    def collection_aliases(self, collection_id: int) -> list[Alias]:
        return self.db.find_all(
            Alias,
            f"SELECT l.* FROM aliases l JOIN artifacts a ON a.id = l.artifact_id "
            f"WHERE l.collection_id = ? AND {LIVE} ORDER BY l.alias",
            (collection_id,),
        )

    # --- writes ---------------------------------------------------------------------------

    def assign(self, collection: Collection, alias: str, artifact_id: int) -> None:
        """Put ``alias`` on the version in ``collection`` (no access check: callers have made theirs)."""
        # Aliases are unique per collection: adding one takes it off the version that held it
        # (W&B docs: registry/aliases).
        self.db.execute("DELETE FROM aliases WHERE collection_id = ? AND alias = ?", (collection.id, alias))
        self.db.execute(
            "INSERT INTO aliases (collection_id, alias, artifact_id) VALUES (?, ?, ?)",
            (collection.id, alias, artifact_id),
        )

    def repoint_latest(self, collection: Collection) -> None:
        """Put ``latest`` on the newest committed member (after a commit, link, unlink or delete)."""
        newest = self.db.one(
            "SELECT m.artifact_id FROM memberships m JOIN artifacts a ON a.id = m.artifact_id "
            "WHERE m.collection_id = ? AND a.state = 'COMMITTED' ORDER BY m.version_index DESC LIMIT 1",
            (collection.id,),
        )
        self.db.execute("DELETE FROM aliases WHERE collection_id = ? AND alias = 'latest'", (collection.id,))
        if newest is not None:
            self.assign(collection, "latest", newest["artifact_id"])

    # --- rules ----------------------------------------------------------------------------

    def check_change(self, user: User, collection: Collection, alias: str, *, linking: bool = False) -> None:
        """Refuse adding or removing ``alias`` in ``collection`` unless the user may."""
        project = self.accounts.project(collection.project_id)
        self.accounts.require_write(user, project, "change aliases")
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
        self.refuse_protected_aliases(user, project, [alias])

    def refuse_protected_aliases(self, user: User, project: Project, aliases: list[str]) -> None:
        """Only registry admins add or remove protected aliases (on a version, a link or a new version)."""
        protected = self._protected_for(user, project, aliases)
        if protected:
            shown = repr(protected[0]) if len(protected) == 1 else str(protected)
            raise PermissionDenied(
                f"alias {shown} is protected in {project.entity_name}/{project.name}: only registry "
                "admins can add or remove protected aliases; ask a registry admin to make this change"
            )

    def refuse_protected(self, user: User, project: Project, aliases: list[str], action: str) -> None:
        """Only registry admins ``action`` (unlink, delete) a version or collection holding protected aliases."""
        protected = self._protected_for(user, project, aliases)
        if protected:
            raise PermissionDenied(
                f"cannot {action}: the version holds protected alias(es) {protected} in "
                f"{project.entity_name}/{project.name}; only registry admins may {action} it"
            )

    def _protected_for(self, user: User, project: Project, aliases: list[str]) -> list[str]:
        """The protected ones among ``aliases`` (sorted), unless the user is an admin of the project."""
        protected = sorted(set(aliases) & self.accounts.protected_aliases(project.id))
        return protected if protected and not self.accounts.is_admin_of(user, project) else []
