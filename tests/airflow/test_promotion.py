"""Update/promote operators in real DAG runs (dag.test()); effects checked through the wandb SDK."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.airflow._fakes import sdk

pytestmark = pytest.mark.wandb_server(seed="demo", orgs=["acme-corp:acme"], teams=["acme:demo:admin"])


def test_guarded_promotion_moves_production_and_is_idempotent(wandb_env, run_dag, out: Path) -> None:
    wandb_env.reset_stats()
    assert run_dag("promote_guarded").state == "success"
    result = json.loads(out.read_text())["promote"]
    assert result["before"] == {"production": "v1"} and result["after"] == {"production": "v2"}
    assert result["changed"] and result["artifact"]["qualified_name"] == "acme/churn/churn-model:v2"
    # one read (gate + guard), the add, the read-back; and the task's W&B run (UpsertBucket, UseArtifact)
    assert wandb_env.stats()["graphql"]["total"] <= 3 + 2
    api = sdk(wandb_env)
    assert api.artifact("acme/churn/churn-model:production").version == "v2"
    assert "production" not in api.artifact("acme/churn/churn-model:v1").aliases
    assert run_dag("promote_guarded").state == "success"  # an Airflow re-run: same end state
    assert json.loads(out.read_text())["promote"]["changed"] is False


def test_gate_skip_and_fail(wandb_env, run_dag, out: Path) -> None:
    run = run_dag("promote_gate_fails")
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states["skip"] == "skipped" and states["fail"] == "failed"
    assert json.loads(out.read_text()) == {"fail": None, "skip": None}
    assert sdk(wandb_env).artifact("acme/churn/churn-model:production").version == "v1"


def test_compare_and_set_conflict_fails_fast(wandb_env, run_dag) -> None:
    wandb_env.reset_stats()
    assert run_dag("promote_conflict").state == "failed"
    assert wandb_env.stats()["graphql"]["total"] == 1  # one read, no retries, no write
    assert sdk(wandb_env).artifact("acme/churn/churn-model:production").version == "v1"


def test_update_then_link_into_registry(wandb_env, run_dag, out: Path) -> None:
    assert run_dag("update_and_link").state == "success"
    result = json.loads(out.read_text())
    assert result["link"]["linked"]["qualified_name"] == "acme-corp-org/wandb-registry-model/churn:v0"
    seen = sdk(wandb_env).artifact("acme-corp-org/wandb-registry-model/churn:staging")
    assert seen.source_version == "v2" and seen.metadata["reviewed_by"] == "update_and_link"
    assert "reviewed" in seen.tags


def test_retention_dry_run_and_real(wandb_env, run_dag, out: Path) -> None:
    assert run_dag("retention").state == "success"
    result = json.loads(out.read_text())
    assert result["dry"]["would_delete"] == ["v1", "v0"] and result["dry"]["dry_run"] is True
    assert result["real"]["deleted"] == ["v0"]
    assert result["real"]["kept"] == {"v2": "among the newest 1", "v1": "has aliases ['production']"}
    api = sdk(wandb_env)
    assert [a.version for a in api.artifacts("dataset", "acme/churn/churn-dataset")] == ["v2", "v1", "v0"]
    assert sorted(a.version for a in api.artifacts("model", "acme/churn/churn-model")) == ["v1", "v2"]
