"""Test-wide set-up: the local server's pytest plugin and an environment free of real W&B settings.

The plugin is opt-in (installing the provider registers none): pyproject's ``addopts`` loads it with
``-p wandb_provider.testing.pytest_plugin``, early enough to give each session (and each xdist
worker) a private AIRFLOW_HOME before anything imports Airflow. ``pytest_plugins`` below names it
too, so that a run without those addopts still has its fixtures (docs/testing.rst).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest_plugins = ["wandb_provider.testing.pytest_plugin"]

# The session-wide GraphQL fidelity check (tests/fidelity/plugin.py): its hooks, as this conftest's.
from tests.fidelity.plugin import pytest_configure, pytest_sessionfinish  # noqa: E402, F401

os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(Path(__file__).parent / "airflow" / "dags")

_LEAKY_PREFIXES = ("WANDB_", "AIRFLOW_CONN_", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")


@pytest.fixture(scope="session")
def _sdk_run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where a ``wandb.init`` that names no ``dir`` writes its run folder: never a ``wandb/`` folder in
    the working tree (ruff would then take ``wandb`` for a first-party package and sort imports anew)."""
    return tmp_path_factory.mktemp("wandb-dir")


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch, _sdk_run_dir: Path) -> Iterator[None]:
    """No test sees a real W&B key, base URL or Airflow connection from the developer's shell."""
    for name in list(os.environ):
        if name.startswith(_LEAKY_PREFIXES):
            monkeypatch.delenv(name)
    monkeypatch.setenv("WANDB_DIR", str(_sdk_run_dir))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    yield


@pytest.fixture(scope="session")
def airflow_db(wandb_airflow_db: None) -> None:
    """The migrated metadata DB of this session's (or xdist worker's) AIRFLOW_HOME, needed by
    ``dag.test()``: the plugin's, so that a session migrates one database once."""


def dag_bag_class() -> Any:
    """Airflow's DagBag, from wherever the running release keeps it."""
    try:  # Airflow >= 3.2
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 3.1
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef]
    return DagBag


@pytest.fixture(scope="session")
def _dag_files(airflow_db: None) -> dict[str, Path]:
    """dag_id -> the file of ``tests/airflow/dags`` that defines it (the folder is parsed once)."""
    bag = dag_bag_class()(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    assert not bag.import_errors, bag.import_errors
    return {dag_id: Path(dag.fileloc) for dag_id, dag in bag.dags.items()}


@pytest.fixture
def run_dag(_dag_files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run a DAG from ``tests/airflow/dags`` with ``dag.test()`` and return the DagRun.

    ``dag.test()`` parses its whole DAG bundle (the dags folder) on every call; the test's bundle is
    a folder holding only the DAG's own file, so a call parses one file instead of all of them.
    """
    from airflow import settings

    DagBag = dag_bag_class()

    def run(dag_id: str, **kwargs: Any) -> Any:
        source = _dag_files[dag_id]
        folder = tmp_path / "dags-folder" / dag_id
        folder.mkdir(parents=True, exist_ok=True)
        if not (folder / source.name).exists():
            (folder / source.name).symlink_to(source)
        monkeypatch.setattr(settings, "DAGS_FOLDER", str(folder))
        bag = DagBag(dag_folder=str(folder / source.name))
        assert not bag.import_errors, bag.import_errors
        return bag.get_dag(dag_id).test(**kwargs)

    return run


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the SDK compatibility suite first. The wandb SDK keeps process-wide state (its service
    connection and caches) that ``wandb.teardown()`` does not fully reset; ``wandb.init`` +
    ``log_artifact`` after many other modules' ``wandb.Api`` use fails inside the SDK
    (``AlreadyJoinedError``). The suite checks our server, not the SDK's lifecycle, so it gets the
    fresh process it would have in a user's own test run.

    Then the files that hold a ``slow`` test, then the rest (each file's tests keep their order):
    pytest-xdist's ``--dist loadfile`` hands out files in this order, so a long file starts early
    instead of running alone at the end while the other worker idles."""
    slow_files = {item.path for item in items
                  if item.get_closest_marker("slow") is not None and item.get_closest_marker("full") is None}
    items.sort(key=lambda item: 0 if item.path.name == "test_sdk_compat.py" else 1 if item.path in slow_files else 2)


@pytest.fixture(autouse=True, scope="module")
def reset_wandb_sdk() -> Iterator[None]:
    """The wandb SDK keeps process-wide settings (base URL, entity) from its first use: start each
    module that uses it afresh, so no module sees another module's server."""
    yield
    import sys

    wandb = sys.modules.get("wandb")
    if wandb is not None:
        wandb.teardown()
