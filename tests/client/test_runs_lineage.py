"""Runs and lineage: ``upsert_run``, ``use_artifact``, ``finish_run``, ``log_artifact(run=)`` and
``lineage()``, read back through the official SDK (``logged_by()``, ``used_by()``, run state)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from wandb_provider.client import WandbClient
from wandb_provider.client.errors import InvalidValueError
from wandb_provider.client.models import WandbRun


@pytest.fixture
def client(wandb_env: Any) -> WandbClient:
    return WandbClient(wandb_env.base_url, wandb_env.api_key, entity=wandb_env.entity, project="p")


@pytest.fixture
def data(tmp_path: Path) -> Path:
    (tmp_path / "raw.csv").write_text("a,b\n1,2\n")
    return tmp_path / "raw.csv"


def sdk() -> Any:
    import wandb

    return wandb.Api()


def test_a_run_is_recorded_with_its_config_and_honest_final_state(client: WandbClient, wandb_env: Any) -> None:
    wandb_env.reset_stats()
    run = client.upsert_run(wandb_env.entity, "p", "etl__daily__load__0", job_type="load", group="etl/daily",
                            config={"dag_id": "etl", "try_number": 1, "map_index": -1},
                            display_name="etl.load")
    assert wandb_env.stats()["graphql"]["operations"] == {"UpsertBucket": 1}
    seen = sdk().run(f"{wandb_env.entity}/p/etl__daily__load__0")
    assert seen.state == "running" and seen.job_type == "load" and seen.group == "etl/daily"
    assert seen.config == {"dag_id": "etl", "try_number": 1, "map_index": -1}
    assert run.path == f"{wandb_env.entity}/p/etl__daily__load__0" and run.state == "running"
    # An Airflow retry resumes the same run: same id, new config, no second run.
    again = client.upsert_run(wandb_env.entity, "p", "etl__daily__load__0", job_type="load", config={"try_number": 2})
    assert again.id == run.id
    wandb_env.reset_stats()
    failed = client.finish_run(run, failed=True)
    assert failed.state == "failed" and wandb_env.stats()["graphql"]["operations"] == {"UpsertBucket": 1}
    assert sdk().run(run.path).state == "failed"
    client.finish_run(run, failed=False)
    assert sdk().run(run.path).state == "finished"
    assert sdk().run(run.path).config == {"try_number": 2}


def test_logged_by_and_used_by_through_the_sdk(client: WandbClient, wandb_env: Any, data: Path) -> None:
    producer = client.upsert_run(None, "p", "producer-run", job_type="produce")
    version = client.log_artifact("raw", "dataset", data, run=producer)
    client.finish_run(producer, failed=False)
    consumers = [client.upsert_run(None, "p", f"consumer-{i}", job_type="consume") for i in range(2)]
    wandb_env.reset_stats()
    client.use_artifact(consumers[0], version)
    client.use_artifact(consumers[1].to_dict(), version)  # as an XCom hands it back
    assert wandb_env.stats()["graphql"]["operations"] == {"UseArtifact": 2}  # one request per declared use
    artifact = sdk().artifact(f"{wandb_env.entity}/p/raw:v0")
    assert artifact.logged_by().id == "producer-run"
    assert sorted(r.id for r in artifact.used_by()) == ["consumer-0", "consumer-1"]
    lineage = client.lineage(version)
    assert isinstance(lineage["logged_by"], WandbRun) and lineage["logged_by"].run_id == "producer-run"
    assert lineage["logged_by"].job_type == "produce"
    assert sorted(r.run_id for r in lineage["used_by"]) == ["consumer-0", "consumer-1"]
    # Declaring the same use again (a retried task) adds nothing.
    client.use_artifact(consumers[0], version)
    assert len(client.lineage(version)["used_by"]) == 2


def test_a_version_logged_without_a_run_has_no_producer(client: WandbClient, wandb_env: Any, data: Path) -> None:
    version = client.log_artifact("raw", "dataset", data)
    assert client.lineage(version) == {"logged_by": None, "used_by": []}


def test_same_content_from_another_run_keeps_the_first_producer(client: WandbClient, wandb_env: Any,
                                                                data: Path) -> None:
    first = client.upsert_run(None, "p", "first")
    second = client.upsert_run(None, "p", "second")
    version = client.log_artifact("raw", "dataset", data, run=first)
    again = client.log_artifact("raw", "dataset", data, run=second, aliases=["checked"])
    assert again.id == version.id and "checked" in again.aliases
    assert sdk().artifact(f"{wandb_env.entity}/p/raw:v0").logged_by().id == "first"


def test_run_arguments_are_checked_before_any_request(client: WandbClient, wandb_env: Any, data: Path) -> None:
    wandb_env.reset_stats()
    for bad in ("", "a/b", "has space", "x" * 129, "q?"):
        with pytest.raises(InvalidValueError):
            client.upsert_run(wandb_env.entity, "p", bad)
    with pytest.raises(InvalidValueError):
        client.upsert_run(wandb_env.entity, "p", "ok", config={"x": float("inf")})
    elsewhere = WandbRun(wandb_env.entity, "other-project", "r1")
    with pytest.raises(InvalidValueError, match="its own project"):
        client.log_artifact("raw", "dataset", data, project="p", run=elsewhere)
    with pytest.raises(InvalidValueError):
        client.finish_run(elsewhere, failed="yes")  # type: ignore[arg-type]
    assert wandb_env.stats()["graphql"]["total"] == 0


def test_log_artifact_defaults_to_the_runs_project(wandb_env: Any, data: Path) -> None:
    client = WandbClient(wandb_env.base_url, wandb_env.api_key, entity=wandb_env.entity)
    run = client.upsert_run(None, "runs-project", "r1")
    version = client.log_artifact("raw", "dataset", data, run=run)
    assert version.project == "runs-project"
    assert sdk().artifact(f"{wandb_env.entity}/runs-project/raw:v0").logged_by().id == "r1"
