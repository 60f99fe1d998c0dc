"""Typed errors of the W&B artifacts client.

::

    WandbError                      .operation, .status, .hint; never holds the API key
    ├── InvalidArtifactPathError    also ValueError; raised before any request
    ├── UnsafePathError             also ValueError; a manifest path that would escape the root
    ├── InvalidValueError           also ValueError; a value that cannot be used: refused by our own
    │   │                           checks before any request, or by W&B (400/422: .status, .operation)
    │   └── MissingMetadataKeyError  a gate names a metadata key the version does not have
    ├── UnsupportedReferenceError   also ValueError; a reference scheme this client cannot fetch
    │   └── ReferenceNotAllowedError  a file:// or private-address reference the caller did not allow
    ├── AuthenticationError         401: missing or unknown API key
    ├── PermissionDeniedError       403 or a permission error from GraphQL
    │   └── ProtectedAliasError     a protected registry alias, for registry admins only
    ├── NotFoundError
    │   └── ArtifactNotFoundError
    ├── AliasConflictError          a guard found another holder, or another writer raced this one
    ├── MetadataConflictError       concurrent metadata writers kept undoing this one (transient)
    ├── ConditionNotMetError        a metadata gate (``require=``) does not hold; ``.failures``
    ├── ArtifactIntegrityError      bytes or a manifest that do not match their digest
    ├── MalformedResponseError      W&B (or a proxy) answered something that is not W&B's protocol
    ├── LocalFileError              a local filesystem problem (permissions, space, names); ``.path``
    │   ├── RootConflictError       the root holds something the provider did not put there
    │   └── RootBusyError           another download holds the root's lock (transient)
    ├── CancelledError              the caller cancelled (SIGTERM, timeout, mark failed)
    └── ServerError                 transient (5xx, 429, timeouts), raised once retries are spent

``transient`` tells callers (the sensor, Airflow's task retries) whether trying later can help; it is
a class default that one error may override (``LocalFileError`` for a full disk is transient).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ._redact import scrub


class WandbError(Exception):
    """Base class: what was asked, what went wrong, and what to do."""

    transient: bool = False

    def __init__(
        self,
        message: str,
        *,
        operation: str | None = None,
        status: int | None = None,
        hint: str | None = None,
        transient: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.operation = operation
        self.status = status
        self.hint = hint
        if transient is not None:
            self.transient = transient

    def __str__(self) -> str:
        return f"{self.message} {self.hint}" if self.hint else self.message

    def __reduce__(self) -> tuple[Any, ...]:
        # Keep the keyword attributes when pickled (Airflow ships exceptions between processes).
        return (_rebuild, (type(self), self.message, self.__dict__))


def _rebuild(cls: type[WandbError], message: str, state: dict[str, Any]) -> WandbError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error


class InvalidArtifactPathError(WandbError, ValueError):
    """A path, name or alias that breaks W&B's naming rules."""


class UnsafePathError(WandbError, ValueError):
    """A manifest entry whose path is absolute or would leave the download root."""


class InvalidValueError(WandbError, ValueError):
    """A value that cannot be used as given (an argument of the client, an operator, the sensor or the
    command line): refused by our own checks before any request (``operation`` and ``status`` unset),
    or by W&B (HTTP 400/422, a GraphQL validation error: ``operation`` names the request)."""


class UnsupportedReferenceError(WandbError, ValueError):
    """A manifest reference (e.g. ``s3://``) this client cannot materialise.

    ``missing_store`` is the URI scheme when the reason is that the client was built without an
    object store for it: whoever built the client can then say how to give one.
    """

    missing_store: str | None = None


class ReferenceNotAllowedError(UnsupportedReferenceError):
    """A ``file://`` reference outside the allowed folders, or an ``http(s)`` reference to a private address."""


class AuthenticationError(WandbError):
    """The API key is missing or not recognised."""


class PermissionDeniedError(WandbError):
    """The key is valid but may not do this."""


class ProtectedAliasError(PermissionDeniedError):
    """Only registry admins may add, remove or unlink a protected alias."""


class NotFoundError(WandbError):
    """The entity, project, collection or file does not exist (or is not visible to this key)."""


class ArtifactNotFoundError(NotFoundError):
    """No artifact version answers to this path."""


class AliasConflictError(WandbError):
    """An alias is held by another version than the caller required."""


class MetadataConflictError(WandbError):
    """Another writer changed a version's metadata while this one wrote it (W&B has no compare-and-set);
    re-running the merge later can succeed."""

    transient = True


class ConditionNotMetError(WandbError):
    """A metadata gate does not hold on the version; ``failures`` names each failed condition."""

    def __init__(self, message: str, *, failures: tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.failures = failures


class MissingMetadataKeyError(InvalidValueError):
    """A gate names a metadata key the version does not have (a typo, most often): the gate cannot be
    decided, so it fails closed. ``missing`` names the keys, ``available`` the keys the metadata has,
    ``suggestions`` the close matches."""

    def __init__(self, message: str, *, missing: tuple[str, ...] = (), available: tuple[str, ...] = (),
                 suggestions: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.missing, self.available = missing, available
        self.suggestions = dict(suggestions or {})


class ArtifactIntegrityError(WandbError):
    """Downloaded or cached bytes, or a manifest, do not match their digest or size."""


class MalformedResponseError(WandbError):
    """An answer that is not W&B's protocol (not JSON, missing fields, wrong types): often a proxy or
    a partial answer, so trying again later may help."""

    transient = True


class LocalFileError(WandbError):
    """A local filesystem problem; ``path`` names the file or folder. Transient only where waiting can
    help (a full disk, a busy lock), never for permissions or invalid names."""

    def __init__(self, message: str, *, path: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.path = path


class RootConflictError(LocalFileError):
    """The download root holds files or folders the provider did not put there; nothing was changed."""


class RootBusyError(LocalFileError):
    """Another download is writing into the same root right now."""

    transient = True


class CancelledError(WandbError):
    """The caller cancelled the operation (SIGTERM, ``execution_timeout``, mark failed)."""


class ServerError(WandbError):
    """W&B kept failing (5xx, 429, timeouts, resets) until the retry budget ran out."""

    transient = True

    def __init__(self, message: str, *, attempts: int = 0, last_status: int | None = None, **kwargs: Any) -> None:
        super().__init__(message, status=last_status, **kwargs)
        self.attempts = attempts
        self.last_status = last_status


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` fit for a log line or an error message: every URL without its user info, query
    (signatures) or fragment, and every one of ``secrets`` (e.g. the API key) as ``***``. The
    client's own redaction, for the layers built on it."""
    return scrub(text, secrets)
