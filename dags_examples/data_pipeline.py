"""Data pipeline with lineage: wait for a new raw customer export, clean and aggregate it, log the
result as a new dataset version made from that export, and check the logged bytes.

W&B's lineage graph then shows it: the derived version's producing run (this DAG's logging task)
used the raw version, and the raw version's ``used_by()`` lists the tasks that read it. OpenLineage
sees the same versions (facet ``wandb_artifactVersion``) when the openlineage provider is installed.

The transformation and the logging task share a folder, so they must run where that folder is
visible (one worker, or ``WANDB_PROVIDER_DEMO_WORKDIR`` on shared storage). Runs against the local
W&B server seeded by ``wandb-provider-server --seed demo`` (``./scripts/demo.sh data_pipeline``), or
any W&B the ``wandb_default`` connection points to.
"""

from __future__ import annotations

import csv
import io
import math
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import DAG, task

from wandb_provider.operators.artifacts import UseArtifactOperator
from wandb_provider.operators.produce import LogArtifactOperator
from wandb_provider.operators.verify import VerifyArtifactOperator
from wandb_provider.sensors.artifacts import ArtifactVersionSensor

ENTITY = os.environ.get("WANDB_ENTITY") or "acme"
PROJECT = os.environ.get("WANDB_PROJECT") or "churn"
RAW = os.environ.get("WANDB_PROVIDER_DEMO_RAW") or "churn-raw"
FEATURES = os.environ.get("WANDB_PROVIDER_DEMO_FEATURES") or "churn-features"
FIELDS = ("customer_id", "plan", "monthly_spend", "support_tickets", "churned")
CHURNED = {"yes": True, "no": False}


def clean(lines: Iterable[str]) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Typed customer records from a raw export, and what was dropped: rows with a missing or
    unreadable field, and repeated customers (the last row of a customer wins)."""
    records: dict[str, dict[str, Any]] = {}
    counts = {"rows_in": 0, "invalid": 0, "duplicates": 0}
    for row in csv.DictReader(lines):
        counts["rows_in"] += 1
        values = {key: (row.get(key) or "").strip() for key in FIELDS}
        try:
            spend, tickets = float(values["monthly_spend"]), int(values["support_tickets"])
        except ValueError:
            counts["invalid"] += 1
            continue
        churned = CHURNED.get(values["churned"].lower())
        if not values["customer_id"] or not values["plan"] or churned is None or not math.isfinite(spend) \
                or spend < 0 or tickets < 0:
            counts["invalid"] += 1
            continue
        if values["customer_id"] in records:
            counts["duplicates"] += 1
        records[values["customer_id"]] = {"customer_id": values["customer_id"], "plan": values["plan"].lower(),
                                          "monthly_spend": round(spend, 2), "support_tickets": tickets,
                                          "churned": churned}
    return [records[key] for key in sorted(records)], counts


def by_plan(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Churn rate, mean spend and mean support tickets per plan."""
    plans: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        plans.setdefault(record["plan"], []).append(record)
    return [{"plan": plan, "customers": len(rows), "churned": sum(r["churned"] for r in rows),
             "churn_rate": round(sum(r["churned"] for r in rows) / len(rows), 4),
             "mean_spend": round(sum(r["monthly_spend"] for r in rows) / len(rows), 2),
             "mean_tickets": round(sum(r["support_tickets"] for r in rows) / len(rows), 2)}
            for plan, rows in sorted(plans.items())]


def _csv(rows: list[dict[str, Any]], fields: Iterable[str]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(fields), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


@task
def clean_and_aggregate(raw: dict[str, Any], **context: Any) -> dict[str, Any]:
    """Read the pinned raw export (``materialize``: the bytes of exactly that version, verified, on
    this worker), write ``customers.csv`` (clean) and ``churn_by_plan.csv`` into a fresh folder."""
    from wandb_provider import materialize

    source = materialize(raw, include=["customers.csv"]) / "customers.csv"
    records, counts = clean(source.read_text().splitlines())
    if not records:
        raise ValueError(f"{raw['qualified_name']} has no usable row ({counts}); nothing to log.")
    base = os.environ.get("WANDB_PROVIDER_DEMO_WORKDIR") or None
    if base:
        Path(base).mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="churn-features-", dir=base))
    (folder / "customers.csv").write_text(_csv(records, FIELDS))
    (folder / "churn_by_plan.csv").write_text(_csv(by_plan(records), ("plan", "customers", "churned", "churn_rate",
                                                                      "mean_spend", "mean_tickets")))
    return {"folder": str(folder), "source": raw["qualified_name"], "rows_kept": len(records), **counts}


@task(trigger_rule="all_done")
def summary(**context: Any) -> str:
    """Say in a few lines what happened, for people reading the run."""
    ti = context["ti"]
    raw = ti.xcom_pull(task_ids="wait_for_raw") or {}
    stats = ti.xcom_pull(task_ids="clean_and_aggregate") or {}
    logged = ti.xcom_pull(task_ids="log_features") or {}
    verified = ti.xcom_pull(task_ids="verify_features") or {}
    lines = [f"Raw export {raw.get('qualified_name')}: {stats.get('rows_in')} rows, {stats.get('invalid')} "
             f"invalid, {stats.get('duplicates')} duplicates, {stats.get('rows_kept')} customers kept"]
    if logged:
        verb = "Logged" if logged.get("created") else "Already logged (same content)"
        lines.append(f"{verb} {logged['qualified_name']} (digest {logged['digest']}) from {stats.get('source')}")
    if verified:
        lines.append(f"Verified {verified['artifact']['qualified_name']}: digest as logged, "
                     f"{verified['files']['checked']} files as written")
    text = "\n".join(lines)
    print(text)
    out = os.environ.get("WANDB_PROVIDER_DEMO_SUMMARY")
    if out:
        Path(out).write_text(text + "\n")
    return text


with DAG(
    dag_id="data_pipeline",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["wandb", "example", "lineage"],
    doc_md=__doc__,
) as dag:
    # [START howto_data_pipeline]
    # A raw export logged since the last successful run started (the first run takes the latest).
    wait = ArtifactVersionSensor(
        task_id="wait_for_raw",
        artifact=f"{ENTITY}/{PROJECT}/{RAW}:latest",
        created_after="{{ prev_start_date_success }}",
        mode="reschedule",
        poke_interval=300,
        timeout=6 * 3600,
    )
    raw = UseArtifactOperator(
        task_id="download_raw",
        artifact="{{ ti.xcom_pull(task_ids='wait_for_raw')['qualified_name'] }}",
        include=["customers.csv"],
        expected_type="dataset",
    )
    features = clean_and_aggregate(raw.output)
    log = LogArtifactOperator(
        task_id="log_features",
        name=f"{ENTITY}/{PROJECT}/{FEATURES}",
        type="dataset",
        files="{{ ti.xcom_pull(task_ids='clean_and_aggregate')['folder'] }}",
        metadata={"source": "{{ ti.xcom_pull(task_ids='clean_and_aggregate')['source'] }}",
                  "rows_in": "{{ ti.xcom_pull(task_ids='clean_and_aggregate')['rows_in'] }}",
                  "rows_kept": "{{ ti.xcom_pull(task_ids='clean_and_aggregate')['rows_kept'] }}"},
        description="Clean customers and churn by plan",
        inputs=[raw.output],  # made from the raw version: this task's W&B run used it
    )
    # The logged version is the one this run made (its digest), and its files are the bytes written.
    verify = VerifyArtifactOperator(
        task_id="verify_features",
        artifact="{{ ti.xcom_pull(task_ids='log_features')['qualified_name'] }}",
        pin="{{ ti.xcom_pull(task_ids='log_features') }}",
        path="{{ ti.xcom_pull(task_ids='clean_and_aggregate')['folder'] }}",
        expected_type="dataset",
    )
    # [END howto_data_pipeline]
    wait >> raw
    features >> log >> verify >> summary()
