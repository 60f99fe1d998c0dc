"""Test DAGs for values as users write them: rendered lists and numbers, empty values, refused
aliases and targets, bad connections, a mapped download. Each records its upstream XComs to a file."""

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
    UseArtifactOperator,
)
from wandb_provider.sensors.artifacts import ArtifactVersionSensor

START = pendulum.datetime(2026, 1, 1, tz="UTC")
MODEL = "acme/churn/churn-model"
DATASET = "acme/churn/churn-dataset"


@task(trigger_rule="all_done")
def record(**context) -> None:
    """Write every upstream task's return value (None when it failed or was skipped) for the test."""
    ti = context["ti"]
    values = {}
    for task_id in sorted(context["task"].upstream_task_ids):
        value = ti.xcom_pull(task_ids=task_id)
        values[task_id] = list(value) if value is not None and not isinstance(value, (dict, str)) else value
    Path(os.environ["WANDB_PROVIDER_TEST_OUT"]).write_text(json.dumps(values))


with DAG("values_alias_list", schedule=None, start_date=START, catchup=False, params={"aliases": ["qa", "eu"]}):
    UpdateArtifactAliasesOperator(task_id="promote", artifact=f"{MODEL}:v0", add="{{ params.aliases }}") >> record()

with DAG("values_alias_latest", schedule=None, start_date=START, catchup=False, params={"alias": "latest"}):
    UpdateArtifactAliasesOperator(task_id="promote", artifact=f"{MODEL}:v0", add="{{ params.alias }}", retries=2)

with DAG("values_include_empty", schedule=None, start_date=START, catchup=False, params={"pattern": ""}):
    UseArtifactOperator(task_id="use", artifact=f"{DATASET}:v0", include="{{ params.pattern }}", retries=2)

with DAG("values_include_matches_nothing", schedule=None, start_date=START, catchup=False):
    UseArtifactOperator(task_id="use", artifact=f"{DATASET}:v0", include="no-such-file-*.bin", retries=2)

with DAG("values_include_matches_nothing_allowed", schedule=None, start_date=START, catchup=False):
    UseArtifactOperator(task_id="use", artifact=f"{DATASET}:v0", include="no-such-file-*.bin",
                        allow_empty=True) >> record()

with DAG("values_bare_link_target", schedule=None, start_date=START, catchup=False, params={"target": "churn"}):
    LinkArtifactOperator(task_id="link", artifact=f"{MODEL}:v2", target="{{ params.target }}", retries=2)

with DAG("values_bad_connection", schedule=None, start_date=START, catchup=False):
    UseArtifactOperator(task_id="use", artifact=f"{DATASET}:v0", wandb_conn_id="wandb_bad", retries=2)

with DAG("values_created_after_none", schedule=None, start_date=START, catchup=False, params={"since": None}):
    manual = ArtifactVersionSensor(task_id="manual", artifact=f"{MODEL}:production",
                                   created_after="{{ params.since }}", poke_interval=0.1, timeout=30)
    text = ArtifactVersionSensor(task_id="text", artifact=f"{MODEL}:production", created_after="None",
                                 poke_interval=0.1, timeout=30)
    [manual, text] >> record()

with DAG("values_created_after_garbage", schedule=None, start_date=START, catchup=False,
         params={"since": "yesterday-ish"}):
    ArtifactVersionSensor(task_id="wait", artifact=f"{MODEL}:production", created_after="{{ params.since }}",
                          poke_interval=0.1, timeout=30, retries=2)

with DAG("values_mapped_download", schedule=None, start_date=START, catchup=False):
    UseArtifactOperator.partial(task_id="use").expand(artifact=[f"{DATASET}:v0", f"{DATASET}:v2"]) >> record()


@task
def score() -> dict:
    """An evaluation whose numbers reach W&B through templates (rendered as text without native rendering)."""
    return {"latency_ms": 200, "accuracy": 0.895}


with DAG("values_jinja_numbers", schedule=None, start_date=START, catchup=False, params={"min_latency": 1000}):
    scores = score()
    write = UpdateArtifactOperator(
        task_id="write", artifact=f"{MODEL}:candidate",
        metadata={"eval": {"latency_ms": "{{ ti.xcom_pull(task_ids='score')['latency_ms'] }}",
                           "accuracy": "{{ ti.xcom_pull(task_ids='score')['accuracy'] }}", "split": "test"},
                  "note": "0.5", "reviewer": "{{ dag.dag_id }}"},
    )
    gate = UpdateArtifactAliasesOperator(
        task_id="gate", artifact=f"{MODEL}:candidate", add=["production"],
        require={"eval.latency_ms": {">=": "{{ params.min_latency }}"}},
    )
    scores >> write >> gate >> record()

with DAG("values_download_root_is_a_file", schedule=None, start_date=START, catchup=False):
    UseArtifactOperator(task_id="use", artifact=f"{DATASET}:v0", retries=2)

with DAG("values_text_number_gate", schedule=None, start_date=START, catchup=False, params={"min_latency": 1000}):
    UpdateArtifactAliasesOperator(
        task_id="gate", artifact="acme/churn/text-metrics:v0", add=["production"],
        require={"latency_ms": {">=": "{{ params.min_latency }}"}},
    ) >> record()
