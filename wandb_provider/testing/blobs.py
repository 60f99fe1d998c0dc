"""Content-addressed file storage: every stored file is kept once, under its MD5.

Writes go to a temporary file in the same folder and are renamed into place only once their MD5
is known, so a reader never sees a partial blob. A write cut short (the process killed mid-upload)
leaves only such a temporary file, which ``remove_temp_files`` clears at the next start.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import os
import queue
import re
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path

TEMP_PREFIX = ".upload-"
HASH_APART_FROM = 8 << 20  # bytes: a body this large is hashed on a helper thread as it arrives
_MD5_HEX = re.compile(r"[0-9a-f]{32}")
_PREFIX = re.compile(r"[0-9a-f]{2}")


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
        # Temporary names: unique per store and process without a random draw per write.
        self._temp_names = (f"{TEMP_PREFIX}{os.getpid()}-{secrets.token_hex(4)}-{n}" for n in itertools.count())
        self._names_lock = threading.Lock()
        self._folders: set[str] = set()  # ``ab/`` folders known to exist

    def path(self, md5_hex: str) -> Path:
        return self.root / md5_hex[:2] / md5_hex

    def _temp_path(self) -> str:
        with self._names_lock:
            return os.path.join(self.root, next(self._temp_names))

    def _publish(self, temp: str, md5_hex: str) -> None:
        """Rename a finished temporary file to its blob path (creating the ``ab/`` folder once)."""
        folder = os.path.join(self.root, md5_hex[:2])
        if folder not in self._folders:
            os.makedirs(folder, exist_ok=True)
            self._folders.add(folder)
        try:
            os.replace(temp, os.path.join(folder, md5_hex))
        except FileNotFoundError:
            if os.path.exists(temp):
                raise
            os.makedirs(folder, exist_ok=True)  # the folder was removed since: make it again
            os.replace(temp, os.path.join(folder, md5_hex))

    def has(self, md5_hex: str) -> bool:
        return self.path(md5_hex).is_file()

    def size(self, md5_hex: str) -> int:
        return self.path(md5_hex).stat().st_size

    def put_bytes(self, data: bytes) -> str:
        """Store ``data`` and return its hex MD5."""
        writer = self.writer()
        writer.write(data)
        return writer.commit()

    def writer(self, expected_size: int | None = None) -> BlobWriter:
        """Start a streaming write; call ``commit()`` (or ``abort()``) when done."""
        return BlobWriter(self, expected_size)

    # --- start-up clean-up (only files this store names itself; never follows a symlink) --------

    def remove_temp_files(self) -> list[str]:
        """Delete the temporary files of writes that never finished; return their names.

        Only call this while no write is under way (at start-up, holding the data folder's lock).
        """
        removed = []
        with os.scandir(self.root) as entries:
            for entry in entries:
                if entry.name.startswith(TEMP_PREFIX) and entry.is_file(follow_symlinks=False):
                    os.unlink(entry.path)
                    removed.append(entry.name)
        return removed

    def stored(self) -> Iterator[tuple[str, os.stat_result]]:
        """``(hex MD5, stat)`` of every blob file, by the layout ``path()`` writes (``ab/ab12...``)."""
        with os.scandir(self.root) as folders:
            for folder in folders:
                if not _PREFIX.fullmatch(folder.name) or not folder.is_dir(follow_symlinks=False):
                    continue
                with os.scandir(folder.path) as files:
                    for entry in files:
                        if (_MD5_HEX.fullmatch(entry.name) and entry.name.startswith(folder.name)
                                and entry.is_file(follow_symlinks=False)):
                            yield entry.name, entry.stat(follow_symlinks=False)

    def remove_unreferenced(self, referenced: set[str], older_than: float) -> list[str]:
        """Delete blobs whose MD5 is not in ``referenced`` and last modified before ``older_than``.

        Anything in the folder that does not look like a blob this store wrote is left alone.
        """
        removed = []
        for md5_hex, stat in list(self.stored()):
            if md5_hex in referenced or stat.st_mtime >= older_than:
                continue
            self.path(md5_hex).unlink(missing_ok=True)
            removed.append(md5_hex)
        return removed


class _HashApart:
    """MD5 on a helper thread, so the event loop only receives and writes a big upload (hashlib drops
    the GIL while it hashes): a 128 MiB PUT costs the server's loop a third of what it did. Not the
    client's ``HashBehind`` on purpose: the server checks the bytes our client sends, so it shares
    none of the client's hashing code."""

    def __init__(self, md5: hashlib._Hash) -> None:
        self._md5 = md5
        self._chunks: queue.Queue[bytes | None] = queue.Queue(maxsize=64)
        self._thread: threading.Thread | None = threading.Thread(target=self._run, name="wandb-local-md5",
                                                                 daemon=True)
        try:
            self._thread.start()
        except RuntimeError:  # no thread to be had: hash inline
            self._thread = None

    def _run(self) -> None:
        while (chunk := self._chunks.get()) is not None:
            self._md5.update(chunk)

    def put(self, chunk: bytes) -> None:
        if self._thread is None:
            self._md5.update(chunk)
        else:
            self._chunks.put(bytes(chunk))

    def join(self) -> None:
        if self._thread is not None:
            self._chunks.put(None)
            self._thread.join()
            self._thread = None


class BlobWriter:
    """One streaming write into a BlobStore, hashed as it goes (unbuffered: chunks arrive whole)."""

    _FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)

    def __init__(self, store: BlobStore, expected_size: int | None = None) -> None:
        self._store = store
        name = store._temp_path()
        self._fd = os.open(name, self._FLAGS, 0o600)
        self._tmp = Path(name)
        self._md5 = hashlib.md5()
        self._apart = _HashApart(self._md5) if expected_size and expected_size >= HASH_APART_FROM else None
        self.size = 0

    def write(self, chunk: bytes) -> None:
        if self._apart is not None:
            self._apart.put(chunk)
        else:
            self._md5.update(chunk)
        view = memoryview(chunk)
        while view:
            view = view[os.write(self._fd, view):]
        self.size += len(chunk)

    def _hashed(self) -> hashlib._Hash:
        """The MD5 of everything written (waits for the helper thread, if any)."""
        if self._apart is not None:
            self._apart.join()
            self._apart = None
        return self._md5

    def _close(self) -> None:
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            os.close(fd)

    @property
    def md5_b64(self) -> str:
        return base64.b64encode(self._hashed().digest()).decode("ascii")

    def commit(self) -> str:
        """Publish the blob under its MD5 and return the hex digest."""
        self._close()
        md5_hex = self._hashed().hexdigest()
        self._store._publish(str(self._tmp), md5_hex)
        return md5_hex

    def keep(self) -> Path:
        """Close the write and keep it as a temporary file (a multipart part); return its path."""
        self._close()
        return self._tmp

    @property
    def md5_hex(self) -> str:
        return self._hashed().hexdigest()

    def abort(self) -> None:
        self._hashed()
        self._close()
        self._tmp.unlink(missing_ok=True)
