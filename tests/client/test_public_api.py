"""The client's public names are pinned, and importing it never imports Airflow."""

from __future__ import annotations

import pickle
import subprocess
import sys

import wandb_provider.client as client_module
from wandb_provider.client import ArtifactNotFoundError, MissingMetadataKeyError, NotFoundError, ServerError


def test_exported_names_are_pinned() -> None:
    assert client_module.__all__ == sorted(client_module.__all__)
    assert set(client_module.__all__) == {
        "AliasChange", "AliasConflictError", "ArtifactIntegrityError", "ArtifactNotFoundError", "ArtifactPath",
        "ArtifactVersion", "AuthenticationError", "InvalidValueError", "CancelledError", "ClientConfig",
        "ConditionNotMetError", "DeleteOutcome", "DownloadResult", "FileUrl", "GateResult",
        "InvalidArtifactPathError", "LocalFileError", "MalformedResponseError", "Manifest", "ManifestEntry",
        "MetadataConflictError", "MissingMetadataKeyError", "NotFoundError", "PermissionDeniedError",
        "ProgressUpdate", "ProtectedAliasError", "ReferenceNotAllowedError", "RootBusyError", "RootConflictError",
        "ServerError", "TermResult", "UnsafePathError", "UnsupportedReferenceError", "VerifyReport", "Viewer",
        "WandbClient", "WandbError", "WandbRun", "evaluate_gate",
    }


def test_client_never_imports_airflow() -> None:
    code = "import sys, wandb_provider.client; print(any(m.split('.')[0] == 'airflow' for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_errors_survive_pickling_with_their_attributes() -> None:
    error = ServerError("boom", attempts=3, last_status=503, operation="Viewer", hint="later")
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.attempts, copy.last_status, copy.operation, str(copy)) == (3, 503, "Viewer", "boom later")
    assert isinstance(pickle.loads(pickle.dumps(ArtifactNotFoundError("x"))), NotFoundError)
    missing = pickle.loads(pickle.dumps(MissingMetadataKeyError("gate", missing=("a",), available=("b",),
                                                                suggestions={"a": "b"})))
    assert (missing.missing, missing.available, missing.suggestions) == (("a",), ("b",), {"a": "b"})
