"""One-pass hashing helpers: W&B's base64 MD5 (or XXH128) of files and streams."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from typing import Any

import xxhash

CHUNK = 1 << 20


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def new_hasher(algorithm: str) -> Any:
    """A hasher for entry digests: MD5, or XXH128 for entries that say so (``extra.alg``)."""
    if algorithm == "md5":
        return hashlib.md5()
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
