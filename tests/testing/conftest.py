"""Fixtures of the local server's own tests."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from ._process import MODULE, Running


@pytest.fixture
def start() -> Iterator[Any]:
    """``start(*args)`` runs the server with ``--port 0`` and ``args``; everything is killed afterwards."""
    running: list[Running] = []

    def run(*args: str, command: Sequence[str] = MODULE) -> Running:
        server = Running([*command, "--port", "0", *args])
        running.append(server)
        return server

    yield run
    for server in running:
        server.kill()
