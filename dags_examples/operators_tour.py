"""A tour of the provider: every operator and the sensor, once each, on the demo data.

The documentation's how-to pages show these tasks (the ``[START ...]``/``[END ...]`` markers), and a
test runs this DAG with ``dag.test()`` against the local W&B server, so every snippet is known to
work. The tour pins the production model, waits for a better candidate, downloads and verifies it,
records a review, stages it (alias ``staging``), logs the review as an artifact of its own, links
the candidate into the model registry and takes it out again, curates the collections, gives an old
dataset snapshot a time-to-live, and plans retention. Every task is safe
to re-run; the two deleting tasks are dry runs, so the tour can be run again and again.

Runs against the local W&B server seeded by ``wandb-provider-server --seed demo``, or against any
W&B the ``wandb_default`` connection points at (names from the environment, as in
``model_promotion.py``).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import DAG, task

from wandb_provider.operators.artifacts import (
    LinkArtifactOperator,
    UpdateArtifactAliasesOperator,
    UpdateArtifactOperator,
    UseArtifactOperator,
)
from wandb_provider.operators.collections import UnlinkArtifactOperator, UpdateCollectionOperator
from wandb_provider.operators.lifecycle import DeleteArtifactVersionOperator, SetArtifactTTLOperator
from wandb_provider.operators.produce import LogArtifactOperator
from wandb_provider.operators.resolve import ResolveArtifactOperator
from wandb_provider.operators.retention import DeleteArtifactVersionsOperator
from wandb_provider.operators.verify import VerifyArtifactOperator
from wandb_provider.sensors.artifacts import ArtifactVersionSensor

ENTITY = os.environ.get("WANDB_ENTITY") or "acme"
PROJECT = os.environ.get("WANDB_PROJECT") or "churn"
MODEL = os.environ.get("WANDB_PROVIDER_DEMO_MODEL") or "churn-model"
DATASET = os.environ.get("WANDB_PROVIDER_DEMO_DATASET") or "churn-dataset"
REGISTRY = os.environ.get("WANDB_PROVIDER_DEMO_REGISTRY") or "wandb-registry-model/churn"
MODELS = f"{ENTITY}/{PROJECT}/{MODEL}"
DATASETS = f"{ENTITY}/{PROJECT}/{DATASET}"


@task
def write_review(**context: Any) -> str:
    """The review of the staged model as a file, in a folder of this DAG run (the logging task reads
    it, so both run where that folder is visible: one worker, or shared storage)."""
    staged = context["ti"].xcom_pull(task_ids="stage")["artifact"]
    folder = Path(tempfile.gettempdir()) / "operators_tour" / context["run_id"].replace(":", "_")
    folder.mkdir(parents=True, exist_ok=True)
    review = {"model": staged["qualified_name"], "digest": staged["digest"], "status": "approved"}
    (folder / "review.json").write_text(json.dumps(review, indent=2, sort_keys=True) + "\n")
    return str(folder)


with DAG(
    dag_id="operators_tour",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"min_accuracy": 0.85},
    tags=["wandb", "example"],
    doc_md=__doc__,
) as dag:
    # [START howto_operator_resolve_artifact]
    production = ResolveArtifactOperator(
        task_id="resolve_production",
        artifact=f"{MODELS}:production",
        expected_type="model",
    )
    # [END howto_operator_resolve_artifact]

    # [START howto_sensor_artifact_version]
    wait = ArtifactVersionSensor(
        task_id="wait_for_candidate",
        artifact=f"{MODELS}:candidate",
        newer_than="{{ ti.xcom_pull(task_ids='resolve_production')['version'] }}",
        require={"accuracy": {">=": "{{ params.min_accuracy }}"}},
        deferrable=True,  # wait in the triggerer (ArtifactVersionTrigger), not in a worker slot
        poke_interval=30,
        timeout=6 * 3600,
    )
    # [END howto_sensor_artifact_version]

    # [START howto_operator_use_artifact]
    download = UseArtifactOperator(
        task_id="download_candidate",
        artifact="{{ ti.xcom_pull(task_ids='wait_for_candidate')['qualified_name'] }}",
        include=["model.json", "training/"],
        expected_type="model",
    )
    # [END howto_operator_use_artifact]

    # [START howto_operator_verify_artifact]
    verify = VerifyArtifactOperator(
        task_id="verify_candidate",
        artifact=f"{MODELS}:candidate",
        path="{{ ti.xcom_pull(task_ids='download_candidate')['path'] }}",
        pin="{{ ti.xcom_pull(task_ids='download_candidate') }}",
        expected_type="model",
        allow_extra_files=False,
    )
    # [END howto_operator_verify_artifact]

    # [START howto_operator_update_artifact]
    record = UpdateArtifactOperator(
        task_id="record_review",
        artifact="{{ ti.xcom_pull(task_ids='download_candidate')['qualified_name'] }}",
        metadata={"review": {"status": "approved", "accuracy": "{{ ti.xcom_pull(task_ids='wait_for_candidate')"
                                                                "['metadata']['accuracy'] }}"}},
        tags_add=["reviewed"],
    )
    # [END howto_operator_update_artifact]

    # [START howto_operator_update_aliases]
    stage = UpdateArtifactAliasesOperator(
        task_id="stage",
        artifact="{{ ti.xcom_pull(task_ids='download_candidate')['qualified_name'] }}",
        add=["staging"],
        require={"review.status": {"==": "approved"}, "review.accuracy": {">=": "{{ params.min_accuracy }}"}},
        on_gate_failure="fail",
    )
    # [END howto_operator_update_aliases]

    # [START howto_operator_log_artifact]
    review = write_review()
    log_review = LogArtifactOperator(
        task_id="log_review",
        name=f"{ENTITY}/{PROJECT}/{MODEL}-review",
        type="review",
        files="{{ ti.xcom_pull(task_ids='write_review') }}",
        metadata={"model": "{{ ti.xcom_pull(task_ids='stage')['artifact']['qualified_name'] }}",
                  "accuracy": "{{ ti.xcom_pull(task_ids='wait_for_candidate')['metadata']['accuracy'] }}"},
        aliases=["approved"],
    )
    # [END howto_operator_log_artifact]

    # [START howto_operator_link_artifact]
    link = LinkArtifactOperator(
        task_id="link_to_registry",
        artifact="{{ ti.xcom_pull(task_ids='stage')['artifact']['qualified_name'] }}",
        target=REGISTRY,
        aliases=["staging"],
    )
    # [END howto_operator_link_artifact]

    # [START howto_operator_unlink_artifact]
    unlink = UnlinkArtifactOperator(
        task_id="unlink_from_registry",
        artifact="{{ ti.xcom_pull(task_ids='link_to_registry')['source']['qualified_name'] }}",
        target=REGISTRY,
        drop_aliases=["staging"],
    )
    # [END howto_operator_unlink_artifact]

    # [START howto_operator_update_collection]
    curate = UpdateCollectionOperator(
        task_id="curate_models",
        collection=MODELS,
        description="Churn models; 'staging' marks the reviewed candidate",
        tags_add=["churn", "reviewed"],
    )
    # [END howto_operator_update_collection]

    # [START howto_operator_set_ttl]
    expire = SetArtifactTTLOperator(
        task_id="expire_first_snapshot",
        artifact=f"{DATASETS}:v0",
        ttl="P90D",  # ISO 8601; also seconds, a timedelta, None (no TTL) or "inherit" (the team's default)
    )
    # [END howto_operator_set_ttl]

    # [START howto_operator_delete_version]
    delete_one = DeleteArtifactVersionOperator(
        task_id="delete_first_model",
        artifact=f"{MODELS}:v0",  # a version index, never an alias: a retry cannot hit another version
        protected_aliases=["production", "staging"],
        dry_run=True,  # report what would happen; drop this to delete
    )
    # [END howto_operator_delete_version]

    # [START howto_operator_retention]
    retention = DeleteArtifactVersionsOperator(
        task_id="retention",
        collection=DATASETS,
        keep_last=1,  # and, with older_than="P30D", only versions older than 30 days
        protected_aliases=["production", "training"],
        dry_run=True,  # the default: set dry_run=False once the plan in the log is what you want
    )
    # [END howto_operator_retention]

    production >> wait >> download >> verify >> record >> stage >> [link, review]
    link >> unlink
    review >> log_review
    curate >> expire >> [delete_one, retention]
