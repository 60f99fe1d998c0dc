"""Default download folders: one per DAG run, task, map index and version, under a base the user owns."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from wandb_provider._airflow import default_download_root, download_base
from wandb_provider.client import LocalFileError


def _version(version: str = "v2", name: str = "churn-dataset") -> Any:
    return SimpleNamespace(entity="acme", project="churn", name=name, version=version)


def _context(run_id: str = "manual__2026-01-01T00:00:00+00:00", map_index: int = -1, task_id: str = "use") -> Any:
    return {"ti": SimpleNamespace(dag_id="d", task_id=task_id, run_id=run_id, map_index=map_index), "run_id": run_id}


@pytest.fixture
def base(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("WANDB_PROVIDER_DOWNLOAD_ROOT", str(tmp_path / "base"))
    return tmp_path / "base"


def test_layout(base: Path) -> None:
    root = default_download_root(_context(map_index=3), _version())
    assert root.relative_to(base).parts[2:] == ("use", "3", "acme", "churn", "churn-dataset", "v2")
    assert default_download_root(_context(), _version()).relative_to(base).parts[3] == "-"


def test_no_two_inputs_share_a_folder(base: Path) -> None:
    roots = {
        default_download_root(_context(run_id="a:b"), _version()),
        default_download_root(_context(run_id="a_b"), _version()),
        default_download_root(_context(run_id="a/b"), _version()),
        default_download_root(_context(map_index=0), _version()),
        default_download_root(_context(map_index=1), _version()),
        default_download_root(_context(), _version("v0")),
        default_download_root(_context(), _version(name="../escape")),
    }
    assert len(roots) == 7
    assert all(root.is_relative_to(base) and ".." not in root.parts for root in roots)


@pytest.fixture
def private_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("WANDB_PROVIDER_DOWNLOAD_ROOT", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path / f"airflow-provider-wandb-{os.getuid()}"


def test_default_base_is_private(private_temp: Path) -> None:
    assert download_base() == private_temp
    assert stat.S_IMODE(private_temp.stat().st_mode) & 0o077 == 0


def test_a_planted_symlink_is_refused(private_temp: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "attacker"
    elsewhere.mkdir()
    private_temp.symlink_to(elsewhere)
    with pytest.raises(LocalFileError, match="not a private folder"):
        download_base()
