"""One-pass hashing helpers: W&B's base64 MD5 (or XXH128) of files and streams."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from typing import Any

CHUNK = 1 << 20


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def new_hasher(algorithm: str) -> Any:
    """A hasher for entry digests: MD5, or XXH128 for entries that say so (needs ``xxhash``)."""
    if algorithm == "md5":
        return hashlib.md5()
    try:
        import xxhash  # type: ignore[import-not-found]
    except ImportError as exc:  # pragma: no cover - depends on the environment
        from .errors import ArtifactIntegrityError

        raise ArtifactIntegrityError(
            "cannot verify an XXH128 manifest entry without the xxhash package.",
            hint="pip install xxhash to verify XXH128 artifacts.",
        ) from exc
    return xxhash.xxh3_128()


def file_digest(path: str | Path, algorithm: str) -> str:
    """The W&B entry digest of a local file, read in 1 MiB chunks (bounded memory).

    A symbolic link is not followed (``OSError``): the digest is always of the file itself.
    """
    hasher = new_hasher(algorithm)
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    with open(fd, "rb") as fh:
        while chunk := fh.read(CHUNK):
            hasher.update(chunk)
    return b64(hasher.digest())
