"""Materialising reference entries (``ref``): ``http(s)://`` and ``file://``; others are refused."""

from __future__ import annotations

import hashlib
from pathlib import Path
from urllib.parse import unquote, urlparse

from ._hashing import CHUNK, b64
from .errors import ArtifactIntegrityError, NotFoundError, UnsupportedReferenceError
from .manifest import ManifestEntry


def _strip_quotes(etag: str | None) -> str | None:
    if etag is None:
        return None
    etag = etag.strip()
    if etag.startswith("W/"):
        etag = etag[2:]
    return etag.strip('"')


def copy_file_reference(entry: ManifestEntry, dest: Path) -> int:
    """Copy a ``file://`` reference and check its MD5 (unless it was logged with checksum=False)."""
    assert entry.ref is not None
    source = Path(unquote(urlparse(entry.ref).path))
    if not source.is_file():
        raise NotFoundError(
            f"reference {entry.path!r} points at {entry.ref}, which does not exist on this machine.",
            hint="Mount the same path on the worker, or exclude the entry with exclude=[...].",
        )
    md5 = hashlib.md5()
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(source, "rb") as src, open(dest, "wb") as out:
        while chunk := src.read(CHUNK):
            md5.update(chunk)
            out.write(chunk)
    digest = b64(md5.digest())
    unchecked = b64(hashlib.md5(entry.ref.encode()).digest())  # checksum=False (wandb-protocol.md §9.1)
    if entry.digest not in (digest, unchecked):
        raise ArtifactIntegrityError(
            f"reference {entry.path!r} ({entry.ref}) has changed since it was logged: MD5 {digest}, "
            f"manifest {entry.digest}.",
            hint="Log a new version of the artifact for the new content.",
        )
    return dest.stat().st_size


def check_http_reference(entry: ManifestEntry, etag: str | None, size: int) -> None:
    """An http(s) reference matches when its ETag and size match what was recorded."""
    recorded = _strip_quotes(entry.extra.get("etag")) if entry.extra.get("etag") else None
    if recorded is None and entry.digest != entry.ref:
        recorded = entry.digest
    if recorded is not None and _strip_quotes(etag) != recorded:
        raise ArtifactIntegrityError(
            f"reference {entry.path!r} ({entry.ref}) has changed since it was logged: ETag "
            f"{_strip_quotes(etag)!r}, recorded {recorded!r}.",
            hint="Log a new version of the artifact for the new content.",
        )
    if entry.size is not None and size != entry.size:
        raise ArtifactIntegrityError(
            f"reference {entry.path!r} ({entry.ref}) has {size} bytes; {entry.size} were recorded.",
            hint="Log a new version of the artifact for the new content.",
        )


def refuse_reference(entry: ManifestEntry) -> None:
    """Cloud object-store references need credentials this client does not hold."""
    scheme = urlparse(entry.ref or "").scheme
    package = {"s3": "apache-airflow-providers-amazon", "gs": "apache-airflow-providers-google"}.get(scheme)
    where = f"; fetch it with {package}'s hook" if package else ""
    raise UnsupportedReferenceError(
        f"reference {entry.path!r} points at {entry.ref}: {scheme}:// references are not downloaded by this "
        f"provider{where}.",
        hint="Or skip such entries with exclude=[...].",
    )

