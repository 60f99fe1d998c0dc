"""Artifact versions once logged: lookups, the blobs they name, and edits (metadata, tags, aliases, delete).

Logging a version is ``uploads.py``'s part.
"""

from __future__ import annotations

from typing import Any

from .. import ids
from ..blobs import b64_to_hex, hex_to_b64
from ..errors import Conflict, InvalidInput, NotFound, PermissionDenied
from ._db import Database
from ._util import check_alias, check_name, check_tag, now, parse_metadata
from .accounts import Accounts
from .aliases import Aliases
from .collections import Collections
from .memberships import Memberships
from .records import FileEntry, Project, Tag, User, Version


class Versions:
    """The store's part for the ``artifacts`` table after logging, and its files and tags."""

    def __init__(self, db: Database, accounts: Accounts, collections: Collections, aliases: Aliases,
                 memberships: Memberships) -> None:
        self.db = db
        self.accounts = accounts
        self.collections = collections
        self.aliases = aliases
        self.memberships = memberships

    # --- lookups --------------------------------------------------------------------------

    def find_version(self, artifact_id: int) -> Version | None:
        return self.db.find(Version, "SELECT * FROM artifacts WHERE id = ?", (artifact_id,))

    def live_version(self, artifact_id: int) -> Version:
        version = self.find_version(artifact_id)
        if version is None or version.state == "DELETED":
            raise NotFound(f"artifact {ids.encode('Artifact', artifact_id)} not found")
        return version

    def visible_version(self, user: User, artifact_id: int) -> Version | None:
        """The version if it exists, is not deleted and the user can see its project."""
        version = self.find_version(artifact_id)
        if version is None or version.state == "DELETED":
            return None
        project = self.version_project(version)
        return version if self.accounts.can_read(user, self.accounts.entity(project.entity_id)) else None

    def version_project(self, version: Version) -> Project:
        return self.accounts.project(self.collections.collection(version.sequence_id).project_id)

    def version_tags(self, artifact_id: int) -> list[Tag]:
        rows = self.db.all("SELECT id, name FROM artifact_tags WHERE artifact_id = ? ORDER BY name", (artifact_id,))
        return [Tag(id=r["id"], name=r["name"]) for r in rows]

    def files_of(self, artifact_id: int, names: list[str] | None = None) -> list[FileEntry]:
        files = self.db.find_all(
            FileEntry, "SELECT * FROM artifact_files WHERE artifact_id = ? ORDER BY name", (artifact_id,)
        )
        if names is not None:
            wanted = set(names)
            files = [f for f in files if f.name in wanted]
        return files

    def version_by_client_id(self, client_id: str) -> Version | None:
        """The version a client ID names, a live one first (a dropped upload may share the ID)."""
        return self.db.find(Version, "SELECT * FROM artifacts WHERE client_id = ? OR sequence_client_id = ? "
                            "ORDER BY state = 'DELETED', id LIMIT 1", (client_id, client_id))

    # --- blobs ----------------------------------------------------------------------------

    def entity_has_blob(self, entity_id: int, md5_hex: str) -> bool:
        """Whether a live version in one of the entity's collections has this file (or manifest).

        Guards the authenticated fallback download URLs: naming an entity one belongs to must not
        open every blob of the deployment.
        """
        row = self.db.one(
            "SELECT 1 FROM memberships m JOIN collections c ON c.id = m.collection_id "
            "JOIN projects p ON p.id = c.project_id JOIN artifacts a ON a.id = m.artifact_id "
            "WHERE p.entity_id = ? AND a.state != 'DELETED' AND (a.manifest_md5 = ? OR EXISTS "
            "(SELECT 1 FROM artifact_files f WHERE f.artifact_id = a.id AND f.md5 = ?)) LIMIT 1",
            (entity_id, md5_hex, hex_to_b64(md5_hex)),
        )
        return row is not None

    def referenced_blobs(self) -> set[str]:
        """Hex MD5 of every blob a version's file record or manifest names, whatever its state."""
        referenced = {str(row[0]) for row in self.db.all(
            "SELECT DISTINCT manifest_md5 FROM artifacts WHERE manifest_md5 IS NOT NULL")}
        for row in self.db.all("SELECT DISTINCT md5 FROM artifact_files WHERE md5 IS NOT NULL"):
            try:
                referenced.add(b64_to_hex(str(row[0])))
            except ValueError:
                continue  # not base64: it names no blob path
        return referenced

    # --- edits ----------------------------------------------------------------------------

    def update_version(self, user: User, artifact_id: int, changes: dict[str, Any]) -> Version:
        """``updateArtifact``: description, metadata, tags and TTL of one version."""
        version = self.live_version(artifact_id)
        self.accounts.require_write(user, self.version_project(version), "update artifacts")
        if "description" in changes and changes["description"] is not None:
            self.db.execute("UPDATE artifacts SET description = ? WHERE id = ?", (changes["description"], artifact_id))
        if changes.get("metadata") is not None:
            self.db.execute(
                "UPDATE artifacts SET metadata = ? WHERE id = ?", (parse_metadata(changes["metadata"]), artifact_id)
            )
        if changes.get("ttlDurationSeconds") is not None:
            self.db.execute(
                "UPDATE artifacts SET ttl_seconds = ? WHERE id = ?", (int(changes["ttlDurationSeconds"]), artifact_id)
            )
        for tag in changes.get("tagsToAdd") or []:
            self.db.execute(
                "INSERT OR IGNORE INTO artifact_tags (artifact_id, name) VALUES (?, ?)",
                (artifact_id, check_tag(tag["tagName"])),
            )
        for tag in changes.get("tagsToDelete") or []:
            self.db.execute(
                "DELETE FROM artifact_tags WHERE artifact_id = ? AND name = ?", (artifact_id, tag["tagName"])
            )
        self.db.execute("UPDATE artifacts SET updated_at = ? WHERE id = ?", (now(), artifact_id))
        return self.live_version(artifact_id)

    def change_aliases(
        self, user: User, artifact_id: int, targets: list[dict[str, str]], add: bool
    ) -> None:
        """Add (or remove) aliases given as ``ArtifactCollectionAliasInput`` dicts on one version."""
        version = self.live_version(artifact_id)
        for target in targets:
            alias = check_alias(target["alias"])
            project = self.accounts.get_project(user, target["entityName"], target["projectName"])
            collection = self.collections.collection_by_name(
                project.id, check_name("collection", target["artifactCollectionName"])
            )
            if collection is None:
                raise NotFound(
                    f"artifact collection {target['artifactCollectionName']!r} not found in "
                    f"{project.entity_name}/{project.name}"
                )
            if self.memberships.membership(collection.id, version.id) is None:
                raise NotFound(
                    f"artifact {artifact_id} is not a member of {project.entity_name}/{project.name}/"
                    f"{collection.name}; aliases apply to the collection the version belongs to"
                )
            self.aliases.check_change(user, collection, alias)
            if add:
                if version.state != "COMMITTED":
                    raise InvalidInput(
                        f"artifact {artifact_id} is {version.state}; only committed versions take aliases"
                    )
                self.aliases.assign(collection, alias, version.id)
            else:
                self.db.execute(
                    "DELETE FROM aliases WHERE collection_id = ? AND alias = ? AND artifact_id = ?",
                    (collection.id, alias, version.id),
                )

    def delete_version(self, user: User, artifact_id: int, delete_aliases: bool) -> Version:
        """``deleteArtifact``: soft delete; a version holding aliases needs ``deleteAliases: true``."""
        version = self.live_version(artifact_id)
        self.accounts.require_write(user, self.version_project(version), "delete artifacts")
        held = self.aliases.all_aliases_of(artifact_id)
        for alias in held:
            collection = self.collections.collection(alias.collection_id)
            project = self.accounts.project(collection.project_id)
            if (collection.kind == "PORTFOLIO" and project.is_registry
                    and alias.alias in self.accounts.protected_aliases(project.id)):
                # W&B docs (registry/aliases): a source artifact linked
                # into a registry with a protected alias cannot be deleted by anyone, admins included.
                where = f"{project.entity_name}/{project.name}/{collection.name}"
                raise PermissionDenied(
                    f"cannot delete artifact {ids.encode('Artifact', artifact_id)}: it holds the protected "
                    f"alias {alias.alias!r} in registry {where}; a registry admin must remove that alias "
                    "(or unlink the version) first"
                )
            self.aliases.refuse_protected(user, project, [alias.alias], "delete this version")
        if held and not delete_aliases:
            names = sorted({a.alias for a in held})
            raise Conflict(
                f"cannot delete artifact {ids.encode('Artifact', artifact_id)}: it still has aliases {names}; "
                "remove them first or delete with deleteAliases: true"
            )
        self.memberships.retire(artifact_id)
        return self.find_version(artifact_id)  # type: ignore[return-value]
