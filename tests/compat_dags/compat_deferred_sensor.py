"""CI legs (scripts/compat.sh): a deferred ArtifactVersionSensor under ``airflow dags test``.

The leg makes the sensor's first poke meet a 503 (the local server's fault rule, no client retries),
so the sensor defers; the trigger's first poll finds the version, and the downstream task checks the
XCom the sensor handed on.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, task

from wandb_provider.sensors.artifacts import ArtifactVersionSensor


@task
def check(version: dict) -> None:
    if version.get("qualified_name") != "acme/churn/churn-raw:v1":
        raise ValueError(f"the sensor handed on {version!r}")


with DAG("compat_deferred_sensor", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False):
    wait = ArtifactVersionSensor(task_id="wait", artifact="acme/churn/churn-raw:latest", deferrable=True,
                                 poke_interval=1, timeout=120)
    check(wait.output)
