"""Test DAGs for PromoteArtifactOperator and RollbackArtifactOperator; each writes its XComs for the test."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pendulum
from airflow.sdk import DAG, task

from wandb_provider.operators.promote import PromoteArtifactOperator, RollbackArtifactOperator
from wandb_provider.operators.retention import DeleteArtifactVersionsOperator

START = pendulum.datetime(2026, 1, 1, tz="UTC")
MODEL = "acme/churn/churn-model"


@task(trigger_rule="all_done")
def record(**context) -> None:
    """Write every upstream task's return value (null when skipped or failed) and pushed report."""
    ti = context["ti"]
    upstream = sorted(context["task"].upstream_task_ids)
    values = {task_id: ti.xcom_pull(task_ids=task_id) for task_id in upstream}
    values.update({f"{t}.report": ti.xcom_pull(task_ids=t, key="promotion_report") for t in upstream})
    Path(os.environ["WANDB_PROVIDER_TEST_OUT"]).write_text(json.dumps(values))


with DAG("promote_step", schedule=None, start_date=START, catchup=False,
         params={"margin": "+0.05", "alias": "production", "if_no_holder": "pass"}):
    PromoteArtifactOperator(
        task_id="promote", artifact=f"{MODEL}:candidate", alias="{{ params.alias }}", expected_type="model",
        require={"accuracy": {">=": {"production": "{{ params.margin }}"}},
                 "run.summary.val_loss": {"<=": {"production": "-0.05"}},
                 "run.config.lr": {"<": 0.1}, "eval.split": {"==": "test"}},
    ) >> record()

with DAG("promote_staging_first", schedule=None, start_date=START, catchup=False):
    first = PromoteArtifactOperator(task_id="first", artifact=f"{MODEL}:candidate", alias="staging",
                                    require={"accuracy": {">=": {"staging": 0}, ">": 0.5}})
    strict = PromoteArtifactOperator(task_id="strict", artifact=f"{MODEL}:candidate", alias="qa",
                                     require={"accuracy": {">=": {"qa": 0}}}, if_no_holder="fail",
                                     on_refused="skip")
    [first, strict] >> record()

with DAG("promote_no_run", schedule=None, start_date=START, catchup=False):
    PromoteArtifactOperator(task_id="promote", artifact="acme/churn/churn-dataset:training", alias="production",
                            require={"run.summary.val_loss": {"<=": 0.3}}) >> record()

with DAG("promote_sdk_run", schedule=None, start_date=START, catchup=False):
    PromoteArtifactOperator(task_id="promote", artifact="acme/churn/sdk-model:candidate", alias="production",
                            require={"run.summary.val_loss": {"<=": 0.25}, "run.config.lr": {"==": 0.003}}) >> record()

with DAG("rollback_step", schedule=None, start_date=START, catchup=False):
    RollbackArtifactOperator(task_id="rollback", collection=MODEL) >> record()

with DAG("retention_after_promotion", schedule=None, start_date=START, catchup=False):
    DeleteArtifactVersionsOperator(task_id="retention", collection=MODEL, keep_last=1, keep_aliased=False,
                                   dry_run=False) >> record()

with DAG("promote_approval", schedule=None, start_date=START, catchup=False):
    from wandb_provider.operators.promote import promote_with_approval

    promote_with_approval("promotion", artifact=f"{MODEL}:candidate",
                          require={"accuracy": {">=": {"production": "+0.05"}}}) >> record()

with DAG("gate_language_everywhere", schedule=None, start_date=START, catchup=False):
    from wandb_provider.operators.artifacts import UpdateArtifactAliasesOperator
    from wandb_provider.operators.verify import VerifyArtifactOperator
    from wandb_provider.sensors.artifacts import ArtifactVersionSensor

    better = {"accuracy": {">=": {"production": "+0.05"}}, "run.summary.val_loss": {"<": 0.35}}
    wait = ArtifactVersionSensor(task_id="wait", artifact=f"{MODEL}:candidate", require=better, deferrable=True,
                                 poke_interval=1, timeout=60)
    verify = VerifyArtifactOperator(task_id="verify", artifact=f"{MODEL}:candidate",
                                    require={"run.config.lr": {"<=": {"production": "+0.01"}}})
    refuse = VerifyArtifactOperator(task_id="refuse", artifact=f"{MODEL}:candidate", on_failure="skip",
                                    require={"accuracy": {">": {"production": "+0.5"}}})
    move = UpdateArtifactAliasesOperator(task_id="move", artifact=f"{MODEL}:candidate", add=["production"],
                                         require=better, trigger_rule="none_failed")
    wait >> [verify, refuse] >> move >> record()
