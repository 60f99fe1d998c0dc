"""W&B artifacts client: one urllib3 transport, retries on tenacity; framework-free (never names Airflow).

>>> from wandb_provider.client import WandbClient
>>> client = WandbClient.from_env()
>>> client.artifact("acme/churn/churn-model:production").version
"""

from __future__ import annotations

from .client import WandbClient
from .conditions import GateResult, TermResult, evaluate_gate
from .config import ClientConfig
from .errors import (
    AliasConflictError,
    ArtifactIntegrityError,
    ArtifactNotFoundError,
    AuthenticationError,
    CancelledError,
    ConditionNotMetError,
    InvalidArtifactPathError,
    InvalidValueError,
    LocalFileError,
    MalformedResponseError,
    MetadataConflictError,
    MissingMetadataKeyError,
    NotFoundError,
    PermissionDeniedError,
    ProtectedAliasError,
    ReferenceNotAllowedError,
    RootBusyError,
    RootConflictError,
    ServerError,
    UnsafePathError,
    UnsupportedReferenceError,
    WandbError,
)
from .manifest import Manifest, ManifestEntry
from .models import (
    AliasChange,
    ArtifactVersion,
    DeleteOutcome,
    DownloadResult,
    FileUrl,
    ProgressUpdate,
    VerifyReport,
    Viewer,
    WandbRun,
)
from .paths import ArtifactPath

__all__ = [
    "AliasChange",
    "AliasConflictError",
    "ArtifactIntegrityError",
    "ArtifactNotFoundError",
    "ArtifactPath",
    "ArtifactVersion",
    "AuthenticationError",
    "CancelledError",
    "ClientConfig",
    "ConditionNotMetError",
    "DeleteOutcome",
    "DownloadResult",
    "FileUrl",
    "GateResult",
    "InvalidArtifactPathError",
    "InvalidValueError",
    "LocalFileError",
    "MalformedResponseError",
    "Manifest",
    "ManifestEntry",
    "MetadataConflictError",
    "MissingMetadataKeyError",
    "NotFoundError",
    "PermissionDeniedError",
    "ProgressUpdate",
    "ProtectedAliasError",
    "ReferenceNotAllowedError",
    "RootBusyError",
    "RootConflictError",
    "ServerError",
    "TermResult",
    "UnsafePathError",
    "UnsupportedReferenceError",
    "VerifyReport",
    "Viewer",
    "WandbClient",
    "WandbError",
    "WandbRun",
    "evaluate_gate",
]
