"""Reference entries of a logged artifact: ``http(s)://`` URLs and ``file://`` paths, never uploaded.

Recorded as W&B's SDK records them (W&B docs, "Track external files"): an http(s) entry's digest is
its ETag without quotes (the URL itself when there is none), ``size`` its ``Content-Length`` and
``extra.etag`` the raw ETag; a ``file://`` entry's digest is the base64 MD5 of the file, one entry per
file of a folder. The same policy as downloads: loopback, private and link-local hosts only when
``ClientConfig.allowed_reference_hosts`` allows them, local files only under
``ClientConfig.allowed_file_reference_roots``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

from ._redact import redact_url
from ._references import ReferencePolicy
from ._sources import check_name
from .config import ClientConfig
from .errors import BadRequestError, ReferenceNotAllowedError, UnsupportedReferenceError
from .manifest import ManifestEntry
from .values import as_str_list, looks_like_list, parse_literal

if TYPE_CHECKING:
    from ._transport import Transport


@dataclass(frozen=True)
class Reference:
    """A reference the caller asked for: its name in the artifact and its URI."""

    name: str
    uri: str

    @property
    def scheme(self) -> str:
        return urlsplit(self.uri).scheme.lower()


def parse_references(references: Any, config: ClientConfig) -> list[Reference]:
    """Check names, schemes and the address policy; no request is sent."""
    if isinstance(references, str) and references.strip().startswith("{"):
        references = parse_literal(references, "references")
    pairs: list[tuple[str | None, str]]
    if isinstance(references, Mapping):
        pairs = [(str(k), v) for k, v in references.items()]
    elif isinstance(references, str) and not looks_like_list(references):
        pairs = [(None, references)] if references.strip() else []
    else:
        pairs = [(None, u) for u in as_str_list(references, "references")]
    result = []
    for name, uri in pairs:
        if not isinstance(uri, str) or not uri.strip():
            raise BadRequestError(f"references: {uri!r} is not a URL.")
        parts = urlsplit(uri)
        scheme = parts.scheme.lower()
        if scheme in ("http", "https"):
            if not parts.hostname:
                raise BadRequestError(f"references: {redact_url(uri)!r} names no host.")
            check_host(uri, config)
            default = PurePosixPath(unquote(parts.path)).name
        elif scheme == "file":
            check_file(file_path(uri), config)
            default = Path(file_path(uri)).name
        else:
            raise UnsupportedReferenceError(
                f"references: {redact_url(uri)!r}: only http(s):// and file:// references can be logged.",
                hint="Upload the file instead, or log it from a task with access to that storage.",
            )
        result.append(Reference(check_name(name.strip("/") if name else default), uri))
    return result


def file_path(uri: str) -> str:
    parts = urlsplit(uri)
    if parts.netloc not in ("", "localhost"):
        raise ReferenceNotAllowedError(f"references: {uri!r} names another machine; file:// must be local.")
    return unquote(parts.path)


def _policy(config: ClientConfig) -> ReferencePolicy:
    return ReferencePolicy.of(config.allowed_file_reference_roots, config.allowed_reference_hosts)


def check_file(path: str, config: ClientConfig) -> None:
    """Refuse a local file that is not under ``allowed_file_reference_roots`` (the download rule)."""
    _policy(config).check_file_path(ManifestEntry(path=path, digest="", ref=f"file://{quote(path)}"))


def check_host(url: str, config: ClientConfig) -> None:
    """Refuse a URL that reaches a loopback, private, link-local or reserved address unless
    ``allowed_reference_hosts`` names it (the download rule)."""
    _policy(config).check_http(ManifestEntry(path=url, digest="", ref=url), url)


def http_entry(transport: Transport, reference: Reference, cancel: Any = None) -> dict[str, Any]:
    """HEAD (or, if refused, GET) the URL for its ETag and size; the manifest entry W&B's SDK writes."""
    from ._transport import raise_for_status

    config = transport.config
    what = f"read the ETag of reference {reference.name!r} ({redact_url(reference.uri)})"
    guard = lambda url: check_host(url, config)  # noqa: E731 - redirects are checked too
    response = transport.request("HEAD", reference.uri, operation="reference HEAD", what=what, authenticated=False,
                                 url_guard=guard, cancel=cancel)
    if response.status in (403, 405, 501):
        response = transport.request("GET", reference.uri, operation="reference GET", what=what,
                                     authenticated=False, url_guard=guard, cancel=cancel, stream=True)
        response.close()
    raise_for_status(response, "reference", what)
    etag = response.header("ETag")
    entry: dict[str, Any] = {"digest": _strip(etag) if etag else response.url, "ref": response.url}
    length = response.header("Content-Length")
    if length is not None and length.isdigit():
        entry["size"] = int(length)
    if etag:
        entry["extra"] = {"etag": etag}
    return entry


def _strip(etag: str) -> str:
    etag = etag.strip()
    if etag.startswith("W/"):
        etag = etag[2:]
    return etag.strip('"')


def file_entries(reference: Reference) -> list[tuple[str, Path, str]]:
    """``(name, local path, file URI)`` for a file, or every regular file under a folder."""
    path = Path(file_path(reference.uri))
    if path.is_file():
        return [(reference.name, path, reference.uri)]
    if not path.is_dir():
        from .errors import LocalFileError

        raise LocalFileError(f"references: {reference.uri} does not exist.", path=str(path))
    from ._sources import _walk

    return [(check_name(f"{reference.name}/{item.name}"), item.path, "file://" + quote(str(item.path)))
            for item in _walk(path, None)]
