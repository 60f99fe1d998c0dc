"""Test DAGs: writers that emit asset events for the collection they changed, and DAGs scheduled on it."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Asset, AssetAlias, AssetWatcher

from wandb_provider.assets import artifact_asset
from wandb_provider.operators.artifacts import (
    LinkArtifactOperator,
    UpdateArtifactAliasesOperator,
    UpdateArtifactOperator,
)
from wandb_provider.triggers.events import ArtifactEventTrigger

START = pendulum.datetime(2026, 1, 1, tz="UTC")
MODEL = "acme/churn/churn-model"

with DAG("asset_writers", schedule=None, start_date=START, catchup=False):
    promote = UpdateArtifactAliasesOperator(task_id="promote", artifact=f"{MODEL}:candidate", add=["production"],
                                            outlets=[artifact_asset(MODEL)])
    update = UpdateArtifactOperator(task_id="update", artifact=f"{MODEL}:v2", metadata={"reviewed": True},
                                    outlets=[artifact_asset(f"{MODEL}:v2")])
    link = LinkArtifactOperator(task_id="link", artifact="{{ 'acme/churn/churn-model:v2' }}",
                                target="acme-corp/wandb-registry-model/churn", aliases=["staging"],
                                outlets=[AssetAlias("wandb-registry-links")])
    promote >> update >> link

with DAG("on_model_change", schedule=[artifact_asset(MODEL)], start_date=START, catchup=False):
    UpdateArtifactOperator(task_id="note", artifact=f"{MODEL}:production", tags_add=["seen"])

with DAG("on_candidate", start_date=START, catchup=False, schedule=[Asset(f"wandb://{MODEL}", watchers=[
        AssetWatcher(name="candidate-moves",
                     trigger=ArtifactEventTrigger(collection=MODEL, alias="candidate", poll_interval=30))])]):
    UpdateArtifactOperator(task_id="note", artifact=f"{MODEL}:candidate", tags_add=["seen"])
