"""Test-wide set-up: a private AIRFLOW_HOME and an environment free of real W&B settings."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

import pytest

# Airflow reads AIRFLOW_HOME at import time: set it before anything imports airflow.
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="airflow-home-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

_LEAKY_PREFIXES = ("WANDB_", "AIRFLOW_CONN_", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test sees a real W&B key, base URL or Airflow connection from the developer's shell."""
    for name in list(os.environ):
        if name.startswith(_LEAKY_PREFIXES):
            monkeypatch.delenv(name)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    yield
