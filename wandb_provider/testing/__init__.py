"""A local W&B-compatible artifacts server (an emulator, like moto for AWS).

For this project's tests, benchmarks and demo, and for users' own DAG tests::

    from wandb_provider.testing import LocalWandbServer, ServerConfig

    with LocalWandbServer(ServerConfig(seed="demo")) as server:
        ...  # point WANDB_BASE_URL at server.base_url, WANDB_API_KEY at server.api_key

Needs the ``testing`` extra (``pip install airflow-provider-wandb[testing]``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .config import DEFAULT_API_KEY, DEFAULT_USER, OrgSpec, ServerConfig, TeamSpec, UserSpec
from .store import SeedFile

if TYPE_CHECKING:
    from .server import LocalWandbServer

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_USER",
    "LocalWandbServer",
    "OrgSpec",
    "SeedFile",
    "ServerConfig",
    "TeamSpec",
    "UserSpec",
]


def __getattr__(name: str) -> Any:
    if name == "LocalWandbServer":
        from .server import LocalWandbServer

        return LocalWandbServer
    raise AttributeError(name)
