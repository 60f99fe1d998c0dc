"""Seeding: versions logged straight into the store (the demo data, fixtures, benchmarks), no HTTP."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from .. import ids
from ..blobs import BlobStore, hex_to_b64
from ._db import Database
from .manifests import Entry, artifact_digest, build_manifest
from .records import User, Version
from .uploads import Uploads


@dataclass(frozen=True)
class SeedFile:
    """One file of a seeded artifact: bytes to store, or a reference URI with its digest."""

    path: str
    data: bytes | None = None
    ref: str | None = None
    digest: str | None = None
    size: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Seeder:
    """The store's part that logs versions directly, through the same steps as a client's upload."""

    def __init__(self, db: Database, blobs: BlobStore, uploads: Uploads) -> None:
        self.db = db
        self.blobs = blobs
        self.uploads = uploads

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
        uploads = self.uploads
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
            version = uploads.create_artifact(user, spec)
            if version.state == "COMMITTED":
                return version
            birth = ids.encode("Artifact", version.id)
            stored = [Entry(e.path, e.digest, e.size, e.ref, None if e.ref else birth, None, e.extra)
                      for e in entries]
            uploads.create_files(user, [
                {"artifactID": birth, "name": e.path, "md5": e.digest} for e in stored if e.ref is None
            ])
            manifest = build_manifest(stored)
            manifest_hex = self.blobs.put_bytes(manifest)
            uploads.upsert_manifest(user, version.id, hex_to_b64(manifest_hex), "FULL")
            uploads.store_manifest_upload(version.id, manifest_hex, hex_to_b64(manifest_hex))
            return uploads.commit(user, version.id)
