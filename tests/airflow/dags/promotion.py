"""Test DAGs for the update/promote operators; each writes its XCom to a file for the test."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pendulum
from airflow.sdk import DAG, task

from wandb_provider.operators.artifacts import (
    LinkArtifactOperator,
    UpdateArtifactAliasesOperator,
    UpdateArtifactOperator,
)
from wandb_provider.operators.retention import DeleteArtifactVersionsOperator

START = pendulum.datetime(2026, 1, 1, tz="UTC")


@task(trigger_rule="all_done")
def record(**context) -> None:
    """Write every upstream task's return value (or null when it was skipped) for the test."""
    ti = context["ti"]
    upstream = sorted(context["task"].upstream_task_ids)
    values = {task_id: ti.xcom_pull(task_ids=task_id) for task_id in upstream}
    Path(os.environ["WANDB_PROVIDER_TEST_OUT"]).write_text(json.dumps(values))


with DAG("promote_guarded", schedule=None, start_date=START, catchup=False, params={"min_accuracy": 0.85}):
    promote = UpdateArtifactAliasesOperator(
        task_id="promote", artifact="acme/churn/churn-model:candidate", add=["production"],
        only_if_current={"production": "v1"},
        require={"accuracy": {">=": "{{ params.min_accuracy }}"}, "eval.split": {"==": "test"}},
    )
    promote >> record()

with DAG("promote_gate_fails", schedule=None, start_date=START, catchup=False):
    skip = UpdateArtifactAliasesOperator(task_id="skip", artifact="acme/churn/churn-model:candidate",
                                         add=["production"], require={"accuracy": {">=": 0.99}})
    fail = UpdateArtifactAliasesOperator(task_id="fail", artifact="acme/churn/churn-model:candidate",
                                         add=["production"], require={"framework": {"in": ["torch"]}},
                                         on_gate_failure="fail", retries=2)
    [skip, fail] >> record()

with DAG("promote_conflict", schedule=None, start_date=START, catchup=False):
    UpdateArtifactAliasesOperator(task_id="promote", artifact="acme/churn/churn-model:candidate",
                                  add=["production"], only_if_current={"production": "v0"}, retries=2)

with DAG("update_and_link", schedule=None, start_date=START, catchup=False):
    update = UpdateArtifactOperator(task_id="update", artifact="acme/churn/churn-model:v2",
                                    metadata={"reviewed_by": "{{ dag.dag_id }}"}, tags_add=["reviewed"])
    link = LinkArtifactOperator(task_id="link", artifact="acme/churn/churn-model:v2",
                                target="acme-corp/wandb-registry-model/churn", aliases=["staging"])
    update >> link >> record()

with DAG("retention", schedule=None, start_date=START, catchup=False, params={"dry_run": True}):
    dry = DeleteArtifactVersionsOperator(task_id="dry", collection="acme/churn/churn-dataset", keep_last=1,
                                         keep_aliased=False)
    real = DeleteArtifactVersionsOperator(task_id="real", collection="acme/churn/churn-model", keep_last=1,
                                          dry_run=False)
    [dry, real] >> record()
