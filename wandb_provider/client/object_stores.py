"""Object stores (S3, GCS) as the client sees them: a small interface, no cloud SDK.

The client never holds cloud credentials. Whoever builds the client (e.g. the provider's hook, from
its own connections) hands it one ``ObjectStore`` per URI scheme; reference entries
``s3://`` and ``gs://`` are then read and logged through it, and refused without it (W&B docs,
"Track external files"). Implementations raise the client's typed errors: ``NotFoundError`` for a
missing bucket, object or version, ``AuthenticationError``/``PermissionDeniedError`` for credentials,
``ServerError`` (transient) for what a retry can fix.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol, runtime_checkable
from urllib.parse import parse_qsl, urlsplit

from .errors import InvalidValueError, UnsupportedReferenceError

SCHEMES = ("s3", "gs")


@dataclass(frozen=True)
class ObjectInfo:
    """One object (or one version of it) as the store describes it.

    :param key: The object's key in its bucket.
    :param size: Its length in bytes.
    :param etag: Its ETag without quotes: what W&B records as the entry's digest.
    :param version_id: The S3 version id or GCS generation; None when the bucket keeps no versions.
    :param content_md5: The base64 MD5 of its bytes when the store vouches for it (GCS ``md5Hash``, an
        S3 single-part ETag of an unencrypted or SSE-S3 object); the bytes are then checked against it.
    :param is_folder: A folder marker (S3 ``application/x-directory``, a GCS key ending in ``/``).
    """

    key: str
    size: int
    etag: str
    version_id: str | None = None
    content_md5: str | None = None
    is_folder: bool = False


class ObjectReader(Protocol):
    """An open object: what the store said about it, and its bytes."""

    info: ObjectInfo

    def chunks(self, size: int) -> Iterable[bytes]: ...


@runtime_checkable
class ObjectStore(Protocol):
    """Read access to one kind of object store (``scheme`` is ``"s3"`` or ``"gs"``)."""

    scheme: str

    def head(self, bucket: str, key: str, version_id: str | None = None) -> ObjectInfo:
        """The object (that version, if given); ``NotFoundError`` when there is none."""
        ...

    def open(self, bucket: str, key: str, version_id: str | None = None) -> AbstractContextManager[ObjectReader]:
        """The object's bytes (that version, if given), streamed; closed on exit."""
        ...

    def list(self, bucket: str, prefix: str) -> Iterator[ObjectInfo]:
        """The current objects whose key starts with ``prefix``, in key order, fetched page by page as the
        caller iterates (it stops early at its own limit)."""
        ...


ObjectStores = Mapping[str, ObjectStore]


@dataclass(frozen=True)
class ObjectLocation:
    """``scheme://bucket/key`` and the version it names (S3 ``?versionId=``, GCS ``#generation``)."""

    scheme: str
    bucket: str
    key: str
    version_id: str | None = None

    @property
    def uri(self) -> str:
        """The URI without its version, as W&B's SDK records it in ``ref``."""
        return f"{self.scheme}://{self.bucket}/{self.key}"

    @classmethod
    def parse(cls, uri: str) -> ObjectLocation:
        """Split an object URI the way W&B's SDK does; refuse one without a bucket."""
        try:
            parts = urlsplit(uri)
        except ValueError:
            raise InvalidValueError(f"{uri!r} is not a valid object URI.") from None
        scheme = parts.scheme.lower()
        if scheme not in SCHEMES:
            raise InvalidValueError(f"{uri!r} is not an s3:// or gs:// URI.")
        bucket = parts.netloc
        if not bucket or "@" in bucket or any(c.isspace() for c in bucket):
            raise InvalidValueError(f"{uri!r} names no valid bucket.", hint=f"Write {scheme}://BUCKET/KEY.")
        # S3 names a version with ?versionId=, GCS a generation with #NUMBER (as the SDK reads them)
        version = dict(parse_qsl(parts.query)).get("versionId") if scheme == "s3" else parts.fragment
        return cls(scheme, bucket, parts.path[1:], version or None)


def store_for(stores: ObjectStores, scheme: str, what: str) -> ObjectStore:
    """The store for ``scheme``, or an error (``missing_store``) saying that the client has none."""
    store = stores.get(scheme)
    if store is not None:
        return store
    if scheme not in SCHEMES:
        raise UnsupportedReferenceError(f"{what}: {scheme}:// is not an object store this client can read.")
    error = UnsupportedReferenceError(
        f"{what}: {scheme}:// references are read through an object store for {scheme}://, and this client "
        "was given none.",
        hint=f"Build the client with object_stores={{{scheme!r}: ...}}, or skip such entries with exclude=[...].",
    )
    error.missing_store = scheme
    raise error
