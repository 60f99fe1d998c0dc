"""DeleteArtifactVersionOperator on a retry: only the version an earlier try of this task deleted
counts as gone; a typo'd or never-existing path fails as NotFound (dag.test(), SDK as observer)."""

from __future__ import annotations

import pytest

from tests.airflow._fakes import sdk

pytestmark = pytest.mark.wandb_server(seed="demo")


def _ti(run):
    [ti] = run.get_task_instances()
    return ti


def _versions(wandb_env) -> list[str]:
    return sorted(a.version for a in sdk(wandb_env).artifacts("model", "acme/churn/churn-model"))


def test_a_retry_after_the_first_try_deleted_reports_gone(wandb_env, run_dag) -> None:
    ti = _ti(run_dag("delete_retry_same_path"))
    assert ti.state == "success" and ti.try_number == 2
    assert _versions(wandb_env) == ["v1", "v2"]


def test_a_retry_with_a_typo_is_not_found_not_gone(wandb_env, run_dag) -> None:
    ti = _ti(run_dag("delete_retry_typo"))
    assert ti.state == "failed"
    assert _versions(wandb_env) == ["v1", "v2"]  # the first try's delete happened; the typo reported nothing


def test_a_version_that_never_existed_fails_on_every_try(wandb_env, run_dag) -> None:
    ti = _ti(run_dag("delete_never_existed"))
    assert ti.state == "failed"
    assert _versions(wandb_env) == ["v0", "v1", "v2"]
