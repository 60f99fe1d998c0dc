"""Writers emit an asset event for the wandb:// collection they changed, with the version in the extra."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from wandb_provider.assets import artifact_asset
from wandb_provider.client.errors import InvalidArtifactPathError

pytestmark = pytest.mark.wandb_server(seed="demo")


def _events(run_id: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """task_id -> (asset URI, extra) of the asset events the run's tasks emitted."""
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.scalars(select(AssetEvent).where(AssetEvent.source_run_id == run_id)).all()
        return {row.source_task_id: (row.asset.uri, dict(row.extra)) for row in rows}


# Airflow 3.0's dag.test() does not register the DAG's assets (no DAG processor ran): outlets are "inactive".
@pytest.mark.newer_airflow
def test_each_writer_emits_the_version_it_wrote(wandb_env, run_dag) -> None:
    import wandb

    run = run_dag("asset_writers")
    assert run.state == "success"
    events = _events(run.run_id)
    promote_uri, promoted = events["promote"]
    assert promote_uri == "wandb://acme/churn/churn-model"
    production = wandb.Api().artifact("acme/churn/churn-model:production")
    assert promoted["reason"] == "aliases" and promoted["version"] == "v2" and promoted["changed"] is True
    assert promoted["id"] == production.id and promoted["digest"] == production.digest
    assert "production" in promoted["aliases"]
    update_uri, updated = events["update"]
    assert update_uri == "wandb://acme/churn/churn-model" and updated["reason"] == "update"
    link_uri, linked = events["link"]  # an AssetAlias outlet: the registry collection, known at run time
    assert link_uri == "wandb://acme-corp-org/wandb-registry-model/churn"
    assert linked["reason"] == "link" and linked["aliases"] == ["latest", "staging"]
    assert linked["digest"] == production.digest


# Airflow 3.0's dag.test() does not register the DAG's assets (no DAG processor ran): outlets are "inactive".
@pytest.mark.newer_airflow
def test_the_asset_event_queues_the_dag_scheduled_on_the_collection(wandb_env, run_dag) -> None:
    from airflow.models.asset import AssetDagRunQueue, AssetModel
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session

    run_dag("asset_writers")  # makes sure the DAGs are in the database; new DAGs start paused
    with create_session() as session:
        session.get(DagModel, "on_model_change").is_paused = False
    run_dag("asset_writers")
    with create_session() as session:
        queued = session.execute(select(AssetDagRunQueue.target_dag_id, AssetModel.uri).join(
            AssetModel, AssetModel.id == AssetDagRunQueue.asset_id)).all()
    assert ("on_model_change", "wandb://acme/churn/churn-model") in [tuple(row) for row in queued]


@pytest.mark.parametrize("path", ["churn-model", "churn/churn-model", "{{ var }}/p/c",
                                  "acme-corp/wandb-registry-model/x", "a/b/c/d", ""])
def test_artifact_asset_refuses_what_it_cannot_name(path: str) -> None:
    with pytest.raises(InvalidArtifactPathError):
        artifact_asset(path)


def test_artifact_asset_names_the_collection() -> None:
    assert artifact_asset("acme/churn/churn-model:candidate").uri == "wandb://acme/churn/churn-model"
