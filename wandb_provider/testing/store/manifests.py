"""Manifest parsing and the digests W&B derives from it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import xxhash

from ..errors import InvalidInput

MANIFEST_HEADER = b"wandb-artifact-manifest-v1\n"


@dataclass(frozen=True)
class Entry:
    path: str
    digest: str
    size: int
    ref: str | None
    birth_artifact_id: str | None
    alg: str | None  # "XXH128" when the entry digest is XXH128, else MD5
    extra: dict[str, Any] | None = None  # e.g. {"etag": ...} of an http reference


def parse_manifest(data: bytes) -> list[Entry]:
    """Parse a manifest file; unknown keys are ignored, as the SDK's readers do."""
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise InvalidInput(f"invalid manifest: not JSON ({exc})") from None
    if not isinstance(doc, dict) or "version" not in doc:
        raise InvalidInput("Invalid manifest format. Must contain version field.")
    if doc["version"] != 1:
        raise InvalidInput("Invalid manifest version.")
    contents = doc.get("contents")
    if not isinstance(contents, dict):
        raise InvalidInput("invalid manifest: 'contents' must be an object")
    entries = []
    for path, raw in contents.items():
        if not isinstance(raw, dict) or not isinstance(raw.get("digest"), str):
            raise InvalidInput(f"invalid manifest entry {path!r}: it needs a string 'digest'")
        extra: Any = raw.get("extra") or {}
        entries.append(
            Entry(
                path=path,
                digest=raw["digest"],
                size=int(raw.get("size") or 0),
                ref=raw.get("ref"),
                birth_artifact_id=raw.get("birthArtifactID"),
                alg=extra.get("alg") if isinstance(extra, dict) else None,
            )
        )
    return entries


def artifact_digest(entries: list[Entry], algorithm: str = "MANIFEST_MD5") -> str | None:
    """The artifact digest: hex hash over sorted ``path:digest`` lines (None if unsupported here)."""
    if algorithm == "MANIFEST_XXH128":
        hasher: Any = xxhash.xxh3_128()
    else:
        hasher = hashlib.md5()
    hasher.update(MANIFEST_HEADER)
    for entry in sorted(entries, key=lambda e: e.path):
        hasher.update(f"{entry.path}:{entry.digest}\n".encode())
    return str(hasher.hexdigest())


def build_manifest(entries: list[Entry]) -> bytes:
    """Serialise entries as W&B's Go uploader does (key order and compact JSON, §8)."""
    contents: dict[str, dict[str, Any]] = {}
    for entry in sorted(entries, key=lambda e: e.path):
        item: dict[str, Any] = {"digest": entry.digest}
        if entry.ref is not None:
            item["ref"] = entry.ref
        item["size"] = entry.size
        if entry.birth_artifact_id is not None:
            item["birthArtifactID"] = entry.birth_artifact_id
        if entry.extra:
            item["extra"] = entry.extra
        contents[entry.path] = item
    doc = {
        "version": 1,
        "storagePolicy": "wandb-storage-policy-v1",
        "storagePolicyConfig": {"storageLayout": "V2"},
        "contents": contents,
    }
    return json.dumps(doc, separators=(",", ":")).encode()
