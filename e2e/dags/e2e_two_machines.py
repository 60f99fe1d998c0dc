"""The deployment check's own DAG (``scripts/e2e.sh``): one run on two Celery workers ("machines").

``download_on_a`` runs on the ``machine-a`` queue and downloads the candidate model there;
``materialize_on_b`` runs on ``machine-b`` and gets the same bytes from the pin in the XCom, through
its own cache into its own download root. ``wait_for_ready`` defers to the triggerer until the
check script moves the ``e2e-ready`` alias with the official SDK, then resumes on ``machine-b``.
"""

from __future__ import annotations

import os
from typing import Any

import pendulum
from airflow.sdk import DAG, task

from wandb_provider.operators.artifacts import UseArtifactOperator
from wandb_provider.sensors.artifacts import ArtifactVersionSensor

ENTITY = os.environ.get("WANDB_ENTITY") or "acme"
PROJECT = os.environ.get("WANDB_PROJECT") or "churn"
READY_ALIAS = "e2e-ready"


@task(queue="machine-b")
def materialize_on_b(pin: dict[str, Any]) -> dict[str, Any]:
    """Materialise the version pinned on machine A, on this worker, and say where it landed."""
    from wandb_provider.pins import materialize

    root = materialize(pin)
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*")
                   if p.is_file() and ".wandb-provider" not in p.parts)
    return {
        "machine": os.environ.get("E2E_MACHINE"),
        "root": str(root),
        "files": files,
        "id": pin["id"],
        "digest": pin["digest"],
        "cache_dir": os.environ.get("WANDB_PROVIDER_CACHE_DIR"),
    }


with DAG(
    dag_id="e2e_two_machines",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["wandb", "e2e"],
    doc_md=__doc__,
):
    downloaded = UseArtifactOperator(
        task_id="download_on_a",
        artifact=f"{ENTITY}/{PROJECT}/churn-model:candidate",
        expected_type="model",
        queue="machine-a",
    )
    ArtifactVersionSensor(
        task_id="wait_for_ready",
        artifact=f"{ENTITY}/{PROJECT}/churn-dataset:{READY_ALIAS}",
        deferrable=True,
        poke_interval=2,
        timeout=300,
        queue="machine-b",
    )
    materialize_on_b(downloaded.output)  # type: ignore[arg-type]  # Airflow passes the XCom's value
