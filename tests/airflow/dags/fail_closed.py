"""Test DAGs for gates that fail closed: a template that renders None, a typo'd key, a guard rendered empty."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pendulum
from airflow.sdk import DAG, task

from wandb_provider.operators.artifacts import UpdateArtifactAliasesOperator
from wandb_provider.operators.verify import VerifyArtifactOperator

START = pendulum.datetime(2026, 1, 1, tz="UTC")
CANDIDATE = "acme/churn/churn-model:candidate"  # v2, accuracy 0.9; production is on v1


@task(trigger_rule="all_done")
def record(**context) -> None:
    ti = context["ti"]
    values = {task_id: ti.xcom_pull(task_ids=task_id) for task_id in sorted(context["task"].upstream_task_ids)}
    Path(os.environ["WANDB_PROVIDER_TEST_OUT"]).write_text(json.dumps(values))


@task
def gate() -> dict:
    return {"accuracy": {">=": 0.95}}


@task
def threshold() -> float:
    return 0.95


with DAG("gate_renders_none", schedule=None, start_date=START, catchup=False):
    # typo'd task ids: 'gatee' and 'thresholdd' render None
    made, limit = gate(), threshold()
    whole = UpdateArtifactAliasesOperator(task_id="whole", artifact=CANDIDATE, add=["production"],
                                          require="{{ ti.xcom_pull(task_ids='gatee') }}")
    term = UpdateArtifactAliasesOperator(task_id="term", artifact=CANDIDATE, add=["production"],
                                         require={"accuracy": {">=": "{{ ti.xcom_pull(task_ids='thresholdd') }}"}})
    verify = VerifyArtifactOperator(task_id="verify", artifact=CANDIDATE,
                                    require="{{ ti.xcom_pull(task_ids='gatee') }}")
    opted = UpdateArtifactAliasesOperator(task_id="opted", artifact=CANDIDATE, add=["staging"],
                                          require="{{ ti.xcom_pull(task_ids='gatee') }}", allow_empty=True)
    [made, limit] >> whole
    [made, limit] >> term
    [made, limit] >> verify
    [whole, term, verify, opted] >> record()

with DAG("gate_renders_none_native", schedule=None, start_date=START, catchup=False,
         render_template_as_native_obj=True):
    UpdateArtifactAliasesOperator(task_id="whole", artifact=CANDIDATE, add=["production"],
                                  require="{{ ti.xcom_pull(task_ids='gatee') }}")

with DAG("gate_key_typo", schedule=None, start_date=START, catchup=False):
    typo = UpdateArtifactAliasesOperator(task_id="typo", artifact=CANDIDATE, add=["production"],
                                         require={"eval.acuracy": {">=": 0.5}}, retries=2)
    skip = UpdateArtifactAliasesOperator(task_id="skip", artifact=CANDIDATE, add=["staging"],
                                         require={"eval.acuracy": {">=": 0.5}}, on_missing="skip")
    verify = VerifyArtifactOperator(task_id="verify", artifact=CANDIDATE, require={"acuracy": {">=": 0.5}})
    [typo, skip, verify] >> record()

with DAG("guard_renders_none", schedule=None, start_date=START, catchup=False):
    UpdateArtifactAliasesOperator(task_id="guard", artifact=CANDIDATE, add=["production"],
                                  only_if_current={"production": "{{ ti.xcom_pull(task_ids='nope') }}"})
