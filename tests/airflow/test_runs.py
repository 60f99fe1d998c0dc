"""Airflow tasks as W&B runs: lineage read back through the official SDK, honest final states, the
request budget (the run's start and end, plus one useArtifact per version used: one mutation per
request, as the SDK sends them) and the opt-outs."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.airflow._fakes import sdk
from wandb_provider._runs import TaskCoordinates, deployment_identity
from wandb_provider.client import WandbClient

pytestmark = pytest.mark.wandb_server(seed="demo")
RUN_OPERATIONS = ("UpsertBucket", "UseArtifact", "ArtifactProducer")


def _run_path(dag_id: str, run_id: str, task_id: str, project: str = "churn") -> str:
    coordinates = TaskCoordinates(dag_id, run_id, task_id, deployment=deployment_identity())
    return f"acme/{project}/{coordinates.wandb_run_id}"


def test_producer_and_consumers_are_runs_of_the_tasks(wandb_env: Any, run_dag: Any, out: Path) -> None:
    wandb_env.reset_stats()
    dag_run = run_dag("log_then_use")
    assert dag_run.state == "success"
    xcom = json.loads(out.read_text())
    api = sdk(wandb_env)
    version = api.artifact("acme/churn/features:v0")
    producer = version.logged_by()
    assert producer.path == _run_path("log_then_use", dag_run.run_id, "log").split("/")
    assert xcom["log"]["run"]["run_id"] == producer.id
    assert producer.state == "finished" and producer.job_type == "log"
    assert producer.group == f"log_then_use/{dag_run.run_id}"
    assert {k: producer.config[k] for k in ("dag_id", "run_id", "task_id", "try_number", "map_index")} == {
        "dag_id": "log_then_use", "run_id": dag_run.run_id, "task_id": "log", "try_number": 1, "map_index": -1}
    assert producer.config["logical_date"].startswith(str(dag_run.logical_date.date()))
    consumers = {run.job_type: run for run in version.used_by()}
    assert set(consumers) == {"use", "promote"}  # the download and the promotion; never the producer
    assert all(run.state == "finished" and run.group == producer.group for run in consumers.values())
    # The download's XCom names the producing run.
    assert xcom["use"]["logged_by"] == {"entity": "acme", "project": "churn", "run_id": producer.id,
                                        "url": xcom["log"]["run"]["url"]}
    # client.lineage() sees the same graph.
    with WandbClient.from_env() as client:
        lineage = client.lineage("acme/churn/features:v0")
    assert lineage["logged_by"].run_id == producer.id
    assert sorted(r.job_type or "" for r in lineage["used_by"]) == ["promote", "use"]
    # The budget: log = begin + finish; use = producer lookup + one run record and its use; promote = the same
    # without the lookup.
    operations = wandb_env.stats()["graphql"]["operations"]
    assert {op: operations.get(op, 0) for op in RUN_OPERATIONS} == \
        {"UpsertBucket": 4, "UseArtifact": 2, "ArtifactProducer": 1}


def test_opt_out_per_operator_and_per_connection(wandb_env: Any, run_dag: Any, out: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    conn = {"conn_type": "wandb", "host": wandb_env.base_url, "password": wandb_env.api_key,
            "extra": {"entity": "acme", "project": "churn", "record_runs": "false"}}
    monkeypatch.setenv("AIRFLOW_CONN_WANDB_NORUN", json.dumps(conn))
    monkeypatch.setenv("AIRFLOW_CONN_WANDB_DEFAULT", json.dumps({**conn, "extra": {"entity": "acme"}}))
    wandb_env.reset_stats()
    assert run_dag("log_without_runs").state == "success"
    xcom = json.loads(out.read_text())
    assert xcom["log"]["run"] is None and xcom["use"]["logged_by"] is None
    version = sdk(wandb_env).artifact("acme/churn/features-norun:v0")
    assert version.logged_by() is None and list(version.used_by()) == []
    assert version.metadata["airflow"]["task_id"] == "log"  # provenance is recorded all the same
    operations = wandb_env.stats()["graphql"]["operations"]
    assert {op: operations.get(op, 0) for op in RUN_OPERATIONS} == \
        {"UpsertBucket": 0, "UseArtifact": 0, "ArtifactProducer": 1}


def test_a_failed_task_leaves_a_failed_run(wandb_env: Any, run_dag: Any, out: Path) -> None:
    dag_run = run_dag("log_type_clash")  # churn-model is a model: W&B refuses a dataset version of it
    (log,) = [ti for ti in dag_run.get_task_instances() if ti.task_id == "log"]
    assert log.state == "failed" and log.try_number == 1
    run = sdk(wandb_env).run(_run_path("log_type_clash", dag_run.run_id, "log"))
    assert run.state == "failed" and run.job_type == "log"


def test_a_task_that_fails_before_touching_wandb_records_nothing(wandb_env: Any, run_dag: Any, out: Path) -> None:
    wandb_env.reset_stats()
    run_dag("use_artifact_missing")
    assert wandb_env.stats()["graphql"]["operations"] == {"ArtifactByName": 1}


def test_task_run_helper_records_user_code(wandb_env: Any, run_dag: Any, out: Path) -> None:
    wandb_env.reset_stats()
    dag_run = run_dag("task_run_helper")
    assert dag_run.state == "success"
    result = json.loads(out.read_text())["featurize"]
    api = sdk(wandb_env)
    version = api.artifact(result["version"])
    assert "fresh" in version.aliases and version.metadata["airflow"]["task_id"] == "featurize"
    producer = version.logged_by()
    assert "/".join(producer.path) == result["run"] == _run_path("task_run_helper", dag_run.run_id, "featurize")
    assert producer.state == "finished" and producer.job_type == "featurize"
    assert producer.id in [run.id for run in api.artifact("acme/churn/churn-dataset:training").used_by()]
    operations = wandb_env.stats()["graphql"]["operations"]
    assert operations.get("UpsertBucket", 0) == 2


def test_task_run_helper_marks_a_failed_block_failed(wandb_env: Any, run_dag: Any, out: Path) -> None:
    dag_run = run_dag("task_run_helper_fails")
    (ti,) = [ti for ti in dag_run.get_task_instances() if ti.task_id == "featurize"]
    assert ti.state == "failed"
    run = sdk(wandb_env).run(_run_path("task_run_helper_fails", dag_run.run_id, "featurize"))
    assert run.state == "failed"
    used = [artifact.name for artifact in run.used_artifacts()]
    assert used == ["churn-dataset:v2"]


def test_run_ids_are_stable_valid_and_distinct() -> None:
    first = TaskCoordinates("etl", "manual__2026-01-01T00:00:00+00:00", "load", 0, try_number=1)
    retry = TaskCoordinates("etl", "manual__2026-01-01T00:00:00+00:00", "load", 0, try_number=2)
    assert first.wandb_run_id == retry.wandb_run_id  # an Airflow retry resumes the same run
    others = {TaskCoordinates("etl", "manual__2026-01-01T00:00:00+00:00", "load", 1).wandb_run_id,
              TaskCoordinates("etl", "scheduled__2026-01-01", "load", 0).wandb_run_id,
              TaskCoordinates("etl", "manual__2026-01-01T00:00:00+00:00", "save", 0).wandb_run_id,
              TaskCoordinates("etl-load", "manual__2026-01-01T00:00:00+00:00", "", 0).wandb_run_id}
    assert first.wandb_run_id not in others and len(others) == 4
    long = TaskCoordinates("d" * 250, "r" * 250, "Ünïcode task/with:odd#chars?" * 5, 3)
    for coordinates in (first, long):
        assert re.fullmatch(r"[a-z0-9-]{1,64}", coordinates.wandb_run_id)
        assert len(coordinates.group) <= 128 and len(coordinates.display_name) <= 128
    assert long.group != TaskCoordinates("d" * 250, "r" * 249 + "s", "t").group


def test_record_runs_extra_is_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    from wandb_provider.hooks.wandb import ConnectionConfigError, WandbHook

    for text, expected in (("false", False), ("On", True), (False, False)):
        monkeypatch.setenv("AIRFLOW_CONN_WANDB_X", json.dumps({"conn_type": "wandb", "extra": {"record_runs": text}}))
        hook = WandbHook(wandb_conn_id="wandb_x")
        assert not hasattr(hook.get_config(), "record_runs")  # an Airflow setting, not the client's
        assert hook.record_runs is expected
    monkeypatch.setenv("AIRFLOW_CONN_WANDB_X", json.dumps({"conn_type": "wandb", "extra": {"record_runs": "maybe"}}))
    with pytest.raises(ConnectionConfigError, match="record_runs"):
        WandbHook(wandb_conn_id="wandb_x").get_config()


def test_marking_a_failed_run_is_brief_and_never_raises(wandb_env: Any) -> None:
    from wandb_provider._runs import TaskRun

    recorder = TaskRun(TaskCoordinates("etl", "r1", "load"))
    recorder.home = ("acme", "churn")
    wandb_env.set_faults([{"route": "graphql", "kind": "status", "status": 503}])
    wandb_env.reset_stats()
    with WandbClient.from_env(max_retries=8) as client:
        recorder.end(client, failed=True)  # W&B is down: logged, not raised, one retry only
    assert wandb_env.stats()["graphql"]["total"] == 2


def test_a_version_that_cannot_be_declared_used_still_gets_the_state(wandb_env: Any) -> None:
    from wandb_provider._runs import TaskRun

    with WandbClient.from_env() as client:
        version = client.artifact("acme/churn/churn-dataset:v0")
        recorder = TaskRun(TaskCoordinates("retention", "r1", "delete"))
        recorder.use(version)
        client.delete(version, delete_aliases=True)  # what DeleteArtifactVersionOperator does
        recorder.end(client, failed=False)
    run = sdk(wandb_env).run(f"acme/churn/{recorder.coordinates.wandb_run_id}")
    assert run.state == "finished" and run.job_type == "delete"


def test_a_run_and_its_uses_go_one_mutation_per_request(wandb_env: Any) -> None:
    with WandbClient.from_env() as client:
        dataset = client.artifact("acme/churn/churn-dataset:v0")
        model = client.artifact("acme/churn/churn-model:v1")
        wandb_env.reset_stats()
        run = client.upsert_run("acme", "churn", "one-request", job_type="t", used=[dataset, dataset])
        assert wandb_env.stats()["graphql"] == {"total": 2, "operations": {"UpsertBucket": 1, "UseArtifact": 1}}
        finished = client.finish_run(run, failed=False, used=[model])
        assert finished.state == "finished" and wandb_env.stats()["graphql"]["total"] == 4
        with pytest.raises(Exception, match="state"):
            client.upsert_run("acme", "churn", "bad-state", state="crashed")
        assert wandb_env.stats()["graphql"]["total"] == 4
    api = sdk(wandb_env)
    assert [r.id for r in api.artifact("acme/churn/churn-dataset:v0").used_by()] == ["one-request"]
    assert "one-request" in [r.id for r in api.artifact("acme/churn/churn-model:v1").used_by()]
    assert api.run("acme/churn/one-request").state == "finished"


def test_an_airflow_retry_resumes_the_same_run(wandb_env: Any, run_dag: Any, out: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    conn = {"conn_type": "wandb", "host": wandb_env.base_url, "password": wandb_env.api_key,
            "extra": {"entity": "acme", "max_retries": 0}}
    monkeypatch.setenv("AIRFLOW_CONN_WANDB_NORETRY", json.dumps(conn))
    wandb_env.set_faults([{"route": "uploads", "kind": "status", "status": 503, "times": 1}])
    dag_run = run_dag("log_retry")
    assert dag_run.state == "success"
    (ti,) = [ti for ti in dag_run.get_task_instances() if ti.task_id == "log"]
    assert ti.try_number == 2  # the first try failed on the upload, the retry finished it
    run = sdk(wandb_env).run(_run_path("log_retry", dag_run.run_id, "log"))
    assert run.state == "finished" and run.config["try_number"] == 2
    version = sdk(wandb_env).artifact("acme/churn/retried:latest")
    assert version.version == "v0" and version.logged_by().id == run.id  # the retry finished the same version
    assert "try_number" not in version.metadata["airflow"]


def test_two_deployments_never_share_a_run_id(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same dag, run, task and map index in two Airflow deployments writing to one W&B project."""
    here = TaskCoordinates("etl", "manual__2026-01-01T00:00:00+00:00", "load", deployment=deployment_identity())
    there = TaskCoordinates("etl", "manual__2026-01-01T00:00:00+00:00", "load", deployment="other-airflow")
    assert here.wandb_run_id != there.wandb_run_id
    assert deployment_identity("prod-airflow") == "prod-airflow"  # the connection extra wins
    monkeypatch.setenv("AIRFLOW__WANDB__DEPLOYMENT", "eu-airflow")
    assert deployment_identity() == "eu-airflow"
    monkeypatch.delenv("AIRFLOW__WANDB__DEPLOYMENT")
    monkeypatch.setenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "postgresql://a@db-one/airflow")
    one = deployment_identity()
    monkeypatch.setenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "postgresql://a@db-two/airflow")
    assert one != deployment_identity() and "db-one" not in one  # only a hash of the URL is used


def test_the_connection_extra_names_the_deployment_in_the_run_id(
        wandb_env: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from tests.airflow._fakes import RecordingTI
    from wandb_provider.operators.artifacts import UseArtifactOperator

    conn = {"conn_type": "wandb", "host": wandb_env.base_url, "password": wandb_env.api_key,
            "extra": {"deployment": "eu-airflow"}}
    monkeypatch.setenv("AIRFLOW_CONN_WANDB_DEFAULT", json.dumps(conn))
    UseArtifactOperator(task_id="t", artifact="acme/churn/churn-dataset:v0", root=str(tmp_path / "d")).execute(
        {"ti": RecordingTI(), "run_id": "r"})
    expected = TaskCoordinates("d", "r", "t", deployment="eu-airflow").wandb_run_id
    assert sdk(wandb_env).run(f"acme/churn/{expected}").state == "finished"
