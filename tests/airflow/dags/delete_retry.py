"""Test DAGs: a delete whose first try crashes after deleting, retried with the same path or a typo."""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import DAG

from wandb_provider.operators.lifecycle import DeleteArtifactVersionOperator

START = pendulum.datetime(2026, 1, 1, tz="UTC")


class CrashAfterDeleting(DeleteArtifactVersionOperator):
    """The first try deletes, then dies (as a lost worker would) before the task instance ends."""

    def run_checked(self, context: Any, args: dict[str, Any]) -> Any:
        result = super().run_checked(context, args)
        if context["ti"].try_number == 1:
            raise RuntimeError("the worker died after the delete")
        return result


with DAG("delete_retry_same_path", schedule=None, start_date=START, catchup=False):
    CrashAfterDeleting(task_id="delete", artifact="acme/churn/churn-model:v0", retries=1, retry_delay=0)

with DAG("delete_retry_typo", schedule=None, start_date=START, catchup=False):
    CrashAfterDeleting(
        task_id="delete", retries=1, retry_delay=0,
        artifact="{{ 'acme/churn/churn-model:v0' if ti.try_number == 1 else 'acme/churn/churn-modle:v0' }}")

with DAG("delete_never_existed", schedule=None, start_date=START, catchup=False):
    DeleteArtifactVersionOperator(task_id="delete", artifact="acme/churn/churn-model:v9", retries=1, retry_delay=0)
