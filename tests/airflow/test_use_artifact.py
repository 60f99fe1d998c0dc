"""UseArtifactOperator in real DAG runs (dag.test()) against the local server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.wandb_server(seed="demo")


def test_download_xcom_reaches_downstream(wandb_env, run_dag, out: Path) -> None:
    run = run_dag("use_artifact_ok")
    assert run.state == "success"
    result = json.loads(out.read_text())
    assert result["qualified_name"] == "acme/churn/churn-dataset:v2"
    assert result["aliases"] == ["latest", "training"]
    assert result["type"] == "dataset" and result["metadata"] == {"rows": 200, "snapshot": 2}
    assert set(result) == {"path", "entity", "project", "name", "version", "qualified_name", "id", "type", "digest",
                           "aliases", "metadata", "size", "file_count", "url", "logged_by", "bytes_downloaded",
                           "bytes_from_cache"}
    root = Path(result["path"])
    assert root.is_relative_to(out.parent / "downloads") and "use_artifact_ok" in root.parts
    files = [p for p in root.iterdir() if p.name != ".wandb-provider"]  # the provider's ledger folder
    assert sorted(p.name for p in files) == ["test.csv", "train.csv"]
    assert result["bytes_downloaded"] == sum(p.stat().st_size for p in files)


def test_wrong_expected_type_fails_fast_without_retries(wandb_env, run_dag, out: Path) -> None:
    wandb_env.reset_stats()
    run = run_dag("use_artifact_wrong_type")
    assert run.state == "failed"
    assert wandb_env.stats()["graphql"]["operations"].get("ArtifactByName") == 1  # one try, not four
    assert not (out.parent / "downloads").exists()


def test_missing_artifact_fails_fast_without_retries(wandb_env, run_dag, out: Path) -> None:
    wandb_env.reset_stats()
    assert run_dag("use_artifact_missing").state == "failed"
    assert wandb_env.stats()["graphql"]["operations"] == {"ArtifactByName": 1}  # one try, not four
