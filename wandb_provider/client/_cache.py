"""Content-addressed download cache: blobs keyed by MD5 within a scope, safe for concurrent processes.

A blob's key binds its MD5 to the scope it was verified in (the W&B deployment and project: see
``blob_key``): W&B's digests are MD5, and a cache shared by several deployments must not hand one
deployment's colliding bytes to another, which W&B itself never would (README, "Safety").

Layout ``<root>/obj/v2/<key[:2]>/<key[2:]>``, the key being ``<sha256 of scope and MD5>.<MD5>``
(for an XXH128 entry's bytes ``xxh128-<hex>`` stands in for the MD5, so they never meet MD5 blobs).
Every write is a temporary (or, on Linux, unnamed) file in the cache given its name only when
complete, so a reader never sees a partial blob; a download writes its blob beside the root's file
as the bytes arrive, named only once they are verified (``writer``). The cache holds its own copies:
roots never share an inode with it unless the caller asked for hard links (``link_from_cache``),
and every blob is hashed again as it is copied out, so a damaged blob is replaced, never published.
``max_bytes`` bounds the cache: least recently used blobs are evicted first. A cache that cannot be
written (read only, full) only costs speed: the download goes on without it.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import secrets
import threading
from collections.abc import Callable
from pathlib import Path

from ._localfs import clone_or_copy, copy_fd, try_clone

ENV_CACHE_DIR = "WANDB_PROVIDER_CACHE_DIR"
log = logging.getLogger("wandb_provider.client.cache")


def blob_key(md5_hex: str, *scope: str) -> str:
    """The cache's name for bytes of MD5 ``md5_hex`` verified in ``scope`` (e.g. deployment, project)."""
    bound = hashlib.sha256("\0".join((*scope, md5_hex)).encode()).hexdigest()
    return f"{bound}.{md5_hex}"


def default_cache_dir() -> Path:
    configured = os.environ.get(ENV_CACHE_DIR)
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "airflow-provider-wandb"


class BlobCache:
    def __init__(self, root: Path | str | None = None, max_bytes: int | None = None) -> None:
        self.root = Path(root) if root else default_cache_dir()
        self.max_bytes = max_bytes
        self._objects = str(self.root / "obj" / "v2")
        self._folders: dict[str, int] = {}
        self._folders_lock = threading.Lock()
        self._warned = False
        self._can_clone = True

    def _folder(self, folder: Path) -> int:
        """A descriptor of one cache folder (made if missing), kept for the rest of the download."""
        key = str(folder)
        with self._folders_lock:
            fd = self._folders.get(key)
            if fd is None:
                folder.mkdir(parents=True, exist_ok=True)
                fd = self._folders[key] = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            return fd

    def close(self) -> None:
        with self._folders_lock:
            for fd in self._folders.values():
                with contextlib.suppress(OSError):
                    os.close(fd)
            self._folders.clear()

    def path(self, key: str) -> Path:
        return Path(self.blob(key))

    def blob(self, key: str) -> str:
        """The blob's path as text (built without pathlib: this runs once per file)."""
        return f"{self._objects}/{key[:2]}/{key[2:]}"

    def lookup(self, key: str) -> str | None:
        """The blob's path if the cache holds it (its bytes are checked by whoever copies it out)."""
        path = self.blob(key)
        try:
            os.utime(path)  # mark as recently used for LRU eviction
        except OSError:
            return path if os.path.isfile(path) else None
        return path

    def discard(self, key: str) -> None:
        """Remove a blob whose bytes turned out not to match its name."""
        with contextlib.suppress(OSError):
            os.unlink(self.blob(key))

    def put(self, key: str, source: str | Path, *, link: bool = False) -> bool:
        """Add a verified file to the cache: its own copy, or a hard link when ``link``.

        Returns whether ``source`` now shares its inode with the cache blob. Blobs are immutable and
        named by content, so replacing one with another copy of the same bytes is harmless.
        """
        target = self.path(key)
        try:
            self._folder(target.parent)
            if link:
                try:
                    os.link(source, target)
                    return True
                except FileExistsError:
                    return False
                except OSError:
                    pass  # another filesystem, or no hard links here: keep a copy instead
            writer = self.writer(key)
            if writer is None:  # no unnamed files here: a named temporary file, renamed when complete
                tmp = target.parent / f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
                try:
                    clone_or_copy(source, tmp)
                    os.replace(tmp, target)
                finally:
                    with contextlib.suppress(FileNotFoundError):
                        tmp.unlink()
                return False
            try:
                src = os.open(source, os.O_RDONLY | os.O_CLOEXEC)
                try:
                    if not (self._can_clone and try_clone(src, writer.fd)):
                        self._can_clone = False  # not on this filesystem: stop asking
                        copy_fd(src, writer.fd)
                finally:
                    os.close(src)
                writer.commit()
            finally:
                writer.close()
        except OSError as exc:
            self.cannot_write(exc)
        return False

    def writer(self, key: str) -> BlobWriter | None:
        """An unnamed file in the cache (Linux ``O_TMPFILE``) to write a blob into, named ``key`` by
        ``BlobWriter.commit`` only when complete and verified, so a writer killed midway leaves
        nothing behind; a download writes into it as the bytes arrive, without reading them again.
        None where unsupported or unwritable (then ``put`` falls back to a named temporary file)."""
        flag = getattr(os, "O_TMPFILE", 0)
        if not flag or not _PROC_FD:
            return None
        target = self.path(key)
        try:
            folder_fd = self._folder(target.parent)
            fd = os.open(".", flag | os.O_WRONLY | os.O_CLOEXEC, 0o644, dir_fd=folder_fd)
        except OSError:
            return None
        return BlobWriter(fd, target.name, folder_fd, self.cannot_write)

    def cannot_write(self, exc: OSError) -> None:
        """Say once that the cache cannot be written: the download goes on without it."""
        if not self._warned:
            self._warned = True
            log.warning("The download cache %s cannot be written (%s); going on without it.", self.root, exc)

    def evict(self) -> int:
        """Remove least recently used blobs until the cache fits ``max_bytes``; return bytes freed."""
        if self.max_bytes is None:
            return 0
        blobs = []
        total = 0
        try:
            for folder, _, names in os.walk(self.root / "obj"):
                for name in names:
                    path = Path(folder, name)
                    try:
                        stat = path.stat()
                    except OSError:
                        continue
                    if not name.endswith(".tmp"):
                        blobs.append((stat.st_mtime, stat.st_size, path))
                        total += stat.st_size
        except OSError:
            return 0
        freed = 0
        for _, size, path in sorted(blobs):
            if total - freed <= self.max_bytes:
                break
            with contextlib.suppress(OSError):
                path.unlink()
                freed += size
        return freed


class BlobWriter:
    """One blob being written into the cache (see ``BlobCache.writer``). A write that fails (cache
    full, read only) only stops the copy, reported through ``cannot_write``: the download goes on and
    ``commit`` says False. ``close`` without ``commit`` leaves nothing behind."""

    def __init__(self, fd: int, name: str, folder_fd: int, cannot_write: Callable[[OSError], None]) -> None:
        self.fd, self._name, self._folder_fd, self._cannot_write = fd, name, folder_fd, cannot_write
        self._failed = False

    def write(self, data: bytes) -> None:
        if self._failed:
            return
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self.fd, view):]
        except OSError as exc:
            self._failed = True
            self._cannot_write(exc)

    def commit(self) -> bool:
        """Give the blob its name; whether the cache now holds it (another process may have cached
        the same bytes meanwhile: fine). ``linkat(AT_SYMLINK_FOLLOW)``, which ``os.link`` only uses
        when given a folder descriptor."""
        if self._failed:
            return False
        try:
            os.link(f"/proc/self/fd/{self.fd}", self._name, dst_dir_fd=self._folder_fd, follow_symlinks=True)
        except FileExistsError:
            pass
        except OSError as exc:
            self._cannot_write(exc)
            return False
        return True

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


_PROC_FD = os.path.isdir("/proc/self/fd")
