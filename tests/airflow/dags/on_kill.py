"""Test DAG: one download into the root the test names (WANDB_PROVIDER_TEST_ROOT), to be killed mid-way."""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import DAG

from wandb_provider.operators.artifacts import UseArtifactOperator

with DAG("on_kill_download", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False):
    UseArtifactOperator(task_id="download", artifact="acme/churn/big:v0", max_workers=4, use_cache=False,
                        root=os.environ.get("WANDB_PROVIDER_TEST_ROOT", "/nonexistent/on-kill-root"))
