"""``download``, ``download_file`` and ``verify`` as the client offers them: check the options, read the
manifest, then run the engine (``_download``) into a root (``_roots``)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import InvalidValueError, NotFoundError
from .manifest import Manifest, check_entry_path

if TYPE_CHECKING:
    from ._reads import ArtifactRef, Cancellable, Reads
    from .models import ArtifactVersion, DownloadResult, ProgressUpdate, VerifyReport

DOWNLOAD_FILE_OPTIONS = frozenset({"mode", "verify", "cache", "max_workers", "progress", "remove_foreign",
                                   "link_from_cache"})


def download(
    reads: Reads,
    cancellable: Cancellable,
    artifact: ArtifactRef,
    root: str | os.PathLike[str],
    *,
    include: Sequence[str] | str | None,
    exclude: Sequence[str] | str | None,
    mode: str,
    verify: bool,
    cache: bool,
    max_workers: int | None,
    progress: Callable[[ProgressUpdate], None] | None,
    allow_empty: bool,
    remove_foreign: bool,
    link_from_cache: bool,
    progress_interval: float,
) -> DownloadResult:
    """``WandbClient.download``: every option checked before any request, then one manifest read."""
    from ._download import check_options, select
    from ._roots import resolve_root

    check_options(mode, max_workers, progress, include, exclude, verify=verify, cache=cache,
                  allow_empty=allow_empty, remove_foreign=remove_foreign, link_from_cache=link_from_cache)
    if isinstance(progress_interval, bool) or not isinstance(progress_interval, (int, float)) \
            or not 0 < progress_interval < float("inf"):
        raise InvalidValueError(f"progress_interval must be a positive number of seconds, not {progress_interval!r}.")
    target = resolve_root(root)
    version = reads.version(artifact)
    manifest = reads.manifest(version)
    entries = select(manifest, include, exclude, allow_empty=allow_empty)
    return fetch_entries(reads, cancellable, version, entries, target, mode=mode, verify=verify, cache=cache,
                         max_workers=max_workers, progress=progress, remove_foreign=remove_foreign,
                         link_from_cache=link_from_cache, progress_interval=progress_interval)


def fetch_entries(reads: Reads, cancellable: Cancellable, version: ArtifactVersion, entries: list[Any], root: Path,
                  *, mode: str, verify: bool, cache: bool, max_workers: int | None,
                  progress: Callable[[ProgressUpdate], None] | None, remove_foreign: bool,
                  link_from_cache: bool, progress_interval: float = 5.0) -> DownloadResult:
    """Run the download engine on selected entries; ``cancellable`` lets ``WandbClient.cancel`` stop it."""
    from ._cache import BlobCache
    from ._download import Downloader, download_entries
    from ._references import ReferencePolicy

    config = reads.config
    blob_cache = BlobCache(config.cache_dir, config.cache_max_bytes) if cache else None
    downloader = Downloader(
        reads.transport,
        lambda: {u.name: u.url for u in reads.file_urls(version)},
        blob_cache,
        max_workers=max_workers or config.max_workers,
        max_attempts=config.max_retries + 1,
        progress=progress,
        policy=ReferencePolicy.of(config.allowed_file_reference_roots, config.allowed_reference_hosts,
                                  reads.object_stores),
        lock_wait=config.deadline,
        verify=verify,
        link_from_cache=link_from_cache,
        progress_interval=progress_interval,
        backoff=(config.backoff_min, config.backoff_max),
        cache_scope=config.base_url,
        ledger_keys=ledger_keys(),
    )
    with cancellable(downloader.cancel):
        return download_entries(downloader, version, entries, root, mode=mode, remove_foreign=remove_foreign,
                                cache=blob_cache)


def download_file(reads: Reads, cancellable: Cancellable, artifact: ArtifactRef, path: str,
                  root: str | os.PathLike[str], options: dict[str, Any]) -> Path:
    """``WandbClient.download_file``: one entry, with ``download()``'s options."""
    from ._download import check_options
    from ._roots import resolve_root

    if unknown := sorted(set(options) - DOWNLOAD_FILE_OPTIONS):
        raise InvalidValueError(f"download_file() takes no option {', '.join(unknown)}.",
                                hint=f"Its options are {', '.join(sorted(DOWNLOAD_FILE_OPTIONS))}.")
    settings: dict[str, Any] = {"mode": "merge", "verify": True, "cache": True, "max_workers": None,
                                "progress": None, "remove_foreign": False, "link_from_cache": False, **options}
    check_options(settings["mode"], settings["max_workers"], settings["progress"], verify=settings["verify"],
                  cache=settings["cache"], remove_foreign=settings["remove_foreign"],
                  link_from_cache=settings["link_from_cache"])
    check_entry_path(path)
    target = resolve_root(root)
    version = reads.version(artifact)
    entry = reads.manifest(version).entries.get(path)
    if entry is None:
        raise NotFoundError(f"{version.qualified_name} has no file {path!r}.",
                            hint="client.manifest(version).entries lists its files.")
    fetch_entries(reads, cancellable, version, [entry], target, **settings)
    return target / path


def verify(reads: Reads, artifact: ArtifactRef, root: str | os.PathLike[str], *,
           include: str | Sequence[str] | None, exclude: str | Sequence[str] | None,
           allow_unverifiable: bool) -> VerifyReport:
    """``WandbClient.verify``: compare a folder with the version's (selected) entries."""
    from ._download import select, verify_root
    from ._roots import resolve_root

    target = resolve_root(root)
    whole = reads.manifest(reads.version(artifact))
    selected = whole
    if include is not None or exclude is not None:
        chosen = select(whole, include, exclude, allow_empty=False)
        selected = Manifest(entries={e.path: e for e in chosen}, storage_layout=whole.storage_layout)
    report = verify_root(selected, target, allow_unverifiable=allow_unverifiable, ledger_keys=ledger_keys())
    if selected is whole:
        return report
    # The version's files that the selection left out are not "unexpected".
    return dataclasses.replace(report, unexpected=tuple(p for p in report.unexpected if p not in whole.entries))


def ledger_keys() -> Path:
    """Where roots' ledger keys are kept: the provider's state folder, outside every root."""
    from ._roots import default_key_dir

    return default_key_dir()
