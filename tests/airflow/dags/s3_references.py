"""Test DAG for s3:// references read through an Airflow AWS connection (moto's S3 server in the tests)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pendulum
from airflow.sdk import DAG, task

from wandb_provider.operators.artifacts import UseArtifactOperator

START = pendulum.datetime(2026, 1, 1, tz="UTC")


@task
def record(result: dict) -> None:
    """Write what the downstream task received, for the test to read."""
    Path(os.environ["WANDB_PROVIDER_TEST_OUT"]).write_text(json.dumps(result))


with DAG("s3_references_use", schedule=None, start_date=START, catchup=False):
    use = UseArtifactOperator(task_id="use", artifact="acme/churn/s3-dataset:latest", aws_conn_id="aws_moto",
                              retries=3)
    record(use.output)

with DAG("s3_references_no_connection", schedule=None, start_date=START, catchup=False):
    UseArtifactOperator(task_id="use", artifact="acme/churn/s3-dataset:latest", retries=3)
