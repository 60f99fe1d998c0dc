"""The download engine: parallel, streamed, verified in one pass, cached, published atomically.

Files are fetched into a staging folder inside the root's ledger folder (same filesystem, so
publishing is a rename) and move into the root only once every selected file is verified and the
plan (``_roots``) has found no clash, so a failed or cancelled download leaves the root as it was.
Every byte is checked against its digest on the way in, whether it comes from W&B, the cache or a
reference. Workers are daemon threads that check a cancel event between chunks and before each file:
when the caller's thread is interrupted (SIGTERM, a timeout, Ctrl-C) the download stops at once.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import logging
import os
import random
import stat
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from ._cache import BlobCache, BlobWriter, blob_key
from ._hashing import CHUNK, HASH_BEHIND_FROM, HashBehind, b64, file_digest, new_hasher
from ._localfs import copy_fd, local_errors, local_file_error, try_clone
from ._references import (
    REDIRECT_STATUSES,
    ReferencePolicy,
    check_file_reference,
    check_http_reference,
    check_object_reference,
    has_content_digest,
    next_hop,
    refuse_reference,
)
from ._retry import TransientTransportError
from ._roots import LEDGER_DIR, Identity, Ledger, Planner, Record, RootSession, apply
from ._transport import Response, Transport, raise_for_storage_status
from ._workers import WorkerPool
from .errors import (
    ArtifactIntegrityError,
    CancelledError,
    InvalidValueError,
    NotFoundError,
    PermissionDeniedError,
    ServerError,
    UnsafePathError,
    WandbError,
)
from .manifest import Manifest, ManifestEntry
from .models import DownloadResult, ProgressUpdate, VerifyReport
from .object_stores import SCHEMES as OBJECT_SCHEMES
from .object_stores import ObjectInfo

log = logging.getLogger("wandb_provider.client.download")

UrlSource = Callable[[], dict[str, str]]
ProgressCallback = Callable[[ProgressUpdate], None]
Patterns = Sequence[str] | str | None
_T = TypeVar("_T")
RENEWED_URLS_TRUSTED_FOR = 60.0  # seconds: a refusal of URLs renewed this recently is no expiry


# --- selection ----------------------------------------------------------------------------------


def _patterns(name: str, value: Patterns) -> list[str]:
    if value is None:
        return []
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple, set, frozenset)) or not all(isinstance(p, str) for p in items):
        raise InvalidValueError(f"{name} must be a pattern or a list of patterns (strings), not {value!r}.",
                                hint=f"e.g. {name}=['*.csv', 'data/'].")
    patterns = list(items)
    if any(not p.strip() for p in patterns):
        raise InvalidValueError(f"{name}={value!r} holds an empty pattern, which selects nothing.",
                                hint=f"Pass None to not filter, or name files, folders or globs in {name}.")
    return patterns


def select(manifest: Manifest, include: Patterns, exclude: Patterns, *, allow_empty: bool = True) -> list[
        ManifestEntry]:
    """Entries matching any ``include`` pattern and no ``exclude`` pattern (globs, exact paths or folders).

    Without ``allow_empty``, a selection that leaves nothing of a non-empty version is refused.
    """
    includes, excludes = _patterns("include", include), _patterns("exclude", exclude)
    chosen = [e for e in manifest if (not includes or _matches(e.path, includes)) and not _matches(e.path, excludes)]
    if not chosen and len(manifest) and not allow_empty:
        raise InvalidValueError(
            f"include={includes!r} exclude={excludes!r} selects none of the version's {len(manifest)} files.",
            hint="Check the patterns (client.manifest(version).entries lists the files), or pass allow_empty=True.",
        )
    return chosen


def _matches(path: str, patterns: Iterable[str]) -> bool:
    for pattern in patterns:
        if path == pattern or fnmatch.fnmatchcase(path, pattern) or path.startswith(pattern.rstrip("/") + "/"):
            return True
    return False


def content_key(entry: ManifestEntry) -> tuple[str, str]:
    """The (algorithm, digest) an entry's bytes are checked with; ("", "") when its digest is no hash."""
    if not has_content_digest(entry):
        return "", ""
    return ("md5", entry.digest) if entry.ref is not None else (entry.algorithm, entry.digest)


# --- progress -----------------------------------------------------------------------------------


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

    def finish(self) -> None:
        """The last report: to a callback always (a progress bar ends full); to the log only when the
        work took at least one interval (a short download stays quiet)."""
        now = time.monotonic()
        if self.callback is not None or now - self.started >= self.interval:
            self._emit(self.snapshot(now))

    def _emit(self, update: ProgressUpdate) -> None:
        if self.callback is not None:
            self.callback(update)
        else:
            log.info("%s", update.describe())


class _Cancelled(Exception):
    """The download was cancelled or another file failed: stop this one."""


class _Again(Exception):
    """This attempt at a file failed in a way worth another (``error``: why; None: at once, no failure)."""

    def __init__(self, error: Exception | None) -> None:
        super().__init__(error)
        self.error = error


def _transport_failure(error: Exception) -> bool:
    """Retry a file after a connection problem (statuses were already retried by the transport)."""
    return isinstance(error, TransientTransportError)


def _transient_wandb_error(error: Exception) -> bool:
    """Retry an object reference after what its store calls transient."""
    return isinstance(error, WandbError) and error.transient


class _Denied(Exception):
    """Storage refused the signed URL (401/403): it may have expired."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


# --- the engine ---------------------------------------------------------------------------------


class Downloader:
    """Downloads one version's selected entries into ``root`` (one instance per call)."""

    def __init__(self, transport: Transport, urls: UrlSource, cache: BlobCache | None, *, max_workers: int,
                 max_attempts: int, progress: ProgressCallback | None, policy: ReferencePolicy,
                 lock_wait: float, progress_interval: float = 5.0, verify: bool = True,
                 link_from_cache: bool = False, backoff: tuple[float, float] = (0.0, 0.0),
                 cache_scope: str = "", ledger_keys: Path | None = None) -> None:
        self.transport = transport  # storage GETs: unauthenticated, streamed, same pools and retries
        self._url_source = urls
        self._urls: dict[str, str] | None = None
        self._url_generation = 0
        self._urls_fetched_at = 0.0
        self._url_lock = threading.Lock()
        self.cache = cache
        self.max_workers = max_workers
        self.max_attempts = max_attempts
        self.backoff = backoff  # (first wait, longest wait) between attempts at one file, in seconds
        self.progress_callback = progress
        self.progress_interval = progress_interval
        self.policy = policy
        self.lock_wait = lock_wait
        self.verify = verify
        self.link_from_cache = link_from_cache and _links_protect()
        self.cache_scope = cache_scope  # the W&B deployment: cached bytes are never shared with another
        self.ledger_keys = ledger_keys  # where each root's ledger key is kept (the cache folder)
        self.cancel = threading.Event()
        self.idle = threading.Event()  # set once no worker thread runs
        self.idle.set()
        self._counter_lock = threading.Lock()
        self._can_clone = True
        self.bytes_downloaded = 0
        self.bytes_from_cache = 0
        self._records: dict[str, Record] = {}
        self._identity: Identity | None = None

    # --- URLs -------------------------------------------------------------------------------

    def _url(self, name: str) -> tuple[str, int]:
        with self._url_lock:
            if self._urls is None:
                self._urls = self._url_source()
                self._url_generation += 1
                self._urls_fetched_at = time.monotonic()
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
                self._urls_fetched_at = time.monotonic()

    def _renewed_recently(self, generation: int) -> bool:
        """Whether URLs of ``generation`` were themselves a renewal, made under a minute ago."""
        with self._url_lock:
            return (generation > 1 and generation == self._url_generation
                    and time.monotonic() - self._urls_fetched_at < RENEWED_URLS_TRUSTED_FOR)

    # --- one file ---------------------------------------------------------------------------

    def _count(self, downloaded: int = 0, cached: int = 0) -> None:
        with self._counter_lock:
            self.bytes_downloaded += downloaded
            self.bytes_from_cache += cached

    def _pause(self, what: str, entry: ManifestEntry, error: Exception, failed: int) -> None:
        """Log a failed attempt and wait before the next: exponential backoff with jitter, cut short
        by cancellation (a cut or corrupt body is retried, never at once in a tight loop)."""
        first, longest = self.backoff
        wait = min(longest, first * 2 ** (failed - 1)) * (1 + 0.25 * random.random()) if first > 0 else 0.0
        log.warning("%s %r failed (%s); attempt %d of %d, retrying in %.1fs", what, entry.path, error, failed,
                    self.max_attempts, wait)
        if wait and self.cancel.wait(wait):
            raise _Cancelled()

    def _check_cancel(self) -> None:
        if self.cancel.is_set():
            raise _Cancelled()

    def _record(self, entry: ManifestEntry, alg: str, digest: str, size: int) -> None:
        assert self._identity is not None
        record = Record(self._identity.key, alg, digest, size, entry.digest)
        with self._counter_lock:
            self._records[entry.path] = record

    def fetch(self, entry: ManifestEntry, dest: str, progress: _Progress) -> None:
        """Put the verified bytes of ``entry`` at ``dest`` (a new file in the staging folder)."""
        self._check_cancel()
        try:
            if entry.ref is not None:
                self._fetch_reference(entry, dest, progress)
                return
            md5_hex = entry.cache_key  # the hex MD5, or an XXH128 entry's xxh128-<hex>
            key = self._cache_key(md5_hex) if md5_hex is not None else None
            if self.cache is not None and key is not None:
                blob = self.cache.lookup(key)
                if blob is not None:
                    if self._copy_from_cache(blob, dest, entry):
                        size = entry.size if entry.size is not None else os.stat(dest).st_size
                        self._count(cached=size)
                        progress.advance(1, size)
                        self._record(entry, entry.algorithm, entry.digest, size)
                        return
                    self.cache.discard(key)  # damaged: replaced by the download below
            # A small file's cache copy is written as it arrives (no second open and read); a big
            # one is copied in the kernel once verified: writing both copies of two 256 MiB files
            # at once cost four times the system time here (bench/README.md, "Honest limits").
            small = entry.size is not None and entry.size < HASH_BEHIND_FROM
            on_the_way = key if self.cache is not None and not self.link_from_cache and small else None
            size, cached = self._download_stored(entry, dest, progress, on_the_way)
            self._record(entry, entry.algorithm, entry.digest, size)
            if self.cache is not None and key is not None and not cached:
                self._check_cancel()
                if self.cache.put(key, dest, link=self.link_from_cache):
                    _make_read_only(dest)
        except OSError as exc:
            if self.cancel.is_set():
                raise _Cancelled() from exc
            raise local_file_error(exc, f"write file {entry.path!r} into the staging folder", dest) from exc

    def _cache_key(self, md5_hex: str) -> str:
        """The cache key of bytes verified for this version: bound to the deployment and the project
        of the version's collection, so no other deployment or project's colliding bytes match it."""
        project = self._identity.sequence.rsplit("/", 1)[0] if self._identity is not None else ""
        return blob_key(md5_hex, self.cache_scope, project)

    def _copy_from_cache(self, blob: str, dest: str, entry: ManifestEntry) -> bool:
        """Copy a cached blob (a reflink where the filesystem can; else one read for a small file, a
        kernel copy for a large one) or, when asked, hard-link it; check the digest of what landed."""
        if self.link_from_cache:
            try:
                os.link(blob, dest)
            except FileNotFoundError:
                return False  # evicted meanwhile: download it instead
            except OSError:
                pass  # another filesystem: copy below
            else:
                if file_digest(dest, entry.algorithm) == entry.digest:
                    _make_read_only(dest)
                    return True
                os.unlink(dest)
                return False
        hasher = new_hasher(entry.algorithm)
        try:
            src = os.open(blob, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return False  # evicted or unreadable meanwhile: download it instead
        try:
            out = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
            try:
                if self._can_clone and try_clone(src, out):
                    hasher = None  # the clone shares the blob's extents: hash what landed below
                elif entry.size is not None and entry.size < CHUNK:
                    self._can_clone = False
                    data = os.read(src, entry.size + 1)  # a small file (the common case) in one read
                    hasher.update(data)
                    _write_all(out, data)
                else:
                    self._can_clone = False
                    copy_fd(src, out, self._check_cancel)  # in the kernel: hash what landed below
                    hasher = None
            finally:
                os.close(out)
        finally:
            os.close(src)
        digest = file_digest(dest, entry.algorithm) if hasher is None else b64(hasher.digest())
        if digest == entry.digest:
            return True
        os.unlink(dest)
        return False

    def _download_stored(self, entry: ManifestEntry, dest: str, progress: _Progress, cache_key: str | None
                         ) -> tuple[int, bool]:
        """Download ``entry`` into ``dest``; return its size and whether the cache got its copy on the
        way (written beside ``dest`` under ``cache_key``, named only once the bytes are verified)."""
        refreshed = False

        def attempt() -> tuple[int, bool]:
            nonlocal refreshed
            cached = False
            url, generation = self._url(entry.path)
            tee = self.cache.writer(cache_key) if self.cache is not None and cache_key is not None else None
            try:
                with self.transport.request("GET", url, operation="DownloadFile", authenticated=False, stream=True,
                                            cancel=self.cancel, expected_size=entry.size) as response:
                    if response.status in (401, 403):
                        raise _Denied(response.status)
                    raise_for_storage_status(response, "DownloadFile", f"download {entry.path!r}")
                    size, digest = self._stream(response, dest, entry.algorithm, progress, entry.size, tee)
                whole = digest == entry.digest and (entry.size is None or size == entry.size)
                if tee is not None and whole:
                    cached = tee.commit()
            except _Denied as denied:
                if refreshed or self._renewed_recently(generation):
                    raise PermissionDeniedError(
                        f"download {entry.path!r}: storage refused the file (HTTP {denied.status}) again after "
                        "the download URLs were renewed.", operation="DownloadFile", status=denied.status,
                        hint="The API key may not read this artifact's files, or the storage bucket's permissions "
                             "are wrong; ask an admin of the entity.",
                    ) from None
                self._refresh_urls(generation)
                refreshed = True
                raise _Again(None) from None  # at once: the URLs had expired, nothing failed
            finally:
                if tee is not None:
                    tee.close()  # unnamed unless committed above: a failed attempt leaves nothing
            if not whole:
                raise _Again(ArtifactIntegrityError(
                    f"file {entry.path!r}: downloaded {size} bytes with digest {digest}, but the manifest says "
                    f"{entry.size} bytes with digest {entry.digest}.",
                    hint="The stored file is damaged or the transfer was corrupted; nothing was published.",
                ))
            self._count(downloaded=size)
            progress.advance(1)
            return size, cached

        return self._attempts("file", "download", entry, attempt, _transport_failure)

    def _attempts(self, kind: str, action: str, entry: ManifestEntry, attempt: Callable[[], _T],
                  retryable: Callable[[Exception], bool]) -> _T:
        """The one per-file retry loop: run ``attempt`` up to ``max_attempts`` times, checking for
        cancellation before each and logging and backing off after each failure that ``retryable``
        accepts (or that ``attempt`` raised as ``_Again``); any other error ends it at once."""
        last_error: Exception | None = None
        for number in range(1, self.max_attempts + 1):
            self._check_cancel()
            if last_error is not None:
                self._pause(action, entry, last_error, number - 1)
            try:
                return attempt()
            except _Again as again:
                last_error = again.error or last_error
            except Exception as exc:
                if not retryable(exc):
                    raise
                last_error = exc
        raise self._gave_up(kind, entry, last_error)

    def _gave_up(self, kind: str, entry: ManifestEntry, last_error: Exception | None) -> Exception:
        """The error after the last attempt: an integrity failure as it is, anything else transient."""
        if isinstance(last_error, ArtifactIntegrityError):
            return last_error
        error = ServerError(
            f"{kind} {entry.path!r} could not be downloaded after {self.max_attempts} attempts ({last_error}).",
            attempts=self.max_attempts, hint="This is usually temporary: try again later.",
        )
        error.__cause__ = last_error
        return error

    def _stream(self, response: Response, dest: str, algorithm: str, progress: _Progress | None,
                expected_size: int | None = None, tee: BlobWriter | None = None) -> tuple[int, str]:
        """Write the body into ``dest`` (and ``tee``), hashing as it goes; return (size, digest)."""
        return self._write_chunks(response.chunks(CHUNK), dest, algorithm, progress, expected_size, tee)

    def _write_chunks(self, chunks: Iterable[bytes], dest: str, algorithm: str, progress: _Progress | None,
                      expected_size: int | None = None, tee: BlobWriter | None = None) -> tuple[int, str]:
        with HashBehind(algorithm, expected_size) as hasher:
            size = 0
            out = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)  # unbuffered
            try:
                for chunk in chunks:
                    self._check_cancel()
                    hasher.update(chunk)
                    _write_all(out, chunk)
                    if tee is not None:
                        tee.write(chunk)
                    size += len(chunk)
                    if progress is not None:
                        progress.advance(0, len(chunk))
            finally:
                os.close(out)
            return size, b64(hasher.digest())

    def _fetch_reference(self, entry: ManifestEntry, dest: str, progress: _Progress) -> None:
        assert entry.ref is not None
        scheme = entry.ref.split("://", 1)[0].lower() if "://" in entry.ref else ""
        if scheme == "file":
            size, digest = self._copy_file_reference(entry, dest)
        elif scheme in ("http", "https"):
            size, digest = self._fetch_http_reference(entry, dest)
        elif scheme in OBJECT_SCHEMES:
            self._fetch_object_reference(entry, dest, progress)
            return
        else:
            refuse_reference(entry)
            return
        self._count(downloaded=size)
        progress.advance(1, size)
        self._record(entry, "md5", digest, size)

    def _copy_file_reference(self, entry: ManifestEntry, dest: str) -> tuple[int, str]:
        fd = self.policy.open_file(entry)
        hasher = new_hasher("md5")
        size = 0
        with open(fd, "rb") as src, open(dest, "wb") as out:
            while chunk := src.read(CHUNK):
                self._check_cancel()
                hasher.update(chunk)
                out.write(chunk)
                size += len(chunk)
        digest = b64(hasher.digest())
        check_file_reference(entry, digest, size)
        return size, digest

    def _fetch_http_reference(self, entry: ManifestEntry, dest: str) -> tuple[int, str]:
        """Follow redirects (bounded, each hop checked), then check the bytes against the manifest."""
        assert entry.ref is not None
        ref = entry.ref

        def attempt() -> tuple[int, str]:
            url, hops = ref, 0
            while True:
                self._check_cancel()
                with self.transport.request("GET", url, operation="DownloadReference", authenticated=False,
                                            stream=True, follow_redirects=False,
                                            url_guard=lambda hop: self.policy.check_http(entry, hop),
                                            cancel=self.cancel, expected_size=entry.size) as response:
                    if response.status in REDIRECT_STATUSES:
                        url = next_hop(self.policy, entry, url, response.status, response.header("Location"), hops)
                        hops += 1
                        continue
                    raise_for_storage_status(response, "DownloadReference", f"download reference {entry.path!r}")
                    size, digest = self._stream(response, dest, "md5", None)
                    check_http_reference(entry, response.header("ETag"), size)
                    return size, digest

        return self._attempts("reference", "download reference", entry, attempt, _transport_failure)

    def _fetch_object_reference(self, entry: ManifestEntry, dest: str, progress: _Progress) -> None:
        """Read an ``s3://``/``gs://`` object (the recorded version, if any) through the caller's store;
        its ETag and size must be the recorded ones, and its bytes the store's MD5 when it gives one.
        With such an MD5 the bytes come from the cache when it holds them, and go into it otherwise."""
        location = self.policy.object_location(entry)
        store = self.policy.object_stores[location.scheme]

        def attempt() -> None:
            try:
                with store.open(location.bucket, location.key, location.version_id) as reader:
                    info = reader.info
                    check_object_reference(entry, info)
                    if self._object_from_cache(entry, info, dest):
                        self._count(cached=info.size)
                        progress.advance(1, info.size)
                        self._record(entry, "md5", info.content_md5 or "", info.size)
                        return
                    size, digest = self._write_chunks(reader.chunks(CHUNK), dest, "md5", None)
            except WandbError as exc:
                if exc.transient:
                    raise
                if repr(entry.path) in exc.message:
                    raise
                raise _about(exc, f"reference {entry.path!r}") from None
            if size != info.size or (info.content_md5 is not None and digest != info.content_md5):
                raise _Again(ArtifactIntegrityError(
                    f"reference {entry.path!r} ({entry.ref}): received {size} bytes with MD5 {digest}; the store "
                    f"announced {info.size} bytes" + (f" with MD5 {info.content_md5}" if info.content_md5 else "")
                    + ".", hint="The transfer was cut or corrupted; nothing was published.", transient=True))
            self._count(downloaded=size)
            progress.advance(1, size)
            self._record(entry, "md5", digest, size)
            if self.cache is not None and info.content_md5 is not None:
                self._check_cancel()
                key = self._cache_key(base64.b64decode(info.content_md5).hex())
                if self.cache.put(key, dest, link=self.link_from_cache):
                    _make_read_only(dest)

        self._attempts("reference", "download reference", entry, attempt, _transient_wandb_error)

    def _object_from_cache(self, entry: ManifestEntry, info: ObjectInfo, dest: str) -> bool:
        """Copy an object's bytes from the cache, checked against the MD5 its store vouches for."""
        if self.cache is None or info.content_md5 is None:
            return False
        try:
            md5_hex = base64.b64decode(info.content_md5, validate=True).hex()
        except ValueError:
            return False
        key = self._cache_key(md5_hex)
        blob = self.cache.lookup(key) if len(md5_hex) == 32 else None
        if blob is None:
            return False
        if self._copy_from_cache(blob, dest, ManifestEntry(path=entry.path, digest=info.content_md5)):
            return True
        self.cache.discard(key)
        return False

    # --- the whole download -----------------------------------------------------------------

    def run(self, entries: list[ManifestEntry], root: Path, *, mode: str, identity: Identity,
            remove_foreign: bool = False) -> DownloadResult:
        started = time.monotonic()
        self._identity = identity
        for entry in entries:
            if entry.path.split("/", 1)[0].lower() == LEDGER_DIR:
                raise UnsafePathError(
                    f"refusing manifest entry {entry.path!r}: the provider keeps its ledger in {LEDGER_DIR}/ "
                    "inside the root.", hint=f"Skip such entries with exclude=['{LEDGER_DIR}'].")
        self.policy.precheck(entries)  # a forbidden reference is refused before the root is touched
        with RootSession(root, self.lock_wait, self.ledger_keys) as session:
            ledger = Ledger.load(session.ledger_dir, session.key)
            planner = Planner(root, ledger, identity, mode=mode, remove_foreign=remove_foreign, verify=self.verify,
                              hasher=file_digest)
            plan = planner.plan(entries, content_key)
            if plan.foreign_left:
                log.info("Left %d entries in %s that the provider did not place.", plan.foreign_left, root)
            progress = _Progress(len(plan.fetch), sum(e.size or 0 for e in plan.fetch), self.progress_callback,
                                 self.progress_interval)
            staged: dict[str, str] = {}
            if plan.fetch:
                staging = str(session.make_staging())
                staged = {e.path: f"{staging}/{staged_name(e.path)}" for e in plan.fetch}
                with local_errors("create a staging folder in the root", staging):
                    for shard in {name.rsplit("/", 1)[0] for name in staged.values()}:
                        os.mkdir(shard)
                todo = self._salvage(plan.fetch, staged, session.stale, progress)
                session.drop_stale()
                self._fetch_all(todo, staged, progress)
            else:
                session.drop_stale()
            apply(plan, root, staged, {path: self._records[path] for path in staged}, session)
        if plan.fetch:
            progress.finish()
        return DownloadResult(
            root=str(root), files=tuple(e.path for e in entries), bytes_downloaded=self.bytes_downloaded,
            bytes_from_cache=self.bytes_from_cache, skipped_existing=len(entries) - len(plan.fetch),
            seconds=round(time.monotonic() - started, 3),
        )

    def _salvage(self, wanted: list[ManifestEntry], staged: dict[str, str], stale: list[Path],
                 progress: _Progress) -> list[ManifestEntry]:
        """Move the complete, verified files a killed download left in its staging folder into this
        one (a re-run after SIGKILL fetches only what is missing); return the entries still to fetch."""
        if not stale:
            return wanted
        todo = []
        for entry in wanted:
            name = staged_name(entry.path)
            for folder in stale:
                candidate = folder / name
                try:
                    st = os.lstat(candidate)
                    complete = (stat.S_ISREG(st.st_mode) and entry.ref is None and entry.size in (None, st.st_size)
                                and file_digest(candidate, entry.algorithm) == entry.digest)
                    if complete:
                        os.rename(candidate, staged[entry.path])
                except (OSError, WandbError):
                    complete = False
                if complete:
                    self._count(cached=st.st_size)
                    progress.advance(1, st.st_size)
                    self._record(entry, entry.algorithm, entry.digest, st.st_size)
                    break
            else:
                todo.append(entry)
        if len(todo) < len(wanted):
            log.info("Reused %d file(s) a killed download had already fetched and verified.", len(wanted) - len(todo))
        return todo

    def _fetch_all(self, todo: list[ManifestEntry], staged: dict[str, str], progress: _Progress) -> None:
        """Fetch on the worker pool; stop it on the first failure or any interruption."""
        def cancelled() -> BaseException:  # WandbClient.cancel() (e.g. Airflow's on_kill): nothing is published
            return CancelledError("download cancelled; the root was left as it was.",
                                  hint="Run the task again to download it.")

        pool: WorkerPool[ManifestEntry] = WorkerPool(
            lambda entry: self.fetch(entry, staged[entry.path], progress), workers=self.max_workers,
            stop=self.cancel, name="wandb-download", cancelled=cancelled, quiet=(_Cancelled,), idle=self.idle)
        try:
            for entry in todo:
                pool.put(entry)
            pool.finish()
        except BaseException:
            pool.close(join=False)  # SIGTERM, timeouts, Ctrl-C: workers stop between chunks; nothing is published
            raise


def staged_name(path: str) -> str:
    """The staging file of an entry, inside the staging folder: the same in every run, so a re-run
    can find a killed run's. Files go into 16 subfolders: creating a file locks its folder, and on
    ext4 creating an inode costs ~0.3 ms of CPU, so workers creating files in one folder queue
    behind each other (bench/README.md, "Honest limits")."""
    name = hashlib.sha256(path.encode("utf-8", "surrogatepass")).hexdigest()[:40]
    return f"{name[0]}/{name}"


def _about(error: WandbError, subject: str) -> WandbError:
    """The same error, its message prefixed with what was being fetched."""
    try:
        return type(error)(f"{subject}: {error.message}", operation=error.operation, status=error.status,
                           hint=error.hint, transient=error.transient)
    except TypeError:  # an error class with another signature: keep it as it is
        return error


def _close_when_idle(downloader: Downloader, cache: BlobCache) -> None:
    """Close the cache's folder descriptors once no worker can use them (a cancelled download's
    workers may still be finishing a file)."""
    if downloader.idle.is_set():
        cache.close()
        return

    def close_later() -> None:
        downloader.idle.wait()
        cache.close()

    threading.Thread(target=close_later, name="wandb-download-cache-close", daemon=True).start()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _links_protect() -> bool:
    """Whether a read-only hard link protects the cache: not for root, whom mode bits never stop
    (a root process's edit of one linked file would reach the cache and every root linked to it).
    Root gets copies instead (README, "Safety")."""
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        log.info("link_from_cache: running as root, whom read-only files do not stop; copying from the "
                 "cache instead of hard-linking.")
        return False
    return True


def _make_read_only(path: str) -> None:
    mode = os.stat(path).st_mode
    os.chmod(path, stat.S_IMODE(mode) & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


# --- verify -------------------------------------------------------------------------------------


def _matches_on_disk(entry: ManifestEntry, st: os.stat_result, path: Path, placed: Record | None) -> bool | None:
    """Whether the file holds the entry's bytes; None when nothing recorded can tell (a reference
    without a content hash that the provider did not place: its size alone proves nothing)."""
    if entry.size is not None and st.st_size != entry.size:
        return False
    try:
        if has_content_digest(entry):
            return file_digest(path, entry.algorithm) == entry.digest
        # A reference's ETag is no hash of its bytes; the bytes the provider placed (checked against
        # that ETag and size when downloaded) were recorded in the root's ledger with their MD5.
        if placed is None or placed.source != entry.digest or placed.alg != "md5" or not placed.digest:
            return None
        return placed.size == st.st_size and file_digest(path, "md5") == placed.digest
    except (OSError, WandbError):
        return False


def verify_root(manifest: Manifest, root: Path, *, allow_unverifiable: bool = False,
                ledger_keys: Path | None = None) -> VerifyReport:
    """Compare ``root`` with the manifest: missing, unexpected and mismatched files.

    Links are never followed: a link where a file should be counts as mismatched. The provider's
    ledger folder is not the user's content and is ignored. A reference entry (http, S3, GCS) whose
    bytes no recorded checksum covers is *unverifiable*, and fails the report unless
    ``allow_unverifiable``: a same-size edit must never pass as intact.
    """
    from ._roots import FILE, Tree

    tree = Tree(root)
    missing, mismatched, unverifiable = [], [], []
    from ._roots import default_key_dir, ledger_key

    try:
        placed = Ledger.load(root / LEDGER_DIR, ledger_key(root, ledger_keys or default_key_dir())).files
    except WandbError:
        placed = {}
    try:
        kinds = tree.walk()
        for entry in manifest:
            kind = kinds.get(entry.path)
            if kind is None:
                missing.append(entry.path)
            elif kind != FILE:
                mismatched.append(entry.path)
            else:
                st = tree.stat(entry.path)
                matches = False if st is None else _matches_on_disk(entry, st, root / entry.path,
                                                                     placed.get(entry.path))
                if matches is None:
                    unverifiable.append(entry.path)
                elif not matches:
                    mismatched.append(entry.path)
    except OSError as exc:
        raise local_file_error(exc, "read the folder to verify", root) from exc
    unexpected = sorted(rel for rel, kind in kinds.items() if kind != "folder" and rel not in manifest.entries)
    return VerifyReport(root=str(root), checked=len(manifest), missing=tuple(missing),
                        mismatched=tuple(mismatched), unexpected=tuple(unexpected),
                        unverifiable=tuple(unverifiable), unverifiable_allowed=allow_unverifiable)



# --- one call -----------------------------------------------------------------------------------

MODES = ("merge", "checkout")


def check_options(mode: object, max_workers: object, progress: object, include: Patterns = None,
                  exclude: Patterns = None, **flags: object) -> None:
    """Refuse option values of the wrong kind before any request (text from templates included)."""
    _patterns("include", include)
    _patterns("exclude", exclude)
    if mode not in MODES:
        raise InvalidValueError(f"mode must be 'merge' or 'checkout', not {mode!r}.",
                                hint="'merge' adds files and keeps the rest; 'checkout' also removes files an "
                                     "earlier download placed that this version does not have.")
    for name, value in flags.items():
        if not isinstance(value, bool):
            raise InvalidValueError(f"{name} must be True or False, not {value!r}.")
    if max_workers is not None and (not isinstance(max_workers, int) or isinstance(max_workers, bool)
                                    or max_workers < 1):
        raise InvalidValueError(f"max_workers must be a whole number of at least 1, not {max_workers!r}.")
    if progress is not None and not callable(progress):
        raise InvalidValueError(f"progress must be a callable taking a ProgressUpdate, not {progress!r}.")


def identity_of(version: Any) -> Identity:
    """The ledger's name for a version: its id, its source collection and its qualified name."""
    source = "/".join((version.source_entity or version.entity, version.source_project or version.project,
                       version.source_name or version.name))
    return Identity(key=version.id, sequence=source, name=version.qualified_name, digest=version.digest)


def download_entries(downloader: Downloader, version: Any, entries: list[ManifestEntry], root: Path, *, mode: str,
                     remove_foreign: bool, cache: BlobCache | None) -> DownloadResult:
    """Run one download and keep the cache within its size limit."""
    try:
        result = downloader.run(entries, root, mode=mode, identity=identity_of(version),
                                remove_foreign=remove_foreign)
    finally:
        if cache is not None:
            _close_when_idle(downloader, cache)
    if cache is not None:
        cache.evict()
    return result
