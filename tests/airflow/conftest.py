"""Fixtures shared by the DAG tests of this folder."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the test DAGs write the XCom they want a test to see (``WANDB_PROVIDER_TEST_OUT``)."""
    monkeypatch.setenv("WANDB_PROVIDER_TEST_OUT", str(tmp_path / "xcom.json"))
    return tmp_path / "xcom.json"
