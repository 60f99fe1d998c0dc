"""Test DAG for W&B identity federation: a connection with ``identity_token_file`` and no API key."""

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
    Path(os.environ["WANDB_PROVIDER_TEST_OUT"]).write_text(json.dumps(result))


with DAG("identity_federation_use", schedule=None, start_date=START, catchup=False):
    use = UseArtifactOperator(task_id="use", artifact="fed/fed-ds:latest", wandb_conn_id="wandb_federated",
                              record_run=False)
    record(use.output)
