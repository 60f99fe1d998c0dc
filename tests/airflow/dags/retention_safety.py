"""Test DAGs for retention safety: races, links, protected aliases, templated arguments."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pendulum
from airflow.sdk import DAG, task

from wandb_provider.operators.retention import DeleteArtifactVersionsOperator

START = pendulum.datetime(2026, 1, 1, tz="UTC")


@task(trigger_rule="all_done")
def record(**context) -> None:
    """Write every upstream task's return value (or null when it failed) for the test."""
    ti = context["ti"]
    upstream = sorted(context["task"].upstream_task_ids)
    values = {task_id: ti.xcom_pull(task_ids=task_id) for task_id in upstream}
    Path(os.environ["WANDB_PROVIDER_TEST_OUT"]).write_text(json.dumps(values))


# The test moves an alias onto the oldest planned version while the server holds the retention's
# first re-check (after the listing, before any delete), as another team's rollback would.
with DAG("retention_race_rollback", schedule=None, start_date=START, catchup=False):
    # production moves onto churn-model:v0 (a rollback) after the listing planned to delete v0.
    DeleteArtifactVersionsOperator(task_id="rollback", collection="acme/churn/churn-model", keep_last=1,
                                   dry_run=False) >> record()

with DAG("retention_race_gained", schedule=None, start_date=START, catchup=False):
    # keep_aliased=False: churn-dataset:v0 gains 'staging' (not protected) after the listing.
    DeleteArtifactVersionsOperator(task_id="gained", collection="acme/churn/churn-dataset", keep_last=1,
                                   keep_aliased=False, dry_run=False) >> record()

with DAG("retention_linked", schedule=None, start_date=START, catchup=False):
    DeleteArtifactVersionsOperator(task_id="sweep", collection="acme/churn/churn-model", keep_last=1,
                                   dry_run=False) >> record()

with DAG("retention_admin_protected", schedule=None, start_date=START, catchup=False):
    registry = DeleteArtifactVersionsOperator(task_id="registry", collection="acme-corp/wandb-registry-model/churn",
                                              keep_last=1, keep_aliased=False, dry_run=False)
    source = DeleteArtifactVersionsOperator(task_id="source", collection="acme/churn/churn-model", keep_last=1,
                                            keep_aliased=False, dry_run=False)
    registry >> source
    [registry, source] >> record()

with DAG("retention_templated", schedule=None, start_date=START, catchup=False,
         params={"bad_age": "thirty days", "no_age": None}):
    bad = DeleteArtifactVersionsOperator(task_id="bad_age", collection="acme/churn/churn-model", keep_last=0,
                                         older_than="{{ params.bad_age }}", dry_run=False, retries=2)
    none = DeleteArtifactVersionsOperator(task_id="no_age", collection="acme/churn/churn-dataset", keep_last=1,
                                          older_than="{{ params.no_age }}")
    numeric = DeleteArtifactVersionsOperator(task_id="numeric_age", collection="acme/churn/churn-dataset",
                                             keep_last=1, older_than="{{ 100 * 365 * 86400 }}")
    [bad, none, numeric] >> record()
