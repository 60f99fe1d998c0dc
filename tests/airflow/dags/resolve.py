"""Test DAGs for ResolveArtifactOperator: a pin that reaches a downstream task, a wrong type, a missing alias."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import DAG, task

from wandb_provider.links import XCOM_URL_KEY
from wandb_provider.operators.resolve import ResolveArtifactOperator

START = pendulum.datetime(2026, 1, 1, tz="UTC")


@task
def record(pin: dict[str, Any], **context: Any) -> None:
    """Write the pin and the link the resolving task pushed, for the test to read."""
    link = context["ti"].xcom_pull(task_ids="resolve", key=XCOM_URL_KEY)
    Path(os.environ["WANDB_PROVIDER_TEST_OUT"]).write_text(json.dumps({"pin": pin, "link": link}))


with DAG("resolve_pin", schedule=None, start_date=START, catchup=False):
    resolved = ResolveArtifactOperator(task_id="resolve", artifact="{{ 'acme/churn/churn-model:candidate' }}",
                                       expected_type="model")
    record(resolved.output)

with DAG("resolve_wrong_type", schedule=None, start_date=START, catchup=False):
    ResolveArtifactOperator(task_id="resolve", artifact="acme/churn/churn-model:production", expected_type="dataset",
                            retries=3)

with DAG("resolve_missing", schedule=None, start_date=START, catchup=False):
    ResolveArtifactOperator(task_id="resolve", artifact="acme/churn/churn-model:no-such-alias", retries=3)

with DAG("resolve_optional", schedule=None, start_date=START, catchup=False):
    absent = ResolveArtifactOperator(task_id="absent", artifact="acme/churn/churn-model:no-such-alias", optional=True)
    present = ResolveArtifactOperator(task_id="present", artifact="acme/churn/churn-model:production", optional=True)

    @task
    def record_both(absent: Any, present: Any) -> None:
        Path(os.environ["WANDB_PROVIDER_TEST_OUT"]).write_text(json.dumps({"absent": absent, "present": present}))

    record_both(absent.output, present.output)
