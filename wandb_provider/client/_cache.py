"""Content-addressed download cache: blobs keyed by MD5, safe for concurrent processes.

Layout ``<root>/obj/md5/<hex[:2]>/<hex[2:]>``. Every write is a temporary file in the cache plus
an atomic rename, so a reader never sees a partial blob, and a blob is re-hashed before it is used,
so a corrupt entry (a killed writer on another filesystem, an edited hard link) is replaced, never
published. ``max_bytes`` bounds the cache: least recently used blobs are evicted first.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from pathlib import Path

from ._hashing import file_digest

ENV_CACHE_DIR = "WANDB_PROVIDER_CACHE_DIR"


def default_cache_dir() -> Path:
    configured = os.environ.get(ENV_CACHE_DIR)
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "airflow-provider-wandb"


def ensure_dir(path: Path, made: set[str] | None = None) -> None:
    """``mkdir -p``, remembered in ``made`` (one download's folders): many files share a few folders."""
    key = str(path)
    if made is None or key not in made:
        path.mkdir(parents=True, exist_ok=True)
        if made is not None:
            made.add(key)


def link_new(source: Path, target: Path, made: set[str] | None = None) -> None:
    """Hard-link ``source`` to a ``target`` that does not exist yet (copy across filesystems)."""
    ensure_dir(target.parent, made)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def place(source: Path, target: Path, made: set[str] | None = None) -> None:
    """Hard-link ``source`` to ``target`` (atomically replacing it); copy across filesystems."""
    ensure_dir(target.parent, made)
    tmp = target.parent / f".{target.name}.{os.getpid()}.{time.monotonic_ns()}.tmp"
    try:
        try:
            os.link(source, tmp)
        except OSError:
            shutil.copyfile(source, tmp)
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


class BlobCache:
    def __init__(self, root: Path | str | None = None, max_bytes: int | None = None) -> None:
        self.root = Path(root) if root else default_cache_dir()
        self.max_bytes = max_bytes
        self._made: set[str] = set()

    def path(self, md5_hex: str) -> Path:
        return self.root / "obj" / "md5" / md5_hex[:2] / md5_hex[2:]

    def get(self, md5_hex: str, md5_b64: str) -> Path | None:
        """The verified blob, or None; a blob whose bytes do not match is removed."""
        path = self.path(md5_hex)
        try:
            if file_digest(path, "md5") != md5_b64:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                return None
            os.utime(path)  # mark as recently used for LRU eviction
        except FileNotFoundError:
            return None
        return path

    def put(self, md5_hex: str, source: Path) -> None:
        """Add a verified file to the cache (hard link when possible).

        Blobs are immutable and named by content, so a plain link (atomic; it fails if another
        process already added the blob) is enough; ``get`` re-checks bytes before any use.
        """
        target = self.path(md5_hex)
        try:
            ensure_dir(target.parent, self._made)
            os.link(source, target)
        except FileExistsError:
            return
        except OSError:
            with contextlib.suppress(OSError):
                place(source, target)

    def evict(self) -> int:
        """Remove least recently used blobs until the cache fits ``max_bytes``; return bytes freed."""
        if self.max_bytes is None:
            return 0
        blobs = []
        total = 0
        for path in (self.root / "obj").rglob("*"):
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            if path.is_file() and not path.name.endswith(".tmp"):
                blobs.append((stat.st_mtime, stat.st_size, path))
                total += stat.st_size
        freed = 0
        for _, size, path in sorted(blobs):
            if total - freed <= self.max_bytes:
                break
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                freed += size
        return freed


def scratch_dir(near: Path) -> Path:
    """A private staging folder beside ``near`` (same filesystem, so publishing is a rename)."""
    near.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{near.name}.wandb-staging-{os.getpid()}-"
    return Path(tempfile.mkdtemp(prefix=prefix, dir=near.parent))


def remove_stale_staging(near: Path) -> None:
    """Delete staging folders beside ``near`` left by processes that no longer run (e.g. SIGKILL)."""
    if not near.parent.is_dir():
        return
    for folder in near.parent.glob(f".{near.name}.wandb-staging-*"):
        pid_text = folder.name.rsplit("wandb-staging-", 1)[1].split("-", 1)[0]
        if pid_text.isdigit() and not _alive(int(pid_text)):
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
