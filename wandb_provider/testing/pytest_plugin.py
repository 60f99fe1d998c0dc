"""pytest plugin (entry point ``pytest11``): a fresh local W&B server per test.

Fixtures:

* ``wandb_server`` - a running :class:`LocalWandbServer` with ``base_url``, ``api_key``,
  ``entity`` and ``seed_artifact(name, files, ...)``. Configure it per test with
  ``@pytest.mark.wandb_server(seed="demo", teams=["acme:demo:admin"], orgs=["acme-corp:acme"])``.
* ``wandb_env`` - the same server, with ``WANDB_BASE_URL``, ``WANDB_API_KEY``, ``WANDB_ENTITY`` and
  the Airflow connection ``AIRFLOW_CONN_WANDB_DEFAULT`` set for the test.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from .config import OrgSpec, ServerConfig, TeamSpec, UserSpec


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "wandb_server(seed=None, users=(), teams=(), orgs=(), faults=None): configure the wandb_server fixture",
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
    )


@pytest.fixture
def wandb_server(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A local W&B server with fresh in-memory state, stopped after the test."""
    from .server import LocalWandbServer

    with LocalWandbServer(_config_from_marker(request)) as server:
        yield server


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
