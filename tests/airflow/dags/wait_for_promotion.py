"""Test DAG: a deferred ArtifactVersionSensor hands the new production version downstream."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pendulum
from airflow.sdk import DAG, task

from wandb_provider.sensors.artifacts import ArtifactVersionSensor


@task
def record(version: dict) -> None:
    Path(os.environ["WANDB_PROVIDER_TEST_OUT"]).write_text(json.dumps(version))


with DAG("wait_for_promotion", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False):
    wait = ArtifactVersionSensor(task_id="wait", artifact="acme/churn/churn-model:production", newer_than="v1",
                                 deferrable=True, poke_interval=0.2, timeout=60)
    record(wait.output)

with DAG("wait_for_promotion_reschedule", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
         catchup=False):
    rescheduled = ArtifactVersionSensor(task_id="wait", artifact="acme/churn/churn-model:production",
                                        newer_than="v1", mode="reschedule", poke_interval=1, timeout=60)
    record(rescheduled.output)
