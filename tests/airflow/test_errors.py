"""Errors reach Airflow typed: a retry only where it can help, never a raw OSError/ValueError, never a signature."""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

import pytest

from wandb_provider._airflow import translate_errors
from wandb_provider._compat import AirflowFailException, AirflowSkipException
from wandb_provider.client import (
    AuthenticationError,
    CancelledError,
    InvalidValueError,
    LocalFileError,
    RootBusyError,
    ServerError,
    WandbError,
)

SIGNED = "https://storage.example.com/bucket/blob?X-Goog-Signature=deadbeef&X-Goog-Expires=60"


def _outcome(error: BaseException) -> BaseException:
    with pytest.raises(BaseException) as info, translate_errors("test task"):
        raise error
    return info.value


@pytest.mark.parametrize(
    ("error", "outcome", "retry"),
    [
        pytest.param(AuthenticationError("bad key"), AirflowFailException, False, id="permanent-wandb"),
        pytest.param(InvalidValueError("bad value"), AirflowFailException, False, id="bad-request"),
        pytest.param(ServerError("503 again"), ServerError, True, id="transient-wandb"),
        pytest.param(RootBusyError("busy", path="/x"), RootBusyError, True, id="busy-root"),
        pytest.param(LocalFileError("disk full", transient=True), LocalFileError, True, id="transient-local"),
        pytest.param(PermissionError(errno.EACCES, "Permission denied", "/srv/x"), AirflowFailException, False,
                     id="eacces"),
        pytest.param(NotADirectoryError(errno.ENOTDIR, "Not a directory", "/etc/hosts/x"), AirflowFailException,
                     False, id="enotdir"),
        pytest.param(OSError(errno.ENAMETOOLONG, "File name too long", "x" * 300), AirflowFailException, False,
                     id="name-too-long"),
        pytest.param(OSError(errno.EXDEV, "Invalid cross-device link"), AirflowFailException, False, id="exdev"),
        pytest.param(OSError(errno.ENOSPC, "No space left on device", "/data/x"), LocalFileError, True,
                     id="enospc"),
        pytest.param(ConnectionResetError(errno.ECONNRESET, "reset"), ServerError, True, id="network"),
        pytest.param(ValueError(f"bad thing at {SIGNED}"), AirflowFailException, False, id="stray-value-error"),
        pytest.param(TypeError("NoneType is not iterable"), AirflowFailException, False, id="stray-type-error"),
        pytest.param(KeyError("digest"), AirflowFailException, False, id="stray-key-error"),
        pytest.param(AttributeError("no attribute"), AirflowFailException, False, id="stray-attribute-error"),
        pytest.param(CancelledError("stopped by the caller"), CancelledError, False, id="cancelled"),
    ],
)
def test_each_error_gets_the_outcome_a_retry_deserves(error: BaseException, outcome: type, retry: bool) -> None:
    result = _outcome(error)
    assert type(result) is outcome
    if isinstance(result, WandbError):
        assert result.transient is retry
    assert not isinstance(result, (OSError, ValueError, TypeError, LookupError, AttributeError)) or isinstance(
        result, WandbError)
    assert "X-Goog-Signature" not in str(result) and "deadbeef" not in str(result)


def test_airflow_outcomes_pass_through() -> None:
    assert type(_outcome(AirflowSkipException("gate"))) is AirflowSkipException
    assert type(_outcome(AirflowFailException("no"))) is AirflowFailException


@pytest.mark.parametrize(("uri", "argument", "extra"), [("s3://b/k", "aws_conn_id", "amazon"),
                                                       ("gs://b/k", "gcp_conn_id", "google")])
def test_a_reference_without_an_object_store_names_the_task_argument(uri: str, argument: str, extra: str,
                                                                     tmp_path: Path) -> None:
    """The client says it has no store for the scheme; the task failure says which argument gives one."""
    from wandb_provider.client.object_stores import ObjectLocation, store_for

    scheme = ObjectLocation.parse(uri).scheme
    outcome = _outcome_of(lambda: store_for({}, scheme, "download x"))
    assert type(outcome) is AirflowFailException
    assert f"Pass {argument}=..." in str(outcome) and f"airflow-provider-wandb[{extra}]" in str(outcome)
    assert str(outcome).startswith(f"download x: {scheme}:// references are read through apache-airflow-providers-")


def _outcome_of(call: Any) -> BaseException:
    with pytest.raises(BaseException) as info, translate_errors("test task"):
        call()
    return info.value


def test_local_file_errors_name_the_path_and_say_what_to_do() -> None:
    message = str(_outcome(PermissionError(errno.EACCES, "Permission denied", "/srv/data/model.bin")))
    assert "/srv/data/model.bin" in message and "retrying will not help" in message


@pytest.mark.wandb_server(seed="demo")
def test_a_download_root_under_a_file_fails_once(wandb_env: Any, run_dag: Any, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("the user's file\n")
    monkeypatch.setenv("WANDB_PROVIDER_DOWNLOAD_ROOT", str(blocker))
    monkeypatch.setenv("WANDB_PROVIDER_CACHE_DIR", str(tmp_path / "cache"))
    wandb_env.reset_stats()
    run = run_dag("values_download_root_is_a_file")
    (ti,) = run.get_task_instances()
    assert run.state == "failed" and ti.try_number == 1  # retries=2, but a retry cannot help
    assert wandb_env.stats()["graphql"]["operations"].get("ArtifactByName") == 1
    assert blocker.read_text() == "the user's file\n"
