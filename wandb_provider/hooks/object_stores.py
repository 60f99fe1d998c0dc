"""Object stores for the client, built from Airflow's own hooks: S3 (``aws_conn_id``) and GCS (``gcp_conn_id``).

The client reads and logs ``s3://``/``gs://`` references through ``wandb_provider.client.object_stores``;
these adapters fill that interface from ``apache-airflow-providers-amazon``'s ``S3Hook`` and
``apache-airflow-providers-google``'s ``GCSHook`` (the extras ``amazon`` and ``google``), so the
credentials, endpoints and regions are the Airflow connection's. Every cloud error leaves as one of
the client's typed errors, with no credential and no signed URL in its text.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from ..client import ClientConfig, WandbError
from ..client.errors import (
    InvalidValueError,
    NotFoundError,
    PermissionDeniedError,
    ServerError,
    UnsupportedReferenceError,
)
from ..client.object_stores import ObjectInfo, ObjectReader, ObjectStore

__all__ = ["EXTRAS", "GCSObjectStore", "ObjectStoreExtraMissingError", "S3ObjectStore", "advise_missing_store",
           "object_stores_for"]

MESSAGE_CHARS = 300
# Per URI scheme: the provider's extra, the operators' connection argument and the Airflow provider
# whose hook reads that store.
EXTRAS = {"s3": ("amazon", "aws_conn_id", "apache-airflow-providers-amazon"),
          "gs": ("google", "gcp_conn_id", "apache-airflow-providers-google")}


def advise_missing_store(error: UnsupportedReferenceError) -> UnsupportedReferenceError:
    """The client's "no object store for s3://" error, saying which task argument gives one."""
    if error.missing_store not in EXTRAS:
        return error
    extra, conn_param, package = EXTRAS[error.missing_store]
    error.message = (error.message.partition(":// references")[0] + f":// references are read through "
                     f"{package}'s hook with an Airflow connection, and none was given.")
    error.hint = (f"Pass {conn_param}=... to the operator (with the provider's {extra!r} extra installed: "
                  f"pip install 'airflow-provider-wandb[{extra}]'), or skip such entries with exclude=[...].")
    return error


class ObjectStoreExtraMissingError(WandbError, ImportError):
    """``aws_conn_id``/``gcp_conn_id`` without the Airflow provider that reads that store."""


def _missing(extra: str, package: str, conn_param: str, error: ImportError) -> ObjectStoreExtraMissingError:
    return ObjectStoreExtraMissingError(
        f"{conn_param} was given, but {package} cannot be imported ({error}), so s3:// or gs:// references "
        "cannot be read.",
        hint=f"Install the provider's {extra!r} extra: pip install 'airflow-provider-wandb[{extra}]'.")


def object_stores_for(aws_conn_id: str | None = None, gcp_conn_id: str | None = None,
                      config: ClientConfig | None = None) -> dict[str, ObjectStore]:
    """The stores the operator's connections allow (none without a connection id); S3 gets the
    client's timeouts and one pooled connection per parallel download."""
    config = config or ClientConfig()
    stores: dict[str, ObjectStore] = {}
    if aws_conn_id:
        try:
            from airflow.providers.amazon.aws.hooks.s3 import S3Hook
        except ImportError as exc:
            raise _missing("amazon", "apache-airflow-providers-amazon", "aws_conn_id", exc) from None
        defaults = {"max_pool_connections": config.max_workers, "connect_timeout": config.connect_timeout,
                    "read_timeout": config.timeout}
        stores["s3"] = S3ObjectStore(S3Hook(aws_conn_id=aws_conn_id), aws_conn_id, defaults)
    if gcp_conn_id:
        try:
            from airflow.providers.google.cloud.hooks.gcs import GCSHook
        except ImportError as exc:
            raise _missing("google", "apache-airflow-providers-google", "gcp_conn_id", exc) from None
        stores["gs"] = GCSObjectStore(GCSHook(gcp_conn_id=gcp_conn_id), gcp_conn_id)
    return stores


def _short(error: BaseException) -> str:
    return str(error).replace("\n", " ")[:MESSAGE_CHARS]


class _Reader:
    """An open object: its description and its body, read through ``translate``."""

    def __init__(self, info: ObjectInfo, read: Callable[[int], Iterable[bytes]],
                 translate: Callable[[], AbstractContextManager[None]]) -> None:
        self.info = info
        self._read = read
        self._translate = translate

    def chunks(self, size: int) -> Iterator[bytes]:
        with self._translate():
            yield from self._read(size)


class _LazyClient:
    """The hook's SDK client, made once on first use (thread-safe)."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make = make
        self._client: Any = None
        self._lock = threading.Lock()

    def get(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = self._make()
            return self._client


# --- S3 -----------------------------------------------------------------------------------------

_S3_NOT_FOUND = frozenset({"404", "NoSuchKey", "NoSuchVersion", "NoSuchBucket", "NotFound"})
_S3_DENIED = frozenset({"401", "403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken",
                        "InvalidToken", "TokenRefreshRequired", "AllAccessDisabled", "AccountProblem"})
_S3_TRANSIENT = frozenset({"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "InternalError",
                           "ServiceUnavailable", "503", "500"})


class S3ObjectStore:
    """``s3://`` through ``S3Hook``: the boto3 client of the connection ``aws_conn_id``."""

    scheme = "s3"

    def __init__(self, hook: Any, conn_id: str, defaults: dict[str, Any] | None = None) -> None:
        self._conn_id = conn_id
        self._client = _LazyClient(lambda: self._make(hook, defaults or {}))

    @staticmethod
    def _make(hook: Any, defaults: dict[str, Any]) -> Any:
        """The hook's boto3 client; ``defaults`` apply where the connection's ``config_kwargs`` say nothing."""
        if not defaults:
            return hook.get_conn()
        from botocore.config import Config

        return hook.get_client_type(region_name=hook.region_name, config=Config(**defaults).merge(hook.config))

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        """botocore's errors as the client's typed errors."""
        from botocore import exceptions as bx

        conn = f"connection {self._conn_id!r}"
        try:
            yield
        except bx.ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            message = str(error.get("Message") or code)[:MESSAGE_CHARS]
            if code in _S3_NOT_FOUND or status == 404:
                raise NotFoundError(f"{what}: S3 has no such bucket, object or version ({code}).", status=404,
                                    hint="Check the URI and version, or exclude the entry with exclude=[...].",
                                    ) from None
            if code in _S3_DENIED or status in (401, 403):
                raise PermissionDeniedError(
                    f"{what}: S3 refused the credentials of {conn} ({code}: {message}).", status=status,
                    hint=f"Check {conn}'s keys, role and the bucket policy.") from None
            if code in _S3_TRANSIENT or (isinstance(status, int) and (status >= 500 or status == 429)):
                raise ServerError(f"{what}: S3 answered {code} ({message}).", last_status=status,
                                  hint="This is usually temporary: try again later.") from None
            raise InvalidValueError(f"{what}: S3 refused the request ({code}: {message}).", status=status) from None
        except (bx.NoCredentialsError, bx.PartialCredentialsError, bx.NoRegionError) as exc:
            raise PermissionDeniedError(f"{what}: {conn} gives no usable AWS credentials or region ({_short(exc)}).",
                                        hint=f"Set {conn}'s keys (or role) and region.") from None
        except (bx.EndpointConnectionError, bx.ConnectionError, bx.HTTPClientError, bx.IncompleteReadError,
                bx.ResponseStreamingError) as exc:
            raise ServerError(f"{what}: S3 could not be reached or broke off ({type(exc).__name__}).",
                              hint="This is usually temporary: try again later.") from None
        except bx.BotoCoreError as exc:
            raise InvalidValueError(f"{what}: {type(exc).__name__}: {_short(exc)}",
                                    hint=f"Check {conn}'s settings.") from None

    @staticmethod
    def _request(bucket: str, key: str, version_id: str | None) -> dict[str, str]:
        request = {"Bucket": bucket, "Key": key}
        if version_id:
            request["VersionId"] = version_id
        return request

    def head(self, bucket: str, key: str, version_id: str | None = None) -> ObjectInfo:
        with self._errors(f"read s3://{bucket}/{key}"):
            answer = self._client.get().head_object(**self._request(bucket, key, version_id))
        return _s3_info(key, answer)

    @contextmanager
    def open(self, bucket: str, key: str, version_id: str | None = None) -> Iterator[ObjectReader]:
        what = f"download s3://{bucket}/{key}"
        with self._errors(what):
            answer = self._client.get().get_object(**self._request(bucket, key, version_id))
        body = answer["Body"]
        try:
            yield _Reader(_s3_info(key, answer), body.iter_chunks, lambda: self._errors(what))
        finally:
            body.close()

    def list(self, bucket: str, prefix: str) -> Iterator[ObjectInfo]:
        """Current objects with their version ids (``ListObjectVersions``), or without them
        (``ListObjectsV2``) when the credentials may not list versions."""
        what = f"list s3://{bucket}/{prefix}"
        listed = False
        try:
            for info in self._list_versions(bucket, prefix, what):
                listed = True
                yield info
        except PermissionDeniedError:
            if listed:
                raise
            yield from self._list_current(bucket, prefix, what)

    def _list_versions(self, bucket: str, prefix: str, what: str) -> Iterator[ObjectInfo]:
        with self._errors(what):
            pages = iter(self._client.get().get_paginator("list_object_versions").paginate(Bucket=bucket,
                                                                                        Prefix=prefix))
        while True:
            with self._errors(what):
                page = next(pages, None)
            if page is None:
                return
            for item in page.get("Versions", []):
                if item.get("IsLatest"):
                    yield ObjectInfo(key=item["Key"], size=int(item["Size"]), etag=_unquote(item["ETag"]),
                                     version_id=item.get("VersionId"))

    def _list_current(self, bucket: str, prefix: str, what: str) -> Iterator[ObjectInfo]:
        with self._errors(what):
            pages = iter(self._client.get().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix))
        while True:
            with self._errors(what):
                page = next(pages, None)
            if page is None:
                return
            for item in page.get("Contents", []):
                yield ObjectInfo(key=item["Key"], size=int(item["Size"]), etag=_unquote(item["ETag"]))


def _unquote(etag: str) -> str:
    return etag.strip().removeprefix("W/").strip('"')


def _s3_info(key: str, answer: dict[str, Any]) -> ObjectInfo:
    """A HEAD or GET answer. A single-part ETag of an unencrypted or SSE-S3 object is the MD5 of its bytes
    (AWS S3 docs, "Checking object integrity"), so the download checks the bytes against it."""
    etag = _unquote(str(answer.get("ETag", "")))
    md5: str | None = None
    plain = answer.get("ServerSideEncryption") in (None, "AES256") and not answer.get("SSECustomerAlgorithm")
    if plain and len(etag) == 32 and all(c in "0123456789abcdef" for c in etag.lower()):
        md5 = base64.b64encode(bytes.fromhex(etag)).decode()
    version = answer.get("VersionId")
    return ObjectInfo(key=key, size=int(answer.get("ContentLength", 0)), etag=etag,
                      version_id=version if version and version != "null" else None, content_md5=md5,
                      is_folder="x-directory" in str(answer.get("ContentType", "")))


# --- GCS ----------------------------------------------------------------------------------------


class GCSObjectStore:
    """``gs://`` through ``GCSHook``: the ``google.cloud.storage`` client of the connection ``gcp_conn_id``."""

    scheme = "gs"

    def __init__(self, hook: Any, conn_id: str) -> None:
        self._conn_id = conn_id
        self._client = _LazyClient(hook.get_conn)

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        """google-cloud-storage's errors as the client's typed errors."""
        from google.api_core import exceptions as gx
        from google.auth import exceptions as ax

        conn = f"connection {self._conn_id!r}"
        try:
            yield
        except gx.NotFound:
            raise NotFoundError(f"{what}: GCS has no such bucket, object or generation.", status=404,
                                hint="Check the URI and generation, or exclude the entry with exclude=[...].") from None
        except (gx.Forbidden, gx.Unauthorized) as exc:
            raise PermissionDeniedError(f"{what}: GCS refused the credentials of {conn} ({exc.code}).",
                                        status=exc.code, hint=f"Check {conn}'s service account and roles.") from None
        except (gx.TooManyRequests, gx.ServerError, gx.RetryError) as exc:
            raise ServerError(f"{what}: GCS answered {type(exc).__name__}.",
                              hint="This is usually temporary: try again later.") from None
        except gx.GoogleAPICallError as exc:
            raise InvalidValueError(f"{what}: GCS refused the request ({exc.code}).", status=exc.code) from None
        except (ax.DefaultCredentialsError, ax.RefreshError) as exc:
            raise PermissionDeniedError(f"{what}: {conn} gives no usable Google credentials ({type(exc).__name__}).",
                                        hint=f"Set {conn}'s key or service account.") from None
        except ax.TransportError:
            raise ServerError(f"{what}: GCS could not be reached.",
                              hint="This is usually temporary: try again later.") from None
        except (ConnectionError, TimeoutError) as exc:
            raise ServerError(f"{what}: GCS could not be reached ({type(exc).__name__}).",
                              hint="This is usually temporary: try again later.") from None

    def _blob(self, bucket: str, key: str, version_id: str | None) -> Any:
        generation = _generation(version_id, f"gs://{bucket}/{key}")
        blob = self._client.get().bucket(bucket).get_blob(key, generation=generation)
        if blob is None:
            raise NotFoundError(f"read gs://{bucket}/{key}: GCS has no such object or generation.", status=404,
                                hint="Check the URI and generation, or exclude the entry with exclude=[...].")
        return blob

    def head(self, bucket: str, key: str, version_id: str | None = None) -> ObjectInfo:
        with self._errors(f"read gs://{bucket}/{key}"):
            return _gcs_info(self._blob(bucket, key, version_id))

    @contextmanager
    def open(self, bucket: str, key: str, version_id: str | None = None) -> Iterator[ObjectReader]:
        what = f"download gs://{bucket}/{key}"
        with self._errors(what):
            blob = self._blob(bucket, key, version_id)  # pins the generation: the bytes are this object's
            reader = blob.open("rb")

        def read(size: int) -> Iterator[bytes]:
            while chunk := reader.read(size):
                yield chunk

        try:
            yield _Reader(_gcs_info(blob), read, lambda: self._errors(what))
        finally:
            reader.close()

    def list(self, bucket: str, prefix: str) -> Iterator[ObjectInfo]:
        what = f"list gs://{bucket}/{prefix}"
        with self._errors(what):
            blobs = iter(self._client.get().list_blobs(bucket, prefix=prefix))
        while True:
            with self._errors(what):
                blob = next(blobs, None)
            if blob is None:
                return
            yield _gcs_info(blob)


def _generation(version_id: str | None, uri: str) -> int | None:
    if version_id is None:
        return None
    if not str(version_id).isdigit():
        raise InvalidValueError(f"{uri}: generation {version_id!r} is not a number.")
    return int(version_id)


def _gcs_info(blob: Any) -> ObjectInfo:
    """GCS's ETag (what W&B records), its generation and, for non-composite objects, its MD5."""
    return ObjectInfo(key=blob.name, size=int(blob.size or 0), etag=str(blob.etag or ""),
                      version_id=str(blob.generation) if blob.generation is not None else None,
                      content_md5=blob.md5_hash or None, is_folder=blob.name.endswith("/"))
