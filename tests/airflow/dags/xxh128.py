"""Test DAGs for XXH128 artifacts: download and verify a version the SDK logged with XXH128 digests,
and log one with ``digest_algorithm="XXH128"``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pendulum
from airflow.sdk import DAG, task

from wandb_provider.operators.artifacts import UseArtifactOperator
from wandb_provider.operators.produce import LogArtifactOperator
from wandb_provider.operators.verify import VerifyArtifactOperator

START = pendulum.datetime(2026, 1, 1, tz="UTC")
ARTIFACT = "{{ dag_run.conf.get('artifact', 'sdk/sdk-xxh:latest') }}"


@task(trigger_rule="all_done")
def record(**context) -> None:
    """Write each upstream task's return value and verify report for the test."""
    ti = context["ti"]
    values = {}
    for task_id in sorted(context["task"].upstream_task_ids):
        values[task_id] = ti.xcom_pull(task_ids=task_id)
        values[f"{task_id}.report"] = ti.xcom_pull(task_ids=task_id, key="verify_report")
    Path(os.environ["WANDB_PROVIDER_TEST_OUT"]).write_text(json.dumps(values))


with DAG("xxh128_use_and_verify", schedule=None, start_date=START, catchup=False):
    download = UseArtifactOperator(task_id="download", artifact=ARTIFACT)
    verify = VerifyArtifactOperator(task_id="verify", artifact=ARTIFACT,
                                    path="{{ ti.xcom_pull(task_ids='download')['path'] }}",
                                    pin="{{ ti.xcom_pull(task_ids='download') }}")
    download >> verify >> record()

with DAG("xxh128_log", schedule=None, start_date=START, catchup=False):
    log = LogArtifactOperator(task_id="log", name="sdk/ours-xxh", type="model", digest_algorithm="XXH128",
                              files="{{ dag_run.conf['files'] }}", record_run=False)
    log >> record()
