"""Test DAG for the OpenLineage listener (not named openlineage.py: the DAG folder is on sys.path): a sensor,
a download, a promotion and a retention run."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from wandb_provider.operators.artifacts import UpdateArtifactAliasesOperator, UseArtifactOperator
from wandb_provider.operators.retention import DeleteArtifactVersionsOperator
from wandb_provider.sensors.artifacts import ArtifactVersionSensor

START = pendulum.datetime(2026, 1, 1, tz="UTC")

with DAG("openlineage_events", schedule=None, start_date=START, catchup=False):
    wait = ArtifactVersionSensor(task_id="wait", artifact="acme/churn/churn-dataset:training", poke_interval=1,
                                 timeout=60, deferrable=False)
    use = UseArtifactOperator(task_id="use", artifact="{{ ti.xcom_pull(task_ids='wait')['qualified_name'] }}",
                              include=["test.csv"])
    promote = UpdateArtifactAliasesOperator(task_id="promote", artifact="acme/churn/churn-model:v2", add=["staging"])
    prune = DeleteArtifactVersionsOperator(task_id="prune", collection="acme/churn/churn-model", keep_last=1,
                                           dry_run=False)
    wait >> use
    promote >> prune
