"""Memberships: which versions a collection holds, linking, and what deleting takes away.

A version belongs to its sequence and to any number of portfolios, with its own ``versionIndex``
and aliases in each. Deletion is soft: a deleted version or collection stays in the tables (state
DELETED), no longer resolvable.
"""

from __future__ import annotations

from typing import Any

from ..errors import InvalidInput, NotFound
from ._db import Database
from ._util import LIVE, check_alias, check_name, is_version_alias, json_object, now, order_clause
from .accounts import Accounts
from .aliases import Aliases
from .collections import Collections
from .records import Collection, Membership, Project, User, Version


class Memberships:
    """The store's part for the ``memberships`` table: resolving, listing, linking and deleting."""

    def __init__(self, db: Database, accounts: Accounts, collections: Collections, aliases: Aliases) -> None:
        self.db = db
        self.accounts = accounts
        self.collections = collections
        self.aliases = aliases

    # --- lookups --------------------------------------------------------------------------

    def membership(self, collection_id: int, artifact_id: int) -> Membership | None:
        return self.db.find(
            Membership,
            "SELECT * FROM memberships WHERE collection_id = ? AND artifact_id = ?", (collection_id, artifact_id)
        )

    def resolve_membership(self, collection: Collection, alias: str | None) -> Membership | None:
        """The live member of ``collection`` named by ``alias`` (``vN``, an alias, or None = latest)."""
        alias = alias or "latest"
        if is_version_alias(alias):
            return self.db.find(
                Membership,
                f"SELECT m.* FROM memberships m JOIN artifacts a ON a.id = m.artifact_id "
                f"WHERE m.collection_id = ? AND m.version_index = ? AND {LIVE}",
                (collection.id, int(alias[1:])),
            )
        return self.db.find(
            Membership,
            f"SELECT m.* FROM memberships m JOIN aliases l ON l.collection_id = m.collection_id "
            f"AND l.artifact_id = m.artifact_id JOIN artifacts a ON a.id = m.artifact_id "
            f"WHERE m.collection_id = ? AND l.alias = ? AND {LIVE}",
            (collection.id, alias),
        )

    def resolve_name(self, project: Project, name: str) -> tuple[Collection, Membership] | None:
        """Resolve ``collection[:alias]`` in a project."""
        collection_name, _, alias = name.partition(":")
        collection = self.collections.collection_by_name(project.id, collection_name)
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
        sql += " ORDER BY " + order_clause(
            order, {"createdAt": "m.id", "versionIndex": "m.version_index", "updatedAt": "a.updated_at"},
            default="m.version_index DESC",
        )
        return self.db.find_all(Membership, sql, params)

    def memberships_of(self, artifact_id: int) -> list[Membership]:
        return self.db.find_all(
            Membership, "SELECT * FROM memberships WHERE artifact_id = ? ORDER BY id", (artifact_id,)
        )

    def live_memberships_of(self, artifact_id: int) -> list[Membership]:
        """The version's memberships in collections that are not deleted (what clients see)."""
        return self.db.find_all(
            Membership,
            "SELECT m.* FROM memberships m JOIN collections c ON c.id = m.collection_id "
            "WHERE m.artifact_id = ? AND c.state = 'READY' ORDER BY m.id",
            (artifact_id,),
        )

    def add(self, collection: Collection, artifact_id: int, version_index: int, stamp: str) -> None:
        """Record that ``collection`` holds the version as ``v<version_index>``."""
        self.db.execute(
            "INSERT INTO memberships (collection_id, artifact_id, version_index, created_at) VALUES (?, ?, ?, ?)",
            (collection.id, artifact_id, version_index, stamp),
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
        collections = self.collections
        source = collections.collection(version.sequence_id)
        if portfolio_id is not None:
            portfolio = collections.find_collection(portfolio_id)
            if portfolio is None:
                raise NotFound(f"artifact portfolio {portfolio_id} not found")
            project = self.accounts.project(portfolio.project_id)
            self.accounts.require_write(user, project, "link artifacts")
        else:
            name = check_name("portfolio", portfolio_name)
            project = self.accounts.ensure_project(user, entity_name, project_name)
            portfolio = collections.collection_by_name(project.id, name)
            if portfolio is None:
                artifact_type = collections.ensure_type(project.id, collections.artifact_type(source.type_id).name)
                portfolio = collections.insert(project, artifact_type.id, name, "PORTFOLIO")
        if portfolio.kind != "PORTFOLIO":
            raise InvalidInput(
                f"{project.entity_name}/{project.name}/{portfolio.name} is a collection logged by runs, "
                "not a link collection (portfolio); link into another name"
            )
        wanted_type = collections.artifact_type(source.type_id).name
        have_type = collections.artifact_type(portfolio.type_id).name
        if wanted_type != have_type:
            raise InvalidInput(
                f"{portfolio.name!r} holds artifacts of type {have_type!r}; cannot link an artifact of type "
                f"{wanted_type!r}"
            )
        for item in aliases:
            self.aliases.check_change(user, portfolio, check_alias(item["alias"]), linking=True)
        if self.membership(portfolio.id, version.id) is None:
            # Linking the same version twice creates no second membership.
            self.add(portfolio, version.id, collections.take_index(portfolio), now())
            self.aliases.repoint_latest(portfolio)
        for item in aliases:
            self.aliases.assign(portfolio, item["alias"], version.id)
        result = self.membership(portfolio.id, version.id)
        assert result is not None
        return result

    def unlink(self, user: User, artifact_id: int, portfolio_id: int) -> None:
        portfolio = self.collections.find_collection(portfolio_id)
        if portfolio is None or portfolio.kind != "PORTFOLIO":
            raise NotFound(f"artifact portfolio {portfolio_id} not found")
        project = self.accounts.project(portfolio.project_id)
        self.accounts.require_write(user, project, "unlink artifacts")
        if self.membership(portfolio.id, artifact_id) is None:
            raise NotFound(f"artifact {artifact_id} is not linked to {portfolio.name!r}")
        held = [a.alias for a in self.aliases.aliases_of(portfolio.id, artifact_id)]
        self.aliases.refuse_protected(user, project, held, "unlink")
        self.db.execute(
            "DELETE FROM aliases WHERE collection_id = ? AND artifact_id = ?", (portfolio.id, artifact_id)
        )
        self.db.execute(
            "DELETE FROM memberships WHERE collection_id = ? AND artifact_id = ?", (portfolio.id, artifact_id)
        )
        self.aliases.repoint_latest(portfolio)

    # --- deleting -------------------------------------------------------------------------

    def delete_collection(self, user: User, collection_id: int, kind: str) -> Collection:
        """Delete a collection: its aliases go, and a sequence's versions are deleted with it."""
        collection = self.collections.find_collection(collection_id)
        if collection is None or collection.kind != kind:
            raise NotFound(f"artifact {kind.lower()} {collection_id} not found")
        project = self.accounts.project(collection.project_id)
        self.accounts.require_write(user, project, "delete collections")
        self.aliases.refuse_protected(
            user, project, [a.alias for a in self.aliases.collection_aliases(collection.id)], "delete this collection"
        )
        if kind == "SEQUENCE":
            for member in self.members(collection):
                self.retire(member.artifact_id)
        self.db.execute("DELETE FROM aliases WHERE collection_id = ?", (collection.id,))
        self.db.execute(
            "UPDATE collections SET state = 'DELETED', updated_at = ? WHERE id = ?", (now(), collection.id)
        )
        return self.collections.collection(collection.id)

    def retire(self, artifact_id: int) -> None:
        """Soft-delete a version (no check): it holds no alias any more, and ``latest`` moves to the
        newest remaining committed version of each collection it was in."""
        self.db.execute("DELETE FROM aliases WHERE artifact_id = ?", (artifact_id,))
        self.db.execute("UPDATE artifacts SET state = 'DELETED', updated_at = ? WHERE id = ?", (now(), artifact_id))
        for membership in self.memberships_of(artifact_id):
            self.aliases.repoint_latest(self.collections.collection(membership.collection_id))
