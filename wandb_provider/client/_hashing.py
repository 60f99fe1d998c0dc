"""One-pass hashing helpers: W&B's base64 MD5 (or XXH128) of files and streams."""

from __future__ import annotations

import base64
import hashlib
import os
import queue
import threading
from pathlib import Path
from typing import Any

import xxhash

CHUNK = 1 << 20
HASH_BEHIND_FROM = 8 << 20  # bytes: below this a helper thread costs more than it saves


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


class HashBehind:
    """A stream's digest, for a big MD5 stream on a helper thread a few chunks behind the thread that
    receives and writes it.

    MD5 runs at ~600 MB/s on one core, about the speed of receiving and writing the same bytes, so
    one big download on one thread is bound by their sum; with the hash behind it uses two cores.
    ``hashlib`` drops the GIL while it hashes a chunk. A stream of unknown size, under
    ``HASH_BEHIND_FROM`` or of XXH128 (fast anyway) is hashed inline, as it is when no thread can be
    started. At most ``depth`` chunks wait (bounded memory). Use it as a context manager: leaving
    stops the thread whether or not the stream ended.
    """

    def __init__(self, algorithm: str, expected_size: int | None, depth: int = 8) -> None:
        self._hasher = new_hasher(algorithm)
        self._chunks: queue.Queue[bytes | None] = queue.Queue(maxsize=depth)
        self._thread: threading.Thread | None = None
        if algorithm == "md5" and expected_size is not None and expected_size >= HASH_BEHIND_FROM:
            self._thread = threading.Thread(target=self._run, name="wandb-hash-behind", daemon=True)
            try:
                self._thread.start()
            except RuntimeError:  # no thread to be had (a process at its limit): hash inline instead
                self._thread = None

    def _run(self) -> None:
        while (chunk := self._chunks.get()) is not None:
            self._hasher.update(chunk)

    def update(self, chunk: bytes) -> None:
        if self._thread is None:
            self._hasher.update(chunk)
        else:
            self._chunks.put(chunk)

    def digest(self) -> bytes:
        """The digest of every chunk given (waits for the thread to hash the last ones)."""
        self.close()
        return bytes(self._hasher.digest())

    def close(self) -> None:
        if self._thread is not None:
            self._chunks.put(None)
            self._thread.join()
            self._thread = None

    def __enter__(self) -> HashBehind:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
