"""Fixtures shared by the DAG tests of this folder."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the test DAGs write the XCom they want a test to see (``WANDB_PROVIDER_TEST_OUT``); the
    test's downloads and cache stay in its own folder too."""
    monkeypatch.setenv("WANDB_PROVIDER_TEST_OUT", str(tmp_path / "xcom.json"))
    monkeypatch.setenv("WANDB_PROVIDER_DOWNLOAD_ROOT", str(tmp_path / "downloads"))
    monkeypatch.setenv("WANDB_PROVIDER_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "xcom.json"
