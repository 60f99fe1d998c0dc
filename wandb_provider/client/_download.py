"""The download engine: parallel, streamed, verified in one pass, cached, published atomically.

Files land in a staging folder beside ``root`` and move into ``root`` only once every selected
file is verified, so a failed download leaves nothing new where the user looks. Files already in
``root`` with the right digest are skipped, so re-runs (Airflow retries) are cheap and idempotent.
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from pathlib import Path

from ._cache import BlobCache, ensure_dir, link_new, remove_stale_staging, scratch_dir
from ._hashing import CHUNK, b64, file_digest, new_hasher
from ._references import check_http_reference, copy_file_reference, refuse_reference
from ._retry import TransientTransportError
from ._storage import Storage, raise_for_storage_status
from .errors import ArtifactIntegrityError, NotFoundError, ServerError, WandbError
from .manifest import Manifest, ManifestEntry
from .models import DownloadResult, ProgressUpdate, VerifyReport

log = logging.getLogger("wandb_provider.client.download")

UrlSource = Callable[[], dict[str, str]]
ProgressCallback = Callable[[ProgressUpdate], None]


def select(manifest: Manifest, include: Sequence[str] | str | None, exclude: Sequence[str] | str | None) -> list[
        ManifestEntry]:
    """Entries matching any ``include`` pattern and no ``exclude`` pattern (globs, exact paths or folders)."""
    includes = [include] if isinstance(include, str) else list(include or [])
    excludes = [exclude] if isinstance(exclude, str) else list(exclude or [])
    return [e for e in manifest if (not includes or _matches(e.path, includes)) and not _matches(e.path, excludes)]


def _matches(path: str, patterns: Iterable[str]) -> bool:
    for pattern in patterns:
        if path == pattern or fnmatch.fnmatchcase(path, pattern) or path.startswith(pattern.rstrip("/") + "/"):
            return True
    return False


def has_content_digest(entry: ManifestEntry) -> bool:
    """Whether the entry's digest is a hash of its bytes (stored files, checksummed file:// refs)."""
    if entry.ref is None:
        return True
    if entry.ref.startswith("file://"):
        return entry.digest != b64(hashlib.md5(entry.ref.encode()).digest())
    return False  # http(s)/cloud references carry an ETag or the URL, not a content hash


def matches_on_disk(entry: ManifestEntry, path: Path, *, strict: bool = True, check_digest: bool = True) -> bool:
    """True when ``path`` holds the entry's bytes (size first, then digest).

    Entries without a content digest match on size alone unless ``strict`` (then never, so
    re-runs fetch such references again rather than trust a file they cannot check).
    """
    try:
        if not path.is_file() or (entry.size is not None and path.stat().st_size != entry.size):
            return False
    except OSError:
        return False
    if not has_content_digest(entry):
        return not strict
    if not check_digest:
        return True
    try:
        return file_digest(path, entry.algorithm) == entry.digest
    except WandbError:
        return False


class _Progress:
    """Counts work and reports it at most every ``interval`` seconds."""

    def __init__(self, total_files: int, total_bytes: int, callback: ProgressCallback | None,
                 interval: float = 5.0) -> None:
        self.total_files, self.total_bytes = total_files, total_bytes
        self.files = self.bytes = 0
        self.callback = callback
        self.interval = interval
        self.started = self._last = time.monotonic()
        self._lock = threading.Lock()

    def advance(self, files: int = 0, nbytes: int = 0) -> None:
        with self._lock:
            self.files += files
            self.bytes += nbytes
            now = time.monotonic()
            if now - self._last < self.interval:
                return
            self._last = now
            update = self.snapshot(now)
        self._emit(update)

    def snapshot(self, now: float | None = None) -> ProgressUpdate:
        elapsed = max(1e-9, (now or time.monotonic()) - self.started)
        rate = self.bytes / elapsed
        remaining = max(0, self.total_bytes - self.bytes)
        return ProgressUpdate(self.files, self.total_files, self.bytes, self.total_bytes, rate / 1e6,
                              remaining / rate if rate > 0 else None)

    def _emit(self, update: ProgressUpdate) -> None:
        if self.callback is not None:
            self.callback(update)
        else:
            log.info("%s", update.describe())


class Downloader:
    """Downloads one version's selected entries into ``root`` (one instance per call)."""

    def __init__(self, storage: Storage, urls: UrlSource, cache: BlobCache | None, max_workers: int,
                 max_attempts: int, progress: ProgressCallback | None, progress_interval: float = 5.0,
                 verify: bool = True) -> None:
        self.storage = storage
        self._made: set[str] = set()
        self._url_source = urls
        self._urls: dict[str, str] | None = None
        self._url_generation = 0
        self._url_lock = threading.Lock()
        self.cache = cache
        self.max_workers = max_workers
        self.max_attempts = max_attempts
        self.progress_callback = progress
        self.progress_interval = progress_interval
        self.verify = verify
        self._counter_lock = threading.Lock()
        self.bytes_downloaded = 0
        self.bytes_from_cache = 0

    # --- URLs -------------------------------------------------------------------------------

    def _url(self, name: str) -> tuple[str, int]:
        with self._url_lock:
            if self._urls is None:
                self._urls = self._url_source()
                self._url_generation += 1
            url = self._urls.get(name)
            if url is None:
                raise NotFoundError(f"W&B listed no download URL for file {name!r} of this version.")
            return url, self._url_generation

    def _refresh_urls(self, seen_generation: int) -> None:
        """Fetch fresh signed URLs once per expiry, however many threads noticed it."""
        with self._url_lock:
            if self._url_generation == seen_generation:
                self._urls = self._url_source()
                self._url_generation += 1

    # --- one file ---------------------------------------------------------------------------

    def _count(self, downloaded: int = 0, cached: int = 0) -> None:
        with self._counter_lock:
            self.bytes_downloaded += downloaded
            self.bytes_from_cache += cached

    def fetch(self, entry: ManifestEntry, dest: Path, progress: _Progress) -> None:
        """Put the verified bytes of ``entry`` at ``dest`` (a staging path)."""
        if entry.ref is not None:
            self._fetch_reference(entry, dest, progress)
            return
        md5_hex = entry.md5_hex
        if self.cache is not None and md5_hex is not None:
            blob = self.cache.get(md5_hex, entry.digest)
            if blob is not None:
                link_new(blob, dest, self._made)  # dest is new: it sits in a fresh staging folder
                size = dest.stat().st_size
                self._count(cached=size)
                progress.advance(1, size)
                return
        self._download_stored(entry, dest, progress)
        if self.cache is not None and md5_hex is not None:
            self.cache.put(md5_hex, dest)

    def _download_stored(self, entry: ManifestEntry, dest: Path, progress: _Progress) -> None:
        last_error: Exception | None = None
        for _ in range(self.max_attempts):
            url, generation = self._url(entry.path)
            try:
                size, digest = self._stream(url, dest, entry, progress)
            except _UrlExpired:
                self._refresh_urls(generation)
                continue
            except TransientTransportError as exc:
                last_error = exc
                continue
            if (digest == entry.digest or not self.verify) and (entry.size is None or size == entry.size):
                self._count(downloaded=size)
                progress.advance(1)
                return
            last_error = ArtifactIntegrityError(
                f"file {entry.path!r}: downloaded {size} bytes with digest {digest}, but the manifest says "
                f"{entry.size} bytes with digest {entry.digest}.",
                hint="The stored file is damaged or the transfer was corrupted; nothing was published.",
            )
        if isinstance(last_error, ArtifactIntegrityError):
            raise last_error
        raise ServerError(
            f"file {entry.path!r} could not be downloaded after {self.max_attempts} attempts ({last_error}).",
            attempts=self.max_attempts, hint="This is usually temporary: try again later.",
        ) from last_error

    def _stream(self, url: str, dest: Path, entry: ManifestEntry, progress: _Progress) -> tuple[int, str]:
        """GET ``url`` into ``dest``, hashing as it goes; return (size, digest)."""
        with self.storage.get(url, operation="DownloadFile") as response:
            if response.status in (401, 403):
                raise _UrlExpired()
            raise_for_storage_status(response, "DownloadFile", f"download {entry.path!r}")
            hasher = new_hasher(entry.algorithm)
            size = 0
            ensure_dir(dest.parent, self._made)
            with open(dest, "wb") as out:
                for chunk in response.chunks(CHUNK):
                    hasher.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
                    progress.advance(0, len(chunk))
        return size, b64(hasher.digest())

    def _fetch_reference(self, entry: ManifestEntry, dest: Path, progress: _Progress) -> None:
        assert entry.ref is not None
        scheme = entry.ref.split("://", 1)[0].lower()
        if scheme == "file":
            size = copy_file_reference(entry, dest)
        elif scheme in ("http", "https"):
            size = self._fetch_http_reference(entry, dest)
        else:
            refuse_reference(entry)
            return
        self._count(downloaded=size)
        progress.advance(1, size)

    def _fetch_http_reference(self, entry: ManifestEntry, dest: Path) -> int:
        assert entry.ref is not None
        with self.storage.get(entry.ref, operation="DownloadReference") as response:
            raise_for_storage_status(response, "DownloadReference", f"download reference {entry.ref}")
            ensure_dir(dest.parent, self._made)
            size = 0
            with open(dest, "wb") as out:
                for chunk in response.chunks(CHUNK):
                    out.write(chunk)
                    size += len(chunk)
            check_http_reference(entry, response.header("ETag"), size)
        return size

    # --- the whole download -----------------------------------------------------------------

    def run(self, manifest: Manifest, entries: list[ManifestEntry], root: Path, mode: str) -> DownloadResult:
        started = time.monotonic()
        root = root.absolute()
        remove_stale_staging(root)
        todo = [e for e in entries if not matches_on_disk(e, root / e.path, check_digest=self.verify)]
        skipped = len(entries) - len(todo)
        progress = _Progress(len(todo), sum(e.size or 0 for e in todo), self.progress_callback,
                             self.progress_interval)
        if todo:
            staging = scratch_dir(root)
            try:
                self._fetch_all(todo, staging, progress)
                _publish(todo, staging, root)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        root.mkdir(parents=True, exist_ok=True)
        if mode == "checkout":
            _remove_unexpected(root, set(manifest.entries))
        if todo and progress.callback is None and time.monotonic() - started >= self.progress_interval:
            log.info("%s", progress.snapshot().describe())
        return DownloadResult(
            root=str(root), files=tuple(e.path for e in entries), bytes_downloaded=self.bytes_downloaded,
            bytes_from_cache=self.bytes_from_cache, skipped_existing=skipped,
            seconds=round(time.monotonic() - started, 3),
        )

    def _fetch_all(self, todo: list[ManifestEntry], staging: Path, progress: _Progress) -> None:
        if len(todo) == 1 or self.max_workers <= 1:
            for entry in todo:
                self.fetch(entry, staging / entry.path, progress)
            return
        with ThreadPoolExecutor(max_workers=self.max_workers, thread_name_prefix="wandb-download") as pool:
            futures = [pool.submit(self.fetch, e, staging / e.path, progress) for e in todo]
            done, pending = wait(futures, return_when=FIRST_EXCEPTION)
            for future in pending:
                future.cancel()
            for future in done:
                error = future.exception()
                if error is not None:
                    raise error


class _UrlExpired(Exception):
    """The signed URL was refused (401/403): fetch fresh URLs and try again."""


def _publish(entries: list[ManifestEntry], staging: Path, root: Path) -> None:
    made: set[str] = set()
    """Move verified files into ``root``; each move is an atomic rename on the same filesystem."""
    for entry in entries:
        target = root / entry.path
        ensure_dir(target.parent, made)
        if target.is_dir():
            shutil.rmtree(target)
        os.replace(staging / entry.path, target)


def _remove_unexpected(root: Path, keep: set[str]) -> None:
    for path in sorted(root.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        relative = path.relative_to(root).as_posix()
        if path.is_file() or path.is_symlink():
            if relative not in keep:
                path.unlink()
        elif path.is_dir():
            with contextlib.suppress(OSError):
                path.rmdir()  # only empty folders go


def verify_root(manifest: Manifest, root: Path) -> VerifyReport:
    """Compare ``root`` with the manifest: missing, unexpected and mismatched files."""
    root = Path(root)
    missing, mismatched = [], []
    for entry in manifest:
        path = root / entry.path
        if not path.is_file():
            missing.append(entry.path)
        elif not matches_on_disk(entry, path, strict=False):
            mismatched.append(entry.path)
    present = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()} if root.is_dir() else set()
    unexpected = sorted(present - set(manifest.entries))
    return VerifyReport(root=str(root), checked=len(manifest), missing=tuple(missing),
                        mismatched=tuple(mismatched), unexpected=tuple(unexpected))
