"""Test DAGs for LogArtifactOperator and the W&B runs of tasks (lineage through the official SDK)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pendulum
from airflow.sdk import DAG, AssetAlias, task

from wandb_provider import task_run
from wandb_provider.operators.artifacts import UpdateArtifactAliasesOperator, UseArtifactOperator
from wandb_provider.operators.produce import LogArtifactOperator

START = pendulum.datetime(2026, 1, 1, tz="UTC")
LOGGED = "{{ ti.xcom_pull(task_ids='log')['qualified_name'] }}"


def _out() -> Path:
    return Path(os.environ["WANDB_PROVIDER_TEST_OUT"])


@task
def make_data() -> str:
    """A small folder with the same content on every run."""
    folder = _out().parent / "data"
    (folder / "part").mkdir(parents=True, exist_ok=True)
    (folder / "train.csv").write_text("a,b\n1,2\n3,4\n")
    (folder / "part" / "test.csv").write_text("a,b\n5,6\n")
    return str(folder)


@task(trigger_rule="all_done")
def record(**context) -> None:
    """Write every other task's return value (and its W&B link) for the test."""
    ti = context["ti"]
    values = {}
    for task_id in context["dag"].task_ids:
        if task_id != "record":
            values[task_id] = ti.xcom_pull(task_ids=task_id)
            values[f"{task_id}.link"] = ti.xcom_pull(task_ids=task_id, key="wandb_artifact_url")
    _out().write_text(json.dumps(values))


with DAG("log_then_use", schedule=None, start_date=START, catchup=False,
         params={"aliases": ["candidate", "eu"], "rows": 3}):
    data = make_data()
    log = LogArtifactOperator(
        task_id="log", name="acme/churn/features", type="dataset",
        files="{{ ti.xcom_pull(task_ids='make_data') }}",
        metadata={"rows": "{{ params.rows }}", "source": "unit"},
        aliases="{{ params.aliases }}", tags=["nightly"], description="derived features",
        outlets=[AssetAlias("logged")],
    )
    use = UseArtifactOperator(task_id="use", artifact=LOGGED)
    promote = UpdateArtifactAliasesOperator(task_id="promote", artifact=LOGGED, add=["qa"])
    data >> log >> use >> promote >> record()

with DAG("log_without_runs", schedule=None, start_date=START, catchup=False):
    data = make_data()
    log = LogArtifactOperator(task_id="log", name="churn/features-norun", type="dataset",
                              files="{{ ti.xcom_pull(task_ids='make_data') }}", record_run=False)
    use = UseArtifactOperator(task_id="use", artifact=LOGGED, wandb_conn_id="wandb_norun")
    data >> log >> use >> record()

with DAG("log_mapping_and_glob", schedule=None, start_date=START, catchup=False):
    data = make_data()
    log = LogArtifactOperator(
        task_id="log", name="churn/mapped", type="dataset",
        files="{\"tables/train.csv\": \"{{ ti.xcom_pull(task_ids='make_data') }}/train.csv\", "
              "\"more\": \"{{ ti.xcom_pull(task_ids='make_data') }}/part/*.csv\"}",
        metadata="{\"split\": {\"train\": 0.8}}",
    )
    data >> log >> record()

with DAG("log_type_clash", schedule=None, start_date=START, catchup=False):
    data = make_data()
    log = LogArtifactOperator(task_id="log", name="acme/churn/churn-model", type="dataset",
                              files="{{ ti.xcom_pull(task_ids='make_data') }}", retries=2)
    data >> log >> record()

with DAG("log_bad_rendered", schedule=None, start_date=START, catchup=False,
         params={"meta": "{'rows': 1", "missing": "/no/such/folder/anywhere"}):
    LogArtifactOperator(task_id="bad_metadata", name="acme/churn/bad", type="dataset", files="{{ params.missing }}",
                        metadata="{{ params.meta }}", retries=2)
    LogArtifactOperator(task_id="missing_files", name="acme/churn/bad", type="dataset", files="{{ params.missing }}",
                        retries=2)


@task
def featurize(fail: bool = False) -> dict:
    """User code recorded as a run: uses one version, logs another."""
    with task_run("churn", entity="acme") as run:
        raw = run.use("acme/churn/churn-dataset:training")
        folder = _out().parent / "features"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "rows.txt").write_text(f"{raw.metadata.get('rows')}\n")
        version = run.log_artifact("user-features", "dataset", str(folder), aliases=["fresh"])
        if fail:
            raise RuntimeError("the transformation failed")
        assert run.run is not None
        return {"version": version.qualified_name, "run": run.run.path, "metadata": version.metadata}


with DAG("task_run_helper", schedule=None, start_date=START, catchup=False):
    featurize() >> record()

with DAG("task_run_helper_fails", schedule=None, start_date=START, catchup=False):
    featurize.override(task_id="featurize")(fail=True) >> record()

with DAG("log_retry", schedule=None, start_date=START, catchup=False):
    data = make_data()
    log = LogArtifactOperator(task_id="log", name="acme/churn/retried", type="dataset",
                              files="{{ ti.xcom_pull(task_ids='make_data') }}", wandb_conn_id="wandb_noretry",
                              retries=1, retry_delay=0)
    data >> log >> record()
