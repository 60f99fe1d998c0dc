"""Test DAGs for VerifyArtifactOperator and the verb operators (unlink, collection, TTL, delete)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pendulum
from airflow.sdk import DAG, task

from wandb_provider.operators.artifacts import (
    LinkArtifactOperator,
    UpdateArtifactAliasesOperator,
    UseArtifactOperator,
)
from wandb_provider.operators.collections import UnlinkArtifactOperator, UpdateCollectionOperator
from wandb_provider.operators.lifecycle import DeleteArtifactVersionOperator, SetArtifactTTLOperator
from wandb_provider.operators.verify import VerifyArtifactOperator

START = pendulum.datetime(2026, 1, 1, tz="UTC")
MODEL = "acme/churn/churn-model"
DOWNLOADED = "{{ ti.xcom_pull(task_ids='download') }}"
DOWNLOADED_PATH = "{{ ti.xcom_pull(task_ids='download')['path'] }}"


@task(trigger_rule="all_done")
def record(**context) -> None:
    """Write each upstream task's return value and verify report (null when absent) for the test."""
    ti = context["ti"]
    values = {}
    for task_id in sorted(context["task"].upstream_task_ids):
        values[task_id] = ti.xcom_pull(task_ids=task_id)
        values[f"{task_id}.report"] = ti.xcom_pull(task_ids=task_id, key="verify_report")
    Path(os.environ["WANDB_PROVIDER_TEST_OUT"]).write_text(json.dumps(values))


@task
def drifted(kind: str, **context) -> str:
    """A copy of the downloaded folder with one kind of drift: a file missing, changed or added."""
    source = Path(context["ti"].xcom_pull(task_ids="download")["path"])
    copy = Path(os.environ["WANDB_PROVIDER_TEST_OUT"]).parent / kind
    shutil.copytree(source, copy, dirs_exist_ok=True)
    if kind == "missing":
        (copy / "training" / "config.json").unlink()
    elif kind == "changed":
        (copy / "model.json").write_text('{"kind": "linear", "weights": [9, 9], "bias": 9}')
    elif kind.startswith("extra"):
        (copy / "notes.txt").write_text("not part of the version\n")
    return str(copy)


with DAG("verify_faithful", schedule=None, start_date=START, catchup=False, params={"min_accuracy": 0.85}):
    download = UseArtifactOperator(task_id="download", artifact=f"{MODEL}:candidate")
    verify = VerifyArtifactOperator(
        task_id="verify", artifact="{{ ti.xcom_pull(task_ids='download')['qualified_name'] }}",
        path=DOWNLOADED_PATH, pin=DOWNLOADED, expected_type="model",
        require={"accuracy": {">=": "{{ params.min_accuracy }}"}, "eval.split": {"==": "test"}},
    )
    download >> verify >> record()

with DAG("verify_drift", schedule=None, start_date=START, catchup=False):
    download = UseArtifactOperator(task_id="download", artifact=f"{MODEL}:candidate")
    checks = []
    for kind in ("missing", "changed", "extra", "extra_allowed"):
        folder = drifted.override(task_id=f"drift_{kind}")(kind)
        download >> folder
        checks.append(VerifyArtifactOperator(
            task_id=f"verify_{kind}", artifact=f"{MODEL}:candidate", path=folder, retries=2,
            allow_extra_files=kind == "extra_allowed"))
    nowhere = VerifyArtifactOperator(task_id="verify_nowhere", artifact=f"{MODEL}:candidate",
                                     path="{{ ti.xcom_pull(task_ids='download')['path'] }}/gone", retries=2)
    version = VerifyArtifactOperator(
        task_id="verify_version", artifact=f"{MODEL}:candidate", pin="v0", expected_type="dataset",
        require={"accuracy": {">=": 0.99}, "framework": {"==": "linear"}}, retries=2)
    skipped = VerifyArtifactOperator(task_id="verify_skip", artifact=f"{MODEL}:candidate", pin="v1",
                                     on_failure="skip")
    unpinned = VerifyArtifactOperator(task_id="verify_unpinned", artifact=f"{MODEL}:candidate", retries=2,
                                      pin="{{ ti.xcom_pull(task_ids='no_such_task') }}")
    download >> nowhere
    [*checks, nowhere, version, skipped, unpinned] >> record()

with DAG("verify_pin_moved", schedule=None, start_date=START, catchup=False):
    download = UseArtifactOperator(task_id="download", artifact=f"{MODEL}:candidate")
    # Another team moves 'candidate' back to v0 after the download resolved it.
    move = UpdateArtifactAliasesOperator(task_id="move", artifact=f"{MODEL}:v0", add=["candidate"])
    verify = VerifyArtifactOperator(task_id="verify", artifact=f"{MODEL}:candidate", pin=DOWNLOADED, retries=2)
    download >> move >> verify
    [download, verify] >> record()

with DAG("verify_version_only", schedule=None, start_date=START, catchup=False):
    VerifyArtifactOperator(task_id="verify", artifact=f"{MODEL}:production", pin="v1", expected_type="model",
                           require={"accuracy": {">": 0.75}})

with DAG("verbs", schedule=None, start_date=START, catchup=False,
         params={"ttl": "P30D", "tags": ["curated", "churn"]}):
    link = LinkArtifactOperator(task_id="link", artifact=f"{MODEL}:v2", target="acme-corp/wandb-registry-model/churn")
    unlink = UnlinkArtifactOperator(task_id="unlink", artifact=f"{MODEL}:v2",
                                    target="acme-corp/wandb-registry-model/churn")
    collection = UpdateCollectionOperator(task_id="collection", collection="acme/churn/churn-dataset",
                                          description="Churn snapshots, curated", tags_add="{{ params.tags }}")
    ttl = SetArtifactTTLOperator(task_id="ttl", artifact="acme/churn/churn-dataset:v0", ttl="{{ params.ttl }}")
    no_ttl = SetArtifactTTLOperator(task_id="no_ttl", artifact="acme/churn/churn-dataset:v1", ttl=None)
    delete = DeleteArtifactVersionOperator(task_id="delete", artifact=f"{MODEL}:v0")
    refused = DeleteArtifactVersionOperator(task_id="refused", artifact=f"{MODEL}:v1", retries=2)
    link >> unlink
    [unlink, collection, ttl, no_ttl, delete, refused] >> record()

with DAG("unlink_guarded", schedule=None, start_date=START, catchup=False):
    link = LinkArtifactOperator(task_id="link", artifact=f"{MODEL}:v2", target="acme-corp/wandb-registry-model/churn",
                                aliases=["staging"])
    refused = UnlinkArtifactOperator(task_id="refused", artifact=f"{MODEL}:v2", retries=2,
                                     target="acme-corp/wandb-registry-model/churn")
    agreed = UnlinkArtifactOperator(task_id="agreed", artifact="acme-corp/wandb-registry-model/churn:staging",
                                    target="acme-corp/wandb-registry-model/churn", drop_aliases="['staging']",
                                    trigger_rule="all_done")
    link >> refused >> agreed
    [refused, agreed] >> record()
