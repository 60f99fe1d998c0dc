"""Logging an artifact version: create, manifest, files, commit; and dropping abandoned uploads.

Logging follows wandb 0.31's upload sequence: ``createArtifact`` (PENDING, or the existing version when
the digest is already in the sequence), ``createArtifactManifest`` twice (an upsert),
``createArtifactFiles`` (upload URLs only for content the server lacks), PUTs, then
``commitArtifact``, which checks the manifest against the stored files and the artifact digest.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from .. import ids
from ..blobs import BlobStore, b64_to_hex, hex_to_b64
from ..errors import Conflict, InvalidInput, NotFound
from ..multipart import MultipartUploads, check_parts
from ._db import Database
from ._util import check_alias, check_name, check_tag, dumps, now, parse_metadata, seconds_ago
from .accounts import Accounts
from .aliases import Aliases
from .collections import Collections
from .manifests import artifact_digest, parse_manifest
from .memberships import Memberships
from .records import FileEntry, User, Version
from .versions import Versions


@dataclass(frozen=True)
class FileSlot:
    """The answer to one ``createArtifactFiles`` spec: where to PUT, or nothing when stored already."""

    file: FileEntry
    needs_upload: bool
    parts: dict[int, str] | None = None  # a multipart upload: part number -> hex MD5


class Uploads:
    """The store's part for the logging sequence of a version, from PENDING to COMMITTED."""

    def __init__(self, db: Database, blobs: BlobStore, multipart: MultipartUploads, accounts: Accounts,
                 collections: Collections, aliases: Aliases, memberships: Memberships, versions: Versions) -> None:
        self.db = db
        self.blobs = blobs
        self.multipart = multipart
        self.accounts = accounts
        self.collections = collections
        self.aliases = aliases
        self.memberships = memberships
        self.versions = versions

    def create_artifact(self, user: User, spec: dict[str, Any]) -> Version:
        """``createArtifact``: a PENDING version, or the existing one with the same digest."""
        project = self.accounts.ensure_project(user, spec["entityName"], spec["projectName"])
        names = spec.get("artifactCollectionNames") or [spec.get("artifactCollectionName")]
        name = check_name("artifact", names[0] if names else None)
        type_name = check_name("artifact type", spec["artifactTypeName"])
        aliases = [check_alias(a["alias"]) if a["alias"] != "latest" else "latest" for a in spec.get("aliases") or []]
        metadata = parse_metadata(spec.get("metadata"))
        tags = [check_tag(t["tagName"]) for t in spec.get("tags") or []]
        # W&B docs (registry access controls): non-admins are blocked from adding protected aliases,
        # however they would add them; logging a version with one is adding it.
        self.aliases.refuse_protected_aliases(user, project, [a for a in aliases if a != "latest"])
        client_id = spec.get("clientID")
        if client_id:
            retried = self.versions.version_by_client_id(client_id)
            if retried is not None and retried.state != "DELETED":
                return retried  # the same request again (a client retry): no second version
        sequence = self.collections.collection_by_name(project.id, name)
        if sequence is None:
            artifact_type = self.collections.ensure_type(project.id, type_name)
            sequence = self.collections.insert(project, artifact_type.id, name, "SEQUENCE")
            self.db.execute(
                "UPDATE collections SET digest_algorithm = ? WHERE id = ?",
                (spec.get("digestAlgorithm") or "MANIFEST_MD5", sequence.id),
            )
        else:
            existing_type = self.collections.artifact_type(sequence.type_id).name
            if sequence.kind != "SEQUENCE":
                raise InvalidInput(
                    f"{name!r} is a link collection (portfolio) in {project.entity_name}/{project.name}; "
                    "log the artifact under another name and link it instead"
                )
            if existing_type != type_name:
                raise InvalidInput(
                    f"Artifact {name} already exists with type '{existing_type}'; cannot create another "
                    f"with type '{type_name}'"
                )
        run_id = None
        if spec.get("runName"):
            run_id = self.db.scalar(
                "SELECT id FROM runs WHERE project_id = ? AND name = ?", (project.id, spec["runName"])
            )
        if spec.get("enableDigestDeduplication"):
            existing = self.db.find(
                Version,
                "SELECT * FROM artifacts WHERE sequence_id = ? AND digest = ? AND state = 'COMMITTED' "
                "ORDER BY version_index DESC LIMIT 1",
                (sequence.id, spec["digest"]),
            )
            if existing is not None:
                # Same content already logged: no new version; the requested aliases other than
                # `latest` go on the existing version (latest stays on the newest version).
                for alias in aliases:
                    if alias != "latest":
                        self.aliases.assign(sequence, alias, existing.id)
                if run_id is not None and run_id != existing.run_id:
                    # The run declared the existing version as its output (the public API's
                    # ``Run.log_artifact``): it is listed in
                    # ``outputArtifacts``; ``createdBy`` stays the run that first logged it.
                    self.db.execute(
                        "INSERT OR IGNORE INTO run_outputs (run_id, artifact_id) VALUES (?, ?)",
                        (run_id, existing.id),
                    )
                return existing
        stamp = now()
        index = self.collections.take_index(sequence)
        artifact_id = self.db.execute(
            "INSERT INTO artifacts (sequence_id, version_index, digest, digest_algorithm, state, description, "
            "metadata, ttl_seconds, history_step, storage_region, pending_aliases, client_id, "
            "sequence_client_id, run_id, user_id, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, 'PENDING', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                sequence.id, index, spec["digest"], spec.get("digestAlgorithm") or "MANIFEST_MD5",
                spec.get("description"), metadata,
                spec["ttlDurationSeconds"] if spec.get("ttlDurationSeconds") is not None else -1,
                spec.get("historyStep"), spec.get("storageRegion"), dumps(aliases), client_id,
                spec.get("sequenceClientID"), run_id, user.id, stamp, stamp,
            ),
        )
        for tag in tags:
            self.db.execute("INSERT OR IGNORE INTO artifact_tags (artifact_id, name) VALUES (?, ?)", (artifact_id, tag))
        self.memberships.add(sequence, artifact_id, index, stamp)
        return self.versions.live_version(artifact_id)

    def _pending(self, user: User, artifact_id: int) -> Version:
        version = self.versions.live_version(artifact_id)
        self.accounts.require_write(user, self.versions.version_project(version), "log artifacts")
        if version.state != "PENDING":
            raise Conflict(f"artifact {ids.encode('Artifact', artifact_id)} is already {version.state}")
        return version

    def upsert_manifest(self, user: User, artifact_id: int, digest: str | None, manifest_type: str | None) -> Version:
        """``createArtifactManifest`` / ``updateArtifactManifest``: one manifest per version, upserted."""
        version = self.versions.live_version(artifact_id)
        self.accounts.require_write(user, self.versions.version_project(version), "log artifacts")
        self.db.execute(
            "UPDATE artifacts SET manifest_expected = ?, manifest_type = ?, updated_at = ? WHERE id = ?",
            (digest or None, manifest_type or version.manifest_type, now(), artifact_id),
        )
        return self.versions.live_version(artifact_id)

    def create_files(self, user: User, specs: list[dict[str, Any]]) -> list[FileSlot]:
        """``createArtifactFiles``: one slot per spec, in request order."""
        slots = []
        checked: set[int] = set()  # versions found PENDING and writable in this request (a batch names one)
        for spec in specs:
            artifact_id = ids.decode(spec["artifactID"], "Artifact")
            if artifact_id is None:
                raise NotFound(f"artifact {spec['artifactID']!r} not found")
            if artifact_id not in checked:
                self._pending(user, artifact_id)
                checked.add(artifact_id)
            md5 = spec.get("md5") or ""
            # A multipart upload names its parts' MD5s (and, from wandb 0.31, the file's MD5 too).
            parts = check_parts(spec["name"], spec["uploadPartsInput"]) if spec.get("uploadPartsInput") else None
            if not md5:
                # Without the file's MD5 the server knows it only if the spec's digest names it,
                # else once the parts are joined.
                if parts is None:
                    raise InvalidInput(f"file {spec['name']!r}: md5 is empty and no uploadPartsInput is given")
                digest = spec.get("digest") or ""
                md5 = digest if digest and _is_md5_b64(digest) and self.blobs.has(b64_to_hex(digest)) else ""
            try:
                md5_hex = b64_to_hex(md5)
            except ValueError:
                raise InvalidInput(f"file {spec['name']!r}: md5 {md5!r} is not base64") from None
            stored = bool(md5_hex) and self.blobs.has(md5_hex)
            birth = artifact_id
            if stored:
                # The first live version that stored this content; a deleted one (say an upload
                # dropped as abandoned) is no birth artifact for a new version.
                first = self.db.scalar(
                    "SELECT f.birth_artifact_id FROM artifact_files f JOIN artifacts a ON a.id = f.birth_artifact_id "
                    "WHERE f.md5 = ? AND a.state != 'DELETED' ORDER BY f.id LIMIT 1",
                    (md5,),
                )
                birth = first or artifact_id
            size = self.blobs.size(md5_hex) if stored else 0
            self.db.execute(
                "INSERT INTO artifact_files (artifact_id, name, md5, digest, size, birth_artifact_id) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (artifact_id, name) DO UPDATE SET md5 = excluded.md5, "
                "digest = excluded.digest, birth_artifact_id = excluded.birth_artifact_id",
                (artifact_id, spec["name"], md5, spec.get("digest") or md5, size, birth),
            )
            file = self.db.get(FileEntry, "SELECT * FROM artifact_files WHERE artifact_id = ? AND name = ?",
                               (artifact_id, spec["name"]))
            slots.append(FileSlot(file=file, needs_upload=not stored, parts=None if stored else parts))
        return slots

    def complete_multipart(self, user: User, artifact_id: int, storage_path: str, upload_id: str,
                           completed: list[dict[str, Any]]) -> str:
        """``completeMultipartUploadArtifact``: join the parts; the file record gets its MD5 (base64)."""
        self._pending(user, artifact_id)
        upload = self.multipart.get(upload_id)
        md5_hex, size = self.multipart.complete(upload_id, artifact_id, storage_path, completed)
        md5 = hex_to_b64(md5_hex)
        row = self.db.one("SELECT * FROM artifact_files WHERE artifact_id = ? AND name = ?",
                          (artifact_id, upload.name))
        if row is None:
            raise NotFound(f"file {upload.name!r} is not part of artifact {ids.encode('Artifact', artifact_id)}")
        # The MD5 the file was declared with (its md5, or an MD5 version's digest; an XXH128 digest is no MD5).
        md5_version = self.versions.live_version(artifact_id).digest_algorithm != "MANIFEST_XXH128"
        declared = row["md5"] or (row["digest"] if md5_version and _is_md5_b64(row["digest"] or "") else "")
        if declared and declared != md5:
            raise InvalidInput(f"file {upload.name!r}: the joined parts have MD5 {md5}, declared {declared}")
        self.db.execute("UPDATE artifact_files SET md5 = ?, digest = ?, size = ? WHERE id = ?",
                        (md5, row["digest"] or md5, size, row["id"]))
        return md5

    def store_manifest_upload(self, artifact_id: int, md5_hex: str, md5_b64: str) -> None:
        version = self.versions.find_version(artifact_id)
        if version is None or version.state != "PENDING":
            raise NotFound(f"no pending artifact {artifact_id} expects a manifest upload")
        if version.manifest_expected and version.manifest_expected != md5_b64:
            raise InvalidInput(
                f"manifest upload has MD5 {md5_b64}, but createArtifactManifest declared {version.manifest_expected}"
            )
        self.db.execute("UPDATE artifacts SET manifest_md5 = ? WHERE id = ?", (md5_hex, artifact_id))

    def commit(self, user: User, artifact_id: int) -> Version:
        """``commitArtifact``: verify manifest and files, then publish the version and its aliases."""
        version = self.versions.live_version(artifact_id)
        if version.state == "COMMITTED":
            return version  # a retried commit
        self._pending(user, artifact_id)
        if not version.manifest_md5 or not self.blobs.has(version.manifest_md5):
            raise InvalidInput(f"artifact {ids.encode('Artifact', artifact_id)} has no uploaded manifest; "
                               "upload wandb_manifest.json before committing")
        entries = parse_manifest(self.blobs.path(version.manifest_md5).read_bytes())
        expected = artifact_digest(entries, version.digest_algorithm)
        if expected is not None and expected != version.digest:
            raise InvalidInput(
                f"artifact digest {version.digest} does not match its manifest (computed {expected})"
            )
        declared = {f.name: f for f in self.versions.files_of(artifact_id)}
        self.db.execute("DELETE FROM artifact_files WHERE artifact_id = ?", (artifact_id,))
        for entry in entries:
            md5 = None
            birth: int | None = None
            if entry.ref is None:
                slot = declared.get(entry.path)
                md5 = slot.md5 if slot else (entry.digest if entry.alg is None else None)
                if md5 is None or not self.blobs.has(b64_to_hex(md5)):
                    raise InvalidInput(f"file {entry.path!r} of the manifest was never uploaded")
                birth = slot.birth_artifact_id if slot else ids.decode(entry.birth_artifact_id or "", "Artifact")
            self.db.execute(
                "INSERT INTO artifact_files (artifact_id, name, md5, digest, size, ref, birth_artifact_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (artifact_id, entry.path, md5, entry.digest, entry.size, entry.ref, birth or artifact_id),
            )
        self.db.execute(
            "UPDATE artifacts SET state = 'COMMITTED', size = ?, file_count = ?, updated_at = ? WHERE id = ?",
            (sum(e.size for e in entries), len(entries), now(), artifact_id),
        )
        sequence = self.collections.collection(version.sequence_id)
        for alias in json.loads(version.pending_aliases):
            if alias != "latest":
                self.aliases.assign(sequence, alias, artifact_id)
        self.aliases.repoint_latest(sequence)
        return self.versions.live_version(artifact_id)

    # --- abandoned uploads ------------------------------------------------------------------

    def expire_pending(self, idle_seconds: float | None = None, keep: Collection[int] = ()) -> list[int]:
        """Drop PENDING versions whose upload was abandoned; return their ids.

        Abandoned: no GraphQL write to the version for ``idle_seconds`` (None: every PENDING
        version, as at start-up, when no writer of the previous process can still be alive), and
        not in ``keep`` (versions with recent uploads). They become DELETED, a state of W&B's
        ``ArtifactState``: the SDK's ``wait()`` stops, and a re-run of the same upload creates a
        version that commits normally.
        """
        sql = "SELECT id FROM artifacts WHERE state = 'PENDING'"
        params: list[Any] = []
        if idle_seconds is not None:
            sql += " AND updated_at < ?"
            params.append(seconds_ago(idle_seconds))
        dropped = [int(row["id"]) for row in self.db.all(sql, params) if int(row["id"]) not in keep]
        for artifact_id in dropped:
            self.memberships.retire(artifact_id)
        return dropped


def _is_md5_b64(value: str) -> bool:
    try:
        return len(base64.b64decode(value, validate=True)) == 16
    except ValueError:
        return False
