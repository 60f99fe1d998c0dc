"""Test-wide set-up: a private AIRFLOW_HOME and an environment free of real W&B settings."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Airflow reads AIRFLOW_HOME at import time: set it before anything imports airflow.
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="airflow-home-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(Path(__file__).parent / "airflow" / "dags")

_LEAKY_PREFIXES = ("WANDB_", "AIRFLOW_CONN_", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test sees a real W&B key, base URL or Airflow connection from the developer's shell."""
    for name in list(os.environ):
        if name.startswith(_LEAKY_PREFIXES):
            monkeypatch.delenv(name)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    yield


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """A migrated metadata DB in this session's AIRFLOW_HOME (needed by ``dag.test()``)."""
    from airflow.utils import db

    db.initdb()


@pytest.fixture
def run_dag(airflow_db: None) -> Any:
    """Run a DAG from ``tests/airflow/dags`` with ``dag.test()`` and return the DagRun."""
    try:  # Airflow >= 3.2
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 3.1
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef]

    def run(dag_id: str, **kwargs: Any) -> Any:
        bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
        assert not bag.import_errors, bag.import_errors
        return bag.get_dag(dag_id).test(**kwargs)

    return run


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the SDK compatibility suite first. The wandb SDK keeps process-wide state (its service
    connection and caches) that ``wandb.teardown()`` does not fully reset; ``wandb.init`` +
    ``log_artifact`` after many other modules' ``wandb.Api`` use fails inside the SDK
    (``AlreadyJoinedError``). The suite checks our server, not the SDK's lifecycle, so it gets the
    fresh process it would have in a user's own test run."""
    items.sort(key=lambda item: 0 if item.path.name == "test_sdk_compat.py" else 1)


@pytest.fixture(autouse=True, scope="module")
def reset_wandb_sdk() -> Iterator[None]:
    """The wandb SDK keeps process-wide settings (base URL, entity) from its first use: start each
    module that uses it afresh, so no module sees another module's server."""
    yield
    import sys

    wandb = sys.modules.get("wandb")
    if wandb is not None:
        wandb.teardown()
