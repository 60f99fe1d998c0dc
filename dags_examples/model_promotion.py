"""Scheduled model promotion: evaluate the candidate, verify it is still the version whose files were
evaluated, promote it to ``production`` behind a quality gate and a compare-and-set guard, then link
it into the model registry.

Templates render as text here (Airflow's default): the operators read ``"0.9"`` from a template as
the number 0.9 and ``"None"`` as no value, so no ``render_template_as_native_obj`` is needed.

Runs against the local W&B server seeded by ``wandb-provider-server --seed demo`` (the README's first
command sets that up), or against any W&B when the ``wandb_default`` connection points there; the
entity, project and collection names come from the environment below.
"""

from __future__ import annotations

import json
import os
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
from wandb_provider.operators.verify import VerifyArtifactOperator

ENTITY = os.environ.get("WANDB_ENTITY") or "acme"
PROJECT = os.environ.get("WANDB_PROJECT") or "churn"
MODEL = os.environ.get("WANDB_PROVIDER_DEMO_MODEL") or "churn-model"
DATASET = os.environ.get("WANDB_PROVIDER_DEMO_DATASET") or "churn-dataset"
REGISTRY = os.environ.get("WANDB_PROVIDER_DEMO_REGISTRY") or "wandb-registry-model/churn"
CANDIDATE = f"{ENTITY}/{PROJECT}/{MODEL}:candidate"


@task
def current_production() -> str:
    """Which version holds ``production`` now (``"none"``: none, said explicitly; a guard whose
    template renders None fails closed): the compare-and-set guard expects it to stay there until
    the promotion."""
    from wandb_provider.client import ArtifactNotFoundError
    from wandb_provider.hooks.wandb import WandbHook

    try:
        return WandbHook().resolve(f"{ENTITY}/{PROJECT}/{MODEL}:production").version
    except ArtifactNotFoundError:
        return "none"


# [START howto_materialize]
@task
def evaluate(model: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """Score the candidate's linear model on the held-out split: a small but real computation.

    The XComs pin the versions (id and digest); ``materialize`` puts their verified bytes on the
    worker that runs this task, which need not be the one that ran the downloads."""
    from wandb_provider import materialize

    weights = json.loads((materialize(model, include=["model.json"]) / "model.json").read_text())
    w1, w2 = weights["weights"]
    rows = (materialize(data, include=["test.csv"]) / "test.csv").read_text().splitlines()[1:]
    correct = 0
    for row in rows:
        x1, x2, label = row.split(",")
        predicted = int(w1 * float(x1) + w2 * float(x2) + weights["bias"] > 0)
        correct += predicted == int(label)
    return {"accuracy": round(correct / len(rows), 4), "rows": len(rows), "dataset": data["qualified_name"]}
# [END howto_materialize]


@task(trigger_rule="all_done")
def summary(**context: Any) -> str:
    """Say in a few lines what happened, for people reading the run."""
    ti = context["ti"]
    previous = ti.xcom_pull(task_ids="current_production")
    model = ti.xcom_pull(task_ids="download_candidate") or {}
    scores = ti.xcom_pull(task_ids="evaluate") or {}
    promoted = ti.xcom_pull(task_ids="promote")
    linked = ti.xcom_pull(task_ids="link_to_registry")
    lines = [f"Candidate {model.get('qualified_name', CANDIDATE)}: accuracy {scores.get('accuracy')} "
             f"on {scores.get('rows')} rows of {scores.get('dataset')}"]
    verified = ti.xcom_pull(task_ids="verify_candidate")
    if verified:
        lines.append(f"Verified {verified['artifact']['qualified_name']}: {verified['files']['checked']} files "
                     "as downloaded and evaluated")
    if promoted:
        before = previous if previous not in (None, "none") else "no version"
        verb = "Promoted" if promoted["changed"] else "Already promoted"
        lines.append(f"{verb} 'production' of {ENTITY}/{PROJECT}/{MODEL} from {before} to "
                     f"{promoted['artifact']['version']}")
    else:
        lines.append("Not promoted: the quality gate did not pass (see the 'promote' task log)")
    if linked:
        lines.append(f"Linked into the registry as {linked['linked']['qualified_name']}")
    lines.append(f"Model files: {model.get('path')}")
    lines.append(f"W&B: {(promoted or {}).get('artifact', {}).get('url') or model.get('url')}")
    if linked:
        lines.append(f"Registry: {linked['linked']['url']}")
    text = "\n".join(lines)
    print(text)
    out = os.environ.get("WANDB_PROVIDER_DEMO_SUMMARY")
    if out:
        Path(out).write_text(text + "\n")
    return text


with DAG(
    dag_id="model_promotion",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"min_accuracy": 0.85},
    tags=["wandb", "example"],
    doc_md=__doc__,
) as dag:
    # [START howto_model_promotion]
    before = current_production()
    model = UseArtifactOperator(task_id="download_candidate", artifact=CANDIDATE, expected_type="model")
    data = UseArtifactOperator(task_id="download_dataset", artifact=f"{ENTITY}/{PROJECT}/{DATASET}:training",
                               include=["test.csv"], expected_type="dataset")
    scores = evaluate(model.output, data.output)
    record = UpdateArtifactOperator(
        task_id="record_evaluation",
        artifact="{{ ti.xcom_pull(task_ids='download_candidate')['qualified_name'] }}",
        metadata={"eval": {"accuracy": "{{ ti.xcom_pull(task_ids='evaluate')['accuracy'] }}", "split": "test",
                           "dataset": "{{ ti.xcom_pull(task_ids='evaluate')['dataset'] }}"}},
    )
    # The candidate must still be the version that was downloaded and evaluated (an alias can move
    # meanwhile), committed, a model, and its files on disk must be exactly the version's.
    verify = VerifyArtifactOperator(
        task_id="verify_candidate",
        artifact=CANDIDATE,
        path="{{ ti.xcom_pull(task_ids='download_candidate')['path'] }}",
        pin="{{ ti.xcom_pull(task_ids='download_candidate') }}",
        expected_type="model",
    )
    promote = UpdateArtifactAliasesOperator(
        task_id="promote",
        artifact="{{ ti.xcom_pull(task_ids='download_candidate')['qualified_name'] }}",
        add=["production"],
        only_if_current={"production": "{{ ti.xcom_pull(task_ids='current_production') }}"},
        require={"eval.accuracy": {">=": "{{ params.min_accuracy }}"}, "eval.split": {"==": "test"}},
    )
    link = LinkArtifactOperator(
        task_id="link_to_registry",
        artifact="{{ ti.xcom_pull(task_ids='promote')['artifact']['qualified_name'] }}",
        target=REGISTRY,
        aliases=["production"],
    )
    # [END howto_model_promotion]
    scores >> record >> verify >> promote >> link
    [before, promote, link] >> summary()
