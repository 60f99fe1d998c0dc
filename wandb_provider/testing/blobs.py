"""Content-addressed file storage: every stored file is kept once, under its MD5.

Writes go to a temporary file in the same folder and are renamed into place only once their MD5
is known, so a reader never sees a partial blob.
"""

from __future__ import annotations

import base64
import hashlib
import os
import tempfile
from pathlib import Path
from typing import BinaryIO


def b64_to_hex(digest_b64: str) -> str:
    """Convert W&B's base64 MD5 to the hex form used in paths."""
    return base64.b64decode(digest_b64).hex()


def hex_to_b64(digest_hex: str) -> str:
    """Convert a hex MD5 to W&B's base64 form."""
    return base64.b64encode(bytes.fromhex(digest_hex)).decode("ascii")


class BlobStore:
    """Files on disk keyed by the hex MD5 of their bytes."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, md5_hex: str) -> Path:
        return self.root / md5_hex[:2] / md5_hex

    def has(self, md5_hex: str) -> bool:
        return self.path(md5_hex).is_file()

    def size(self, md5_hex: str) -> int:
        return self.path(md5_hex).stat().st_size

    def put_bytes(self, data: bytes) -> str:
        """Store ``data`` and return its hex MD5."""
        writer = self.writer()
        writer.write(data)
        return writer.commit()

    def writer(self) -> BlobWriter:
        """Start a streaming write; call ``commit()`` (or ``abort()``) when done."""
        return BlobWriter(self)


class BlobWriter:
    """One streaming write into a BlobStore, hashed as it goes."""

    def __init__(self, store: BlobStore) -> None:
        self._store = store
        fd, name = tempfile.mkstemp(dir=store.root, prefix=".upload-")
        self._file: BinaryIO = os.fdopen(fd, "wb")
        self._tmp = Path(name)
        self._md5 = hashlib.md5()
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self._md5.update(chunk)
        self._file.write(chunk)
        self.size += len(chunk)

    @property
    def md5_b64(self) -> str:
        return base64.b64encode(self._md5.digest()).decode("ascii")

    def commit(self) -> str:
        """Publish the blob under its MD5 and return the hex digest."""
        self._file.close()
        md5_hex = self._md5.hexdigest()
        target = self._store.path(md5_hex)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self._tmp, target)
        return md5_hex

    def abort(self) -> None:
        self._file.close()
        self._tmp.unlink(missing_ok=True)
