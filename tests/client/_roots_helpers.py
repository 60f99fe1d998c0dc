"""Shared helpers of the download tests: listing a root exactly, crafting manifests on the local server."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

LEDGER = ".wandb-provider"


def listing(root: Path) -> dict[str, str | bytes]:
    """Everything under ``root`` (links not followed): files with their bytes, folders as "<dir>",
    links as "-> target". The provider's ledger folder included, unless absent."""
    found: dict[str, str | bytes] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder, name)
            rel = path.relative_to(root).as_posix()
            if path.is_symlink():
                found[rel] = "-> " + os.readlink(path)
            elif path.is_dir():
                found[rel] = "<dir>"
            elif path.is_file():
                found[rel] = path.read_bytes()
            else:
                found[rel] = "<special>"
        dirs[:] = [d for d in dirs if not Path(folder, d).is_symlink()]
    return found


def user_view(root: Path) -> dict[str, str | bytes]:
    """``listing`` without the provider's ledger folder."""
    return {rel: value for rel, value in listing(root).items() if rel.split("/", 1)[0] != LEDGER}


def put_manifest(server: Any, version: Any, data: bytes | dict[str, Any], *, digest: str | None = None) -> None:
    """Replace a seeded version's stored manifest (and, when given, its digest) on the local server."""
    if isinstance(data, dict):
        data = json.dumps(data).encode()
    md5_hex = server.store.blobs.put_bytes(data)
    server.store.db.execute("UPDATE artifacts SET manifest_md5 = ? WHERE id = ?", (md5_hex, version.id))
    if digest is not None:
        server.store.db.execute("UPDATE artifacts SET digest = ? WHERE id = ?", (digest, version.id))


def manifest_doc(contents: dict[str, Any]) -> dict[str, Any]:
    return {"version": 1, "storagePolicy": "wandb-storage-policy-v1",
            "storagePolicyConfig": {"storageLayout": "V2"}, "contents": contents}
