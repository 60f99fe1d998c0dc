"""Reference entries of a logged artifact: ``http(s)://``, ``file://``, ``s3://`` and ``gs://``, never uploaded.

Recorded as W&B's SDK records them (W&B docs, "Track external files"): an http(s) entry's digest is
its ETag without quotes (the URL itself when there is none), ``size`` its ``Content-Length`` and
``extra.etag`` the raw ETag; a ``file://`` entry's digest is the base64 MD5 of the file, one entry per
file of a folder. The same policy as downloads: loopback, private and link-local hosts only when
``ClientConfig.allowed_reference_hosts`` allows them, local files only under
``ClientConfig.allowed_file_reference_roots``.

``s3://`` and ``gs://`` references are read through the object store the caller handed the client,
like the SDK's ``add_reference`` (W&B docs, "Track external files"): one object, or every object
under a prefix (a folder) up to ``max_objects``; the digest is the object's ETag, ``size`` its
length, ``extra`` holds ``etag`` and ``versionID`` (S3) or ``versionID`` = the generation (GCS).
``checksum=False`` records the URI only (digest = URI, no size), as the SDK does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

from ._redact import redact_url
from ._references import ReferencePolicy
from ._sources import check_name
from .config import ClientConfig
from .errors import (
    CancelledError,
    InvalidValueError,
    NotFoundError,
    ReferenceNotAllowedError,
    UnsupportedReferenceError,
)
from .manifest import ManifestEntry
from .object_stores import SCHEMES as OBJECT_SCHEMES
from .object_stores import ObjectInfo, ObjectLocation, ObjectStore, ObjectStores, store_for
from .rules import name_list

if TYPE_CHECKING:
    from ._transport import Transport


DEFAULT_MAX_OBJECTS = 10_000_000  # the SDK's default for add_reference(max_objects=None)
SPEC_KEYS = frozenset({"uri", "name", "checksum", "max_objects"})


@dataclass(frozen=True)
class Reference:
    """A reference the caller asked for: its name in the artifact and its URI.

    ``named`` says whether the caller chose the name (else it was derived from the URI);
    ``checksum`` and ``max_objects`` are ``add_reference``'s, for ``s3://`` and ``gs://``.
    """

    name: str
    uri: str
    named: bool = False
    checksum: bool = True
    max_objects: int | None = None
    store: ObjectStore | None = field(default=None, compare=False, repr=False)

    @property
    def scheme(self) -> str:
        return urlsplit(self.uri).scheme.lower()


def _spec(item: Any, name: str | None) -> tuple[str | None, Any, dict[str, Any]]:
    """``(name, uri, options)`` of one reference: a URI, or ``{"uri": ..., "name"?, "checksum"?, "max_objects"?}``."""
    if not isinstance(item, Mapping):
        return name, item, {}
    if unknown := sorted(str(k) for k in set(item) - SPEC_KEYS):
        raise InvalidValueError(f"references: unknown key(s) {', '.join(unknown)} in {dict(item)!r}.",
                                hint="A reference is a URI or {'uri': ..., 'name': ..., 'checksum': ..., "
                                     "'max_objects': ...}.")
    given = item.get("name")
    if given is not None and (not isinstance(given, str) or not given.strip()):
        raise InvalidValueError(f"references: name {given!r} is not a name.")
    if name is not None and given is not None and given != name:
        raise InvalidValueError(f"references: {name!r} is given a second name {given!r}.")
    options = {k: item[k] for k in ("checksum", "max_objects") if k in item}
    return name if name is not None else given, item.get("uri"), options


def _checksum(value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidValueError(f"references: checksum must be True or False, not {value!r}.")
    return value


def _max_objects(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidValueError(f"references: max_objects must be a whole number >= 1, not {value!r}.")
    return value


def parse_references(references: Any, config: ClientConfig, object_stores: ObjectStores | None = None
                     ) -> list[Reference]:
    """Check names, schemes, options and the address policy; no request is sent.

    ``references`` is a URI, a list of URIs or specs, or a mapping ``{name: URI or spec}``; a spec is
    ``{"uri": ..., "name": ..., "checksum": ..., "max_objects": ...}`` (``add_reference``'s arguments).
    Typed: one ``str`` is one URI, never a list or dict literal to parse.
    """
    pairs: list[tuple[str | None, Any]]
    if isinstance(references, Mapping):
        if set(references) <= SPEC_KEYS and "uri" in references:
            pairs = [(None, references)]
        else:
            pairs = [(str(k), v) for k, v in references.items()]
    elif isinstance(references, (list, tuple)) and any(isinstance(item, Mapping) for item in references):
        pairs = [(None, item) for item in references]
    else:
        pairs = [(None, u) for u in name_list(references, "references")]
    result = []
    for given_name, item in pairs:
        name, uri, options = _spec(item, given_name)
        if not isinstance(uri, str) or not uri.strip():
            raise InvalidValueError(f"references: {uri!r} is not a URL.")
        parts = urlsplit(uri)
        scheme = parts.scheme.lower()
        checksum = _checksum(options.get("checksum", True))
        max_objects = _max_objects(options.get("max_objects"))
        if scheme in OBJECT_SCHEMES:
            location = ObjectLocation.parse(uri)
            store = store_for(object_stores or {}, scheme, f"references: {location.uri!r}")
            if checksum:
                default = PurePosixPath(location.key).name or location.bucket
            else:
                default = location.key or location.bucket
            result.append(Reference(check_name(name.strip("/") if name else default), uri, named=bool(name),
                                    checksum=checksum, max_objects=max_objects, store=store))
            continue
        if not checksum or max_objects is not None:
            raise InvalidValueError(f"references: {redact_url(uri)!r}: checksum and max_objects apply to s3:// and "
                                    "gs:// references only.")
        if scheme in ("http", "https"):
            if not parts.hostname:
                raise InvalidValueError(f"references: {redact_url(uri)!r} names no host.")
            check_host(uri, config)
            default = PurePosixPath(unquote(parts.path)).name
        elif scheme == "file":
            check_file(file_path(uri), config)
            default = Path(file_path(uri)).name
        else:
            raise UnsupportedReferenceError(
                f"references: {redact_url(uri)!r}: only http(s)://, file://, s3:// and gs:// references can be "
                "logged.",
                hint="Upload the file instead, or log it from a task with access to that storage.",
            )
        result.append(Reference(check_name(name.strip("/") if name else default), uri, named=bool(name)))
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


def check_host(url: str, config: ClientConfig) -> str | None:
    """Refuse a URL that reaches a loopback, private, link-local or reserved address unless
    ``allowed_reference_hosts`` names it (the download rule); the checked address to connect to."""
    return _policy(config).check_http(ManifestEntry(path=url, digest="", ref=url), url)


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


# --- s3:// and gs:// ----------------------------------------------------------------------------


def object_entries(reference: Reference, cancel: Any = None) -> dict[str, dict[str, Any]]:
    """The manifest entries W&B's SDK writes for ``add_reference(uri, name, checksum, max_objects)``.

    A URI naming an object gives one entry; one naming no object (or a folder marker, or a bucket)
    gives one per object under that folder, at most ``max_objects`` (more is an error, not a silent
    cut). Empty S3 objects and folder markers are skipped, as the SDK does.
    """
    assert reference.store is not None
    store, location = reference.store, ObjectLocation.parse(reference.uri)
    if not reference.checksum:
        return {reference.name: {"digest": location.uri, "ref": location.uri}}
    if location.key:
        try:
            info = store.head(location.bucket, location.key, location.version_id)
        except NotFoundError:
            if location.version_id is not None:
                raise
        else:
            if not info.is_folder:
                return {reference.name: _object_entry(location.scheme, location.bucket, info)}
    limit = reference.max_objects or DEFAULT_MAX_OBJECTS
    folder = location.key.rstrip("/")
    prefix = f"{folder}/" if folder else ""
    entries: dict[str, dict[str, Any]] = {}
    for info in store.list(location.bucket, prefix):
        if cancel is not None and cancel.is_set():
            raise CancelledError(f"log artifact: cancelled while listing {location.uri}.")
        if info.is_folder or info.key.endswith("/") or (location.scheme == "s3" and info.size == 0):
            continue
        if len(entries) == limit:
            raise InvalidValueError(
                f"references: more than {limit} objects under {location.scheme}://{location.bucket}/{prefix}.",
                hint="Pass a larger max_objects for this reference, or reference a narrower prefix.")
        relative = info.key[len(prefix):]
        name = check_name(f"{reference.name}/{relative}" if reference.named else relative)
        entries[name] = _object_entry(location.scheme, location.bucket, info)
    if not entries:
        raise NotFoundError(
            f"references: there is no object {location.uri} and none under {location.scheme}://{location.bucket}/"
            f"{prefix}.", hint="Check the bucket and key (and that the connection's credentials can list them).")
    return entries


def _object_entry(scheme: str, bucket: str, info: ObjectInfo) -> dict[str, Any]:
    """One entry as the SDK's S3/GCS handlers shape it."""
    etag = _strip(info.etag)
    entry: dict[str, Any] = {"digest": etag, "ref": f"{scheme}://{bucket}/{info.key}", "size": info.size}
    if scheme == "s3":
        entry["extra"] = {"etag": etag}
        if info.version_id and info.version_id != "null":
            entry["extra"]["versionID"] = info.version_id
    else:  # the SDK records a GCS object's generation (a number) as its versionID
        generation = info.version_id
        entry["extra"] = {"versionID": int(generation) if generation and generation.isdigit() else generation}
    return entry
