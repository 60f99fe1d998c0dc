"""The emulator's state and W&B's rules, persisted in SQLite plus a blob folder. Never sees HTTP."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import ids
from ..blobs import BlobStore, hex_to_b64
from ..multipart import MultipartUploads
from ._db import Database
from .manifests import Entry, artifact_digest, build_manifest
from .records import User, Version
from .runs import RunsMixin

__all__ = ["SeedFile", "Store"]


@dataclass(frozen=True)
class SeedFile:
    """One file of a seeded artifact: bytes to store, or a reference URI with its digest."""

    path: str
    data: bytes | None = None
    ref: str | None = None
    digest: str | None = None
    size: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Store(RunsMixin):
    """All state of one emulated W&B deployment."""

    def __init__(self, db_path: str, blob_root: Path) -> None:
        self.db = Database(db_path)
        self.blobs = BlobStore(blob_root)
        self.multipart = MultipartUploads(self.blobs)

    def close(self) -> None:
        self.db.close()

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

    def seed_artifact(
        self,
        user: User,
        entity: str,
        project: str,
        name: str,
        type_name: str,
        files: list[SeedFile],
        *,
        aliases: list[str] = (),  # type: ignore[assignment]
        metadata: dict[str, Any] | None = None,
        description: str | None = None,
        run: str | None = None,
    ) -> Version:
        """Log a version directly into the store, as ``run.log_artifact`` would end up storing it
        (by the run named ``run`` of the project, when given)."""
        import json

        with self.db.transaction():
            entries = []
            for item in files:
                if item.data is not None:
                    md5_hex = self.blobs.put_bytes(item.data)
                    entries.append(Entry(item.path, hex_to_b64(md5_hex), len(item.data), None, None, None))
                else:
                    assert item.ref is not None
                    digest = item.digest or base64.b64encode(hashlib.md5(item.ref.encode()).digest()).decode()
                    entries.append(Entry(item.path, digest, item.size or 0, item.ref, None, None, item.extra or None))
            spec = {
                "entityName": entity, "projectName": project, "artifactCollectionName": name,
                "artifactTypeName": type_name, "digest": artifact_digest(entries),
                "digestAlgorithm": "MANIFEST_MD5", "enableDigestDeduplication": True,
                "aliases": [{"alias": a, "artifactCollectionName": name} for a in [*aliases, "latest"]],
                "metadata": json.dumps(metadata) if metadata is not None else None,
                "description": description,
                **({"runName": run} if run else {}),
            }
            version = self.create_artifact(user, spec)
            if version.state == "COMMITTED":
                return version
            birth = ids.encode("Artifact", version.id)
            stored = [Entry(e.path, e.digest, e.size, e.ref, None if e.ref else birth, None, e.extra)
                      for e in entries]
            self.create_files(user, [
                {"artifactID": birth, "name": e.path, "md5": e.digest} for e in stored if e.ref is None
            ])
            manifest = build_manifest(stored)
            manifest_hex = self.blobs.put_bytes(manifest)
            self.upsert_manifest(user, version.id, hex_to_b64(manifest_hex), "FULL")
            self.store_manifest_upload(version.id, manifest_hex, hex_to_b64(manifest_hex))
            return self.commit(user, version.id)
