"""One-pass hashing helpers: W&B's base64 MD5 of files and streams."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

CHUNK = 1 << 20


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def file_md5_b64(path: Path) -> str:
    """Base64 MD5 of a file, read in 1 MiB chunks (bounded memory)."""
    md5 = hashlib.md5()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            md5.update(chunk)
    return b64(md5.digest())


def file_digest(path: Path, algorithm: str) -> str:
    """The W&B entry digest of a local file: base64 MD5, or base64 XXH128 (needs ``xxhash``)."""
    if algorithm == "md5":
        return file_md5_b64(path)
    try:
        import xxhash  # type: ignore[import-not-found]
    except ImportError as exc:  # pragma: no cover - depends on the environment
        from .errors import ArtifactIntegrityError

        raise ArtifactIntegrityError(
            f"cannot verify {path.name}: its manifest entry uses XXH128.",
            hint="pip install xxhash to verify XXH128 artifacts.",
        ) from exc
    hasher = xxhash.xxh3_128()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            hasher.update(chunk)
    return b64(hasher.digest())
