"""pytest plugin, opt-in: a local W&B server with fresh state for each test.

Installing the provider registers no plugin. A test suite loads it with
``pytest_plugins = ["wandb_provider.testing.pytest_plugin"]`` in its top-level ``conftest.py`` or
with ``-p wandb_provider.testing.pytest_plugin`` (e.g. in ``addopts``).

Fixtures:

* ``wandb_server`` - a running :class:`LocalWandbServer` with ``base_url``, ``api_key``,
  ``entity`` and ``seed_artifact(name, files, ...)``. Configure it per test with
  ``@pytest.mark.wandb_server(seed="demo", teams=["acme:demo:admin"], orgs=["acme-corp:acme"])``;
  ``profile="legacy"`` emulates the oldest W&B Server the SDK supports (``profiles.py``).
  The tests of a module with the same configuration share one server, reset to fresh state before
  each test (same ``base_url``); ``fresh=True`` in the marker gives a test a server of its own.
* ``wandb_env`` - the same server, with ``WANDB_BASE_URL``, ``WANDB_API_KEY``, ``WANDB_ENTITY`` and
  the Airflow connection ``AIRFLOW_CONN_WANDB_DEFAULT`` set for the test.
* ``wandb_airflow`` - the same server, plus a migrated Airflow metadata database whose
  ``wandb_default`` connection (stored in the database, as ``airflow connections add`` does) points
  at it: a test calls ``dag.test()`` with no other set-up.

Airflow reads ``AIRFLOW_HOME`` once, when it is first imported. So, once loaded (with ``-p``: before
any conftest is loaded; from a conftest's ``pytest_plugins``: when pytest configures the session), this
plugin points an unset ``AIRFLOW_HOME`` at a fresh folder for the session (never at ``~/airflow``);
``wandb_airflow`` refuses a database outside the temp folder rather than migrate or write a real one.
Set ``wandb_airflow_home = off`` in the pytest ini options to keep an unset ``AIRFLOW_HOME`` unset.
``dag.test()`` runs DAGs found in ``[core] dags_folder`` (e.g. set ``AIRFLOW__CORE__DAGS_FOLDER`` in
your conftest).
"""

from __future__ import annotations

import base64
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .config import OrgSpec, ServerConfig, TeamSpec, UserSpec

# The AIRFLOW_HOME this plugin made, so that an xdist worker can tell it from one the user set.
_AUTO_HOME = "WANDB_PROVIDER_AUTO_AIRFLOW_HOME"
# The xdist worker that home was made for (a worker's child pytest session is not that worker).
_AUTO_WORKER = "WANDB_PROVIDER_AUTO_AIRFLOW_HOME_WORKER"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("wandb_airflow_home", "'auto' (default): point an unset AIRFLOW_HOME at a temporary folder "
                  "for the session; 'off': leave it alone", default="auto")


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser, args: list[str]) -> None:
    """Loaded with ``-p``: a private AIRFLOW_HOME before any conftest imports Airflow."""
    _private_airflow_home(early_config)


def _private_airflow_home(config: pytest.Config) -> None:
    """A private AIRFLOW_HOME unless one is set (or 'off'), while Airflow is not imported yet.

    Under pytest-xdist each worker inherits the home the controller made; it gets one of its own,
    so that workers never share a metadata database.
    """
    if "airflow" in sys.modules:
        return
    home = os.environ.get("AIRFLOW_HOME")
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    made_here = home is not None and home == os.environ.get(_AUTO_HOME)
    if made_here and (worker is None or os.environ.get(_AUTO_WORKER) == worker):
        return  # this process's own home (both hooks ran)
    if home and not made_here:
        return
    if str(config.getini("wandb_airflow_home")).strip().lower() == "off":
        return
    suffix = f"{worker}-" if worker else ""
    os.environ["AIRFLOW_HOME"] = os.environ[_AUTO_HOME] = tempfile.mkdtemp(
        prefix=f"wandb-provider-airflow-home-{suffix}")
    if worker:
        os.environ[_AUTO_WORKER] = worker
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    # In-process Airflow writes no airflow.cfg, so it has no Fernet key and stores values in clear,
    # while the first `airflow` command in a child process writes one with a key of its own and
    # encrypts with it: the session's DAG runs could then not read what a child stored (trigger
    # kwargs, connection extras). One key for the whole session, children included.
    os.environ.setdefault("AIRFLOW__CORE__FERNET_KEY", base64.urlsafe_b64encode(os.urandom(32)).decode())


def pytest_configure(config: pytest.Config) -> None:
    _private_airflow_home(config)  # loaded from a conftest's pytest_plugins (too late for the hook above)
    config.addinivalue_line(
        "markers",
        "wandb_server(seed=None, users=(), teams=(), orgs=(), faults=None, profile=None, fresh=False): configure "
        "the wandb_server fixture (profile 'latest' or 'legacy', see wandb_provider.testing.profiles; fresh=True: "
        "a server of the test's own, not one shared with the module)",
    )


def _config_from_marker(request: pytest.FixtureRequest) -> ServerConfig:
    marker = request.node.get_closest_marker("wandb_server")
    options: dict[str, Any] = dict(marker.kwargs) if marker else {}
    return ServerConfig(
        seed=options.get("seed"),
        users=tuple(UserSpec.parse(u) for u in options.get("users", ())),
        teams=tuple(TeamSpec.parse(t) for t in options.get("teams", ())),
        orgs=tuple(OrgSpec.parse(o) for o in options.get("orgs", ())),
        faults=options.get("faults"),
        data_dir=options.get("data_dir"),
        profile=options.get("profile"),
    )


class _ServerPool:
    """The servers of one test module, one per configuration: each test gets one reset to fresh state
    (``LocalWandbServer.reset``), which costs a fraction of a start and a stop."""

    def __init__(self) -> None:
        self._servers: dict[str, Any] = {}

    def get(self, config: ServerConfig) -> Any:
        from .server import LocalWandbServer

        key = repr(config)
        server = self._servers.pop(key, None)
        if server is not None and server.running:
            server.reset()
        else:
            if server is not None:  # a test stopped it: let go of what is left
                server.stop()
            server = LocalWandbServer(config).start()
        self._servers[key] = server
        return server

    def close(self) -> None:
        for server in self._servers.values():
            if server.running:
                server.stop()
        self._servers.clear()


@pytest.fixture(scope="module")
def _wandb_server_pool() -> Iterator[_ServerPool]:
    pool = _ServerPool()
    yield pool
    pool.close()


@pytest.fixture
def wandb_server(request: pytest.FixtureRequest, _wandb_server_pool: _ServerPool) -> Iterator[Any]:
    """A local W&B server with fresh in-memory state. The tests of a module that ask for the same
    configuration share one server, reset before each test; a ``data_dir`` server (its data is the
    user's) or ``fresh=True`` in the marker gets a server of its own, stopped after the test."""
    from .server import LocalWandbServer

    config = _config_from_marker(request)
    marker = request.node.get_closest_marker("wandb_server")
    if config.data_dir or (marker is not None and marker.kwargs.get("fresh")):
        with LocalWandbServer(config) as server:
            yield server
        return
    yield _wandb_server_pool.get(config)


def connection_env(server: Any, conn_id: str = "wandb_default") -> dict[str, str]:
    """Environment variables that point the SDK and an Airflow connection at ``server``."""
    conn = {"conn_type": "wandb", "host": server.base_url, "password": server.api_key,
            "extra": {"entity": server.entity}}
    return {
        "WANDB_BASE_URL": server.base_url,
        "WANDB_API_KEY": server.api_key,
        "WANDB_ENTITY": server.entity,
        f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(conn),
    }


@pytest.fixture
def wandb_env(wandb_server: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """``wandb_server`` with the environment of the test pointed at it."""
    for key, value in connection_env(wandb_server).items():
        monkeypatch.setenv(key, value)
    return wandb_server


def _check_disposable_database() -> None:
    """Refuse to migrate or write a metadata database that is not a SQLite file in the temp folder."""
    from airflow.configuration import conf

    url = conf.get("database", "sql_alchemy_conn")
    temp = Path(tempfile.gettempdir()).resolve()
    path = Path(url.removeprefix("sqlite:///")).resolve() if url.startswith("sqlite:///") else None
    if path is None or not path.is_relative_to(temp):
        pytest.fail(
            f"wandb_airflow: Airflow's database is {url.split('@')[-1]!r}, not a SQLite file under {temp}; "
            "refusing to migrate or write it. Airflow read AIRFLOW_HOME when it was first imported: leave "
            "AIRFLOW_HOME unset (this plugin then uses a temporary one) or point it at a temporary folder "
            "before anything imports airflow.", pytrace=False)


@pytest.fixture(scope="session")
def wandb_airflow_db() -> None:
    """A migrated Airflow metadata database in this session's (temporary) AIRFLOW_HOME."""
    _check_disposable_database()
    from airflow.utils import db

    db.initdb()


@pytest.fixture
def wandb_airflow(wandb_airflow_db: None, wandb_server: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """``wandb_server``, with the ``wandb_default`` connection stored in Airflow's database and the
    SDK's ``WANDB_*`` variables pointing at it; the connection is removed afterwards."""
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session

    for key, value in connection_env(wandb_server).items():
        if not key.startswith("AIRFLOW_CONN_"):
            monkeypatch.setenv(key, value)
    monkeypatch.delenv("AIRFLOW_CONN_WANDB_DEFAULT", raising=False)  # the stored one is the one used

    def remove(session: Any) -> None:
        session.query(Connection).filter(Connection.conn_id == "wandb_default").delete()

    with create_session() as session:
        remove(session)
        session.add(Connection(conn_id="wandb_default", conn_type="wandb", host=wandb_server.base_url,
                               password=wandb_server.api_key, extra=json.dumps({"entity": wandb_server.entity})))
    try:
        yield wandb_server
    finally:
        with create_session() as session:
            remove(session)
