"""Typed errors of the W&B artifacts client.

::

    WandbError                      .operation, .status, .hint; never holds the API key
    ├── InvalidArtifactPathError    also ValueError; raised before any request
    ├── UnsafePathError             also ValueError; a manifest path that would escape the root
    ├── BadRequestError             also ValueError; W&B refused the request's values (400/422)
    ├── UnsupportedReferenceError   also ValueError; a reference scheme this client cannot fetch
    ├── AuthenticationError         401: missing or unknown API key
    ├── PermissionDeniedError       403 or a permission error from GraphQL
    │   └── ProtectedAliasError     a protected registry alias, for registry admins only
    ├── NotFoundError
    │   └── ArtifactNotFoundError
    ├── AliasConflictError          a compare-and-set guard found another holder
    ├── ArtifactIntegrityError      bytes that do not match the manifest
    └── ServerError                 transient (5xx, 429, timeouts), raised once retries are spent

``transient`` tells callers (the sensor, Airflow's task retries) whether trying later can help.
"""

from __future__ import annotations

from typing import Any, ClassVar


class WandbError(Exception):
    """Base class: what was asked, what went wrong, and what to do."""

    transient: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        operation: str | None = None,
        status: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.operation = operation
        self.status = status
        self.hint = hint

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


class BadRequestError(WandbError, ValueError):
    """W&B refused the request's values."""


class UnsupportedReferenceError(WandbError, ValueError):
    """A manifest reference (e.g. ``s3://``) this client cannot materialise."""


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


class ArtifactIntegrityError(WandbError):
    """Downloaded or cached bytes do not match the manifest's digest or size."""


class ServerError(WandbError):
    """W&B kept failing (5xx, 429, timeouts, resets) until the retry budget ran out."""

    transient = True

    def __init__(self, message: str, *, attempts: int = 0, last_status: int | None = None, **kwargs: Any) -> None:
        super().__init__(message, status=last_status, **kwargs)
        self.attempts = attempts
        self.last_status = last_status
