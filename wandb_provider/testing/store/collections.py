"""Artifact types and collections (sequences and portfolios): lookups, listing, tags and edits.

A sequence is the collection a version was logged into; a portfolio is a collection versions are
linked into (every registry collection is one). What a collection holds is ``memberships.py``'s part.
"""

from __future__ import annotations

from typing import Any

from ..errors import Conflict, InvalidInput, NotFound
from ._db import Database
from ._util import check_name, check_tag, json_object, now, order_clause
from .accounts import Accounts
from .records import ArtifactType, Collection, Project, Tag, User


class Collections:
    """The store's part for artifact types and the collections of a project."""

    def __init__(self, db: Database, accounts: Accounts) -> None:
        self.db = db
        self.accounts = accounts

    # --- types ----------------------------------------------------------------------------

    def artifact_type(self, type_id: int) -> ArtifactType:
        return self.db.get(ArtifactType, "SELECT * FROM artifact_types WHERE id = ?", (type_id,))

    def type_by_name(self, project_id: int, name: str) -> ArtifactType | None:
        return self.db.find(
            ArtifactType,
            "SELECT * FROM artifact_types WHERE project_id = ? AND name = ?", (project_id, name)
        )

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
        return self.db.find_all(
            ArtifactType, "SELECT * FROM artifact_types WHERE project_id = ? ORDER BY id", (project_id,)
        )

    # --- collections ----------------------------------------------------------------------

    def collection(self, collection_id: int) -> Collection:
        return self.db.get(Collection, "SELECT * FROM collections WHERE id = ?", (collection_id,))

    def find_collection(self, collection_id: int) -> Collection | None:
        return self.db.find(
            Collection,
            "SELECT * FROM collections WHERE id = ? AND state = 'READY'", (collection_id,)
        )

    def collection_by_name(self, project_id: int, name: str, type_id: int | None = None) -> Collection | None:
        sql = "SELECT * FROM collections WHERE project_id = ? AND name = ? AND state = 'READY'"
        params: list[Any] = [project_id, name]
        if type_id is not None:
            sql += " AND type_id = ?"
            params.append(type_id)
        return self.db.find(Collection, sql, params)

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
        sql += " ORDER BY " + order_clause(order, {"createdAt": "id", "name": "name", "updatedAt": "updated_at"},
                                          default="id DESC")
        return self.db.find_all(Collection, sql, params)

    def collection_tags(self, collection_id: int) -> list[Tag]:
        rows = self.db.all(
            "SELECT id, name FROM collection_tags WHERE collection_id = ? ORDER BY name", (collection_id,)
        )
        return [Tag(id=r["id"], name=r["name"]) for r in rows]

    def insert(self, project: Project, type_id: int, name: str, kind: str) -> Collection:
        """A new, empty collection (no access check: callers have made theirs)."""
        stamp = now()
        collection_id = self.db.execute(
            "INSERT INTO collections (project_id, type_id, name, kind, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (project.id, type_id, name, kind, stamp, stamp),
        )
        return self.collection(collection_id)

    def take_index(self, collection: Collection) -> int:
        """The next ``versionIndex`` of ``collection``, counted once (indexes are never reused)."""
        index = self.db.scalar("SELECT next_index FROM collections WHERE id = ?", (collection.id,))
        self.db.execute(
            "UPDATE collections SET next_index = next_index + 1, updated_at = ? WHERE id = ?",
            (now(), collection.id),
        )
        return int(index)

    # --- edits ----------------------------------------------------------------------------

    def update_collection(
        self, user: User, collection_id: int, kind: str, name: str | None, description: str | None
    ) -> Collection:
        collection = self.find_collection(collection_id)
        if collection is None or collection.kind != kind:
            raise NotFound(f"artifact {kind.lower()} {collection_id} not found")
        project = self.accounts.project(collection.project_id)
        self.accounts.require_write(user, project, "update collections")
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
        project = self.accounts.project(collection.project_id)
        self.accounts.require_write(user, project, "change collection types")
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
        project = self.accounts.get_project(user, entity, project_name)
        collection = self.collection_by_name(project.id, name)
        if collection is None:
            raise NotFound(f"artifact collection {name!r} not found in {entity}/{project_name}")
        self.accounts.require_write(user, project, "tag collections")
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
