"""Nightly promotion: score the candidate, then promote it in one guarded, audited step that compares
it with production (``scripts/demo.sh`` runs it against the local W&B server with demo data)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import DAG, task

from wandb_provider.operators.artifacts import UseArtifactOperator
from wandb_provider.operators.promote import PromoteArtifactOperator

HOME = f"{os.environ.get('WANDB_ENTITY') or 'acme'}/{os.environ.get('WANDB_PROJECT') or 'churn'}"
CANDIDATE = f"{HOME}/{os.environ.get('WANDB_PROVIDER_DEMO_MODEL') or 'churn-model'}:candidate"
DATASET = f"{HOME}/{os.environ.get('WANDB_PROVIDER_DEMO_DATASET') or 'churn-dataset'}:training"
REGISTRY = os.environ.get("WANDB_PROVIDER_DEMO_REGISTRY") or "wandb-registry-model/churn"


# [START howto_materialize]
@task
def evaluate(model: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """Score the candidate on the held-out split and record the score in its metadata."""
    from wandb_provider import materialize
    from wandb_provider.hooks.wandb import WandbHook

    weights = json.loads((materialize(model, include=["model.json"]) / "model.json").read_text())
    (w1, w2), bias = weights["weights"], weights["bias"]
    rows = (materialize(data, include=["test.csv"]) / "test.csv").read_text().splitlines()[1:]
    hits = [int(w1 * float(x1) + w2 * float(x2) + bias > 0) == int(y)
            for x1, x2, y in (row.split(",") for row in rows)]
    scores = {"accuracy": round(sum(hits) / len(rows), 4), "split": "test", "dataset": data["qualified_name"]}
    with WandbHook().get_client() as client:
        client.update(model["qualified_name"], metadata={"eval": scores})
    return scores
# [END howto_materialize]


@task
def summary(report: dict[str, Any]) -> None:  # what happened, for people reading the run
    before = (report["holder"] or {}).get("version") or "no version"
    text = (f"{'Promoted' if report['changed'] else 'Already promoted'} 'production' of {report['collection']} "
            f"from {before} to {report['candidate']['version']}\n{report['summary']}\n"
            f"Linked into the registry as {report['linked']['qualified_name']}\n")
    print(text)
    if out := os.environ.get("WANDB_PROVIDER_DEMO_SUMMARY"):
        Path(out).write_text(text)


with DAG("model_promotion", schedule="@daily", start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False,
         params={"min_accuracy": 0.85}, tags=["wandb", "example"], doc_md=__doc__) as dag:
    # [START howto_model_promotion]
    model = UseArtifactOperator(task_id="download_candidate", artifact=CANDIDATE)
    data = UseArtifactOperator(task_id="data", artifact=DATASET)
    promote = PromoteArtifactOperator(
        task_id="promote",
        artifact=CANDIDATE,
        alias="production",
        expected_type="model",
        # still the version downloaded and scored, files as downloaded:
        pin=model.output,
        path="{{ ti.xcom_pull(task_ids='download_candidate')['path'] }}",
        require={
            "eval.accuracy": {">=": "{{ params.min_accuracy }}"},
            "eval.split": {"==": "test"},
            "accuracy": {">=": {"production": "+0.05"}},  # better than production
            "run.summary.val_loss": {"<=": {"production": "-0.05"}},  # from its run
        },
        link_to=REGISTRY,
    )
    evaluate(model.output, data.output) >> promote
    summary(promote.output)
    # [END howto_model_promotion]
