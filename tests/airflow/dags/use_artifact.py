"""Test DAGs for UseArtifactOperator: a download whose XCom reaches a downstream task, and a wrong type."""

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


with DAG("use_artifact_ok", schedule=None, start_date=START, catchup=False):
    use = UseArtifactOperator(task_id="use", artifact="acme/churn/churn-dataset:training", expected_type="dataset",
                              include="*.csv")
    record(use.output)

with DAG("use_artifact_wrong_type", schedule=None, start_date=START, catchup=False):
    UseArtifactOperator(task_id="use", artifact="acme/churn/churn-model:production", expected_type="dataset",
                        retries=3)

with DAG("use_artifact_missing", schedule=None, start_date=START, catchup=False):
    UseArtifactOperator(task_id="use", artifact="acme/churn/churn-dataset:no-such-alias", retries=3)
