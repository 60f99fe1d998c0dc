"""wandb:// Asset URIs and the OpenLineage datasets the operators report."""

from __future__ import annotations

from pathlib import Path

import pytest
from airflow.sdk import Asset

from tests.airflow._fakes import RecordingTI
from wandb_provider.operators.artifacts import LinkArtifactOperator, UseArtifactOperator


def test_asset_uri_is_normalised_and_validated() -> None:
    assert Asset("wandb://ACME/churn/churn-model").uri == "wandb://acme/churn/churn-model"
    with pytest.raises(ValueError, match="wandb://<entity>/<project>/<collection>"):
        Asset("wandb://acme/only-project")


@pytest.mark.wandb_server(seed="demo", orgs=["acme-corp:acme"], teams=["acme:demo:admin"])
def test_operators_report_what_they_read_and_wrote(wandb_env, tmp_path: Path) -> None:
    use = UseArtifactOperator(task_id="use", artifact="acme/churn/churn-dataset:training", root=str(tmp_path))
    use.execute({"ti": RecordingTI()})
    lineage = use.get_openlineage_facets_on_complete(None)
    assert [(d.namespace, d.name) for d in lineage.inputs] == [("wandb://acme", "churn/churn-dataset")]
    assert lineage.outputs == []

    link = LinkArtifactOperator(task_id="link", artifact="acme/churn/churn-model:v2",
                                target="acme-corp/wandb-registry-model/churn")
    link.execute({"ti": RecordingTI()})
    lineage = link.get_openlineage_facets_on_complete(None)
    assert [(d.namespace, d.name) for d in lineage.inputs] == [("wandb://acme", "churn/churn-model")]
    assert [(d.namespace, d.name) for d in lineage.outputs] == [("wandb://acme-corp-org", "wandb-registry-model/churn")]
