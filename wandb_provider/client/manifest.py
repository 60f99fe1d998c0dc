"""Artifact manifests (wandb-protocol.md §8): entries, digests and the safe-path check.

Every entry path is checked when the manifest is parsed, so an unsafe manifest is refused before
anything is written anywhere.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from .errors import BadRequestError, UnsafePathError


def check_entry_path(path: str) -> str:
    """Refuse absolute paths, ``..``, backslashes and NUL: such an entry could write outside the root."""
    problem = None
    if not path:
        problem = "it is empty"
    elif "\x00" in path:
        problem = "it contains NUL"
    elif "\\" in path:
        problem = "it contains a backslash"
    elif path.startswith("/") or (len(path) > 1 and path[1] == ":"):
        problem = "it is absolute"
    elif ".." in PurePosixPath(path).parts:
        problem = "it contains '..'"
    if problem:
        raise UnsafePathError(
            f"refusing manifest entry {path!r}: {problem}, so it could be written outside the download root.",
            hint="The artifact's manifest is malformed; re-log it with relative paths.",
        )
    return path


@dataclass(frozen=True)
class ManifestEntry:
    """One file of a version: stored bytes (``ref`` None) or a reference."""

    path: str
    digest: str
    size: int | None = None
    ref: str | None = None
    birth_artifact_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, hash=False)

    @property
    def algorithm(self) -> str:
        """``md5`` unless the entry says ``extra.alg == "XXH128"``."""
        return "xxh128" if self.extra.get("alg") == "XXH128" else "md5"

    @property
    def md5_hex(self) -> str | None:
        """Hex MD5 of a stored MD5 entry (cache key and URL form), else None."""
        if self.ref is not None or self.algorithm != "md5":
            return None
        try:
            raw = base64.b64decode(self.digest, validate=True)
        except ValueError:
            return None
        return raw.hex() if len(raw) == 16 else None


@dataclass(frozen=True)
class Manifest:
    entries: dict[str, ManifestEntry]
    storage_layout: str | None = None

    @classmethod
    def from_json(cls, data: bytes | str) -> Manifest:
        try:
            doc = json.loads(data)
        except ValueError as exc:
            raise BadRequestError(f"the artifact manifest is not JSON ({exc}).") from None
        if not isinstance(doc, dict) or doc.get("version") != 1 or not isinstance(doc.get("contents"), dict):
            raise BadRequestError("the artifact manifest is not a version-1 W&B manifest.")
        entries = {}
        for path, raw in doc["contents"].items():
            check_entry_path(path)
            if not isinstance(raw, dict) or not isinstance(raw.get("digest"), str):
                raise BadRequestError(f"manifest entry {path!r} has no digest.")
            size = raw.get("size")
            entries[path] = ManifestEntry(
                path=path,
                digest=raw["digest"],
                size=int(size) if size is not None else None,
                ref=raw.get("ref"),
                birth_artifact_id=raw.get("birthArtifactID"),
                extra=dict(raw["extra"]) if isinstance(raw.get("extra"), dict) else {},
            )
        config = doc.get("storagePolicyConfig") or {}
        return cls(entries=entries, storage_layout=config.get("storageLayout") if isinstance(config, dict) else None)

    def __iter__(self) -> Iterator[ManifestEntry]:
        return iter(self.entries[path] for path in sorted(self.entries))

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def total_size(self) -> int:
        return sum(entry.size or 0 for entry in self.entries.values())
