"""ArtifactVersionSensor (poke) and ArtifactVersionTrigger (deferred) against the local server."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import PokeReturnValue

from tests.airflow._fakes import RecordingTI
from wandb_provider._compat import AirflowFailException, TaskDeferred
from wandb_provider.sensors.artifacts import ArtifactVersionSensor
from wandb_provider.testing import ids
from wandb_provider.triggers.artifacts import ArtifactVersionTrigger

pytestmark = pytest.mark.wandb_server(seed="demo")


def _sensor(**kwargs: Any) -> ArtifactVersionSensor:
    kwargs.setdefault("task_id", "wait")
    kwargs.setdefault("poke_interval", 0.1)
    kwargs.setdefault("timeout", 30)
    return ArtifactVersionSensor(**kwargs)


def test_waits_until_the_version_appears(wandb_env) -> None:
    sensor = _sensor(artifact="demo/fresh/new-data:latest", missing_collection_grace=None)  # created later
    context = {"ti": RecordingTI()}
    assert sensor.poke(context) is False
    wandb_env.seed_artifact("new-data", {"a.txt": "a"}, project="fresh", metadata={"rows": 3})
    result = sensor.poke(context)
    assert isinstance(result, PokeReturnValue) and result.is_done
    assert result.xcom_value["qualified_name"] == "demo/fresh/new-data:v0"
    assert result.xcom_value["metadata"] == {"rows": 3}
    assert "bytes_downloaded" not in result.xcom_value and "path" not in result.xcom_value
    assert context["ti"].pushed["wandb_artifact_url"] == result.xcom_value["url"]


def test_one_graphql_request_per_poke(wandb_env) -> None:
    sensor = _sensor(artifact="acme/churn/churn-model:production", newer_than="v1")
    wandb_env.reset_stats()
    for _ in range(3):
        assert sensor.poke({"ti": RecordingTI()}) is False
    assert wandb_env.stats()["graphql"] == {"total": 3, "operations": {"ArtifactByName": 3}}


@pytest.mark.parametrize(
    ("options", "ready"),
    [
        pytest.param({"newer_than": "v1"}, False, id="newer-false"),
        pytest.param({"newer_than": "v0"}, True, id="newer-true"),
        pytest.param({"require": {"accuracy": {">=": 0.8}}}, True, id="gate-true"),
        pytest.param({"require": {"accuracy": {">=": 0.95}}}, False, id="gate-false"),
        pytest.param({"created_after": "2000-01-01T00:00:00Z"}, True, id="created-true"),
        pytest.param({"created_after": "2100-01-01T00:00:00Z"}, False, id="created-false"),
    ],
)
def test_conditions(wandb_env, options: dict[str, Any], ready: bool) -> None:
    result = _sensor(artifact="acme/churn/churn-model:production", **options).poke({"ti": RecordingTI()})
    assert bool(result) is ready


def test_pending_version_is_not_ready(wandb_env) -> None:
    store = wandb_env.store
    with store.db.transaction():
        store.uploads.create_artifact(wandb_env.user(), {
            "entityName": "demo", "projectName": "p", "artifactCollectionName": "half",
            "artifactTypeName": "dataset", "digest": "0" * 32})
    assert _sensor(artifact="demo/p/half:v0").poke({"ti": RecordingTI()}) is False


def test_bad_key_fails_at_the_first_poke(wandb_env, monkeypatch: pytest.MonkeyPatch) -> None:
    conn = {"conn_type": "wandb", "host": wandb_env.base_url, "password": "bad-" + "x" * 40}
    monkeypatch.setenv("AIRFLOW_CONN_WANDB_DEFAULT", json.dumps(conn))
    wandb_env.reset_stats()
    with pytest.raises(AirflowFailException, match="API key"):
        _sensor(artifact="acme/churn/churn-model:production").poke({"ti": RecordingTI()})
    assert wandb_env.stats()["graphql"]["total"] == 1


def test_an_empty_connection_id_fails_when_the_dag_is_parsed() -> None:
    with pytest.raises(AirflowFailException, match="wandb_conn_id is empty"):
        _sensor(artifact="acme/churn/churn-model:production", wandb_conn_id=" ")


def test_invalid_path_fails_before_any_request(wandb_env) -> None:
    wandb_env.reset_stats()
    with pytest.raises(AirflowFailException, match="invalid artifact path"):
        _sensor(artifact="a/b/c/d").poke({"ti": RecordingTI()})
    assert wandb_env.stats()["graphql"]["total"] == 0


def test_transient_errors_mean_try_again(wandb_env, monkeypatch: pytest.MonkeyPatch) -> None:
    conn = {"conn_type": "wandb", "host": wandb_env.base_url, "password": wandb_env.api_key,
            "extra": {"max_retries": 0}}
    monkeypatch.setenv("AIRFLOW_CONN_WANDB_DEFAULT", json.dumps(conn))
    sensor = _sensor(artifact="acme/churn/churn-model:production")
    wandb_env.set_faults([{"route": "graphql", "kind": "status", "status": 503, "times": 1}])
    assert sensor.poke({"ti": RecordingTI()}) is False
    assert isinstance(sensor.poke({"ti": RecordingTI()}), PokeReturnValue)


def _move_production_later(server, reads: int = 1, operation: str | None = None) -> threading.Thread:
    """Move ``production`` to v2 once the server has answered ``reads`` GraphQL requests (of
    ``operation``, if given) since now: after the waiting task has looked, whatever the machine's speed."""
    server.reset_stats()

    def seen() -> int:
        graphql = server.stats()["graphql"]
        return graphql["operations"].get(operation, 0) if operation else graphql["total"]

    def move() -> None:
        deadline = time.monotonic() + 120
        while seen() < reads + 1 and time.monotonic() < deadline:  # the next request: the earlier ones were answered
            time.sleep(0.02)
        store = server.store
        with store.db.transaction():
            project = store.accounts.get_project(server.user(), "acme", "churn")
            v2 = store.memberships.resolve_name(project, "churn-model:v2")
            assert v2 is not None
            store.versions.change_aliases(server.user(), v2[1].artifact_id, [
                {"alias": "production", "artifactCollectionName": "churn-model", "entityName": "acme",
                 "projectName": "churn"}], add=True)

    thread = threading.Thread(target=move, daemon=True)
    thread.start()
    return thread


def test_deferrable_sensor_defers_with_a_serializable_trigger(wandb_env) -> None:
    sensor = _sensor(artifact="acme/churn/churn-model:production", newer_than="v1", deferrable=True, timeout=60)
    with pytest.raises(TaskDeferred) as info:
        sensor.execute({"ti": RecordingTI()})
    trigger = info.value.trigger
    classpath, kwargs = trigger.serialize()
    assert classpath == "wandb_provider.triggers.artifacts.ArtifactVersionTrigger"
    json.dumps(kwargs)
    rebuilt = ArtifactVersionTrigger(**kwargs)
    assert rebuilt.serialize() == (classpath, kwargs)
    assert kwargs["end_time"] > time.time() + 50


def test_trigger_fires_when_the_alias_moves(wandb_env) -> None:
    trigger = ArtifactVersionTrigger(artifact="acme/churn/churn-model:production", newer_than="v1",
                                     poll_interval=0.1, end_time=time.time() + 30)
    mover = _move_production_later(wandb_env, operation="WatchCollections")

    async def first_event() -> Any:
        return await asyncio.wait_for(trigger.run().__anext__(), timeout=20)

    event = asyncio.run(first_event())
    mover.join()
    assert event.payload["status"] == "success"
    assert event.payload["version"]["version"] == "v2"


def test_trigger_fails_fast_on_a_bad_key_and_times_out(wandb_env, monkeypatch: pytest.MonkeyPatch) -> None:
    async def first_event(trigger: ArtifactVersionTrigger) -> Any:
        return await asyncio.wait_for(trigger.run().__anext__(), timeout=20)

    timed = ArtifactVersionTrigger(artifact="acme/churn/churn-model:production", newer_than="v5",
                                   poll_interval=0.1, end_time=time.time() + 0.5)
    assert asyncio.run(first_event(timed)).payload["status"] == "timeout"
    conn = {"conn_type": "wandb", "host": wandb_env.base_url, "password": "bad-" + "y" * 40}
    monkeypatch.setenv("AIRFLOW_CONN_WANDB_DEFAULT", json.dumps(conn))
    # The connection changed within the shared clients' minute: a new event loop reads it afresh.
    bad = ArtifactVersionTrigger(artifact="acme/churn/churn-model:production", poll_interval=0.1,
                                 end_time=time.time() + 30)
    event = asyncio.run(first_event(bad))
    assert event.payload["status"] == "error" and "API key" in event.payload["message"]


def test_trigger_gives_up_at_the_deadline_even_if_w_and_b_hangs(wandb_env) -> None:
    wandb_env.set_faults([{"route": "graphql", "kind": "delay", "seconds": 4}])
    trigger = ArtifactVersionTrigger(artifact="acme/churn/churn-model:production", poll_interval=0.05,
                                     end_time=time.time() + 1.0)

    async def first_event_and_wait() -> tuple[Any, float]:
        started = time.monotonic()
        event = await asyncio.wait_for(trigger.run().__anext__(), timeout=10)
        return event, time.monotonic() - started

    event, waited = asyncio.run(first_event_and_wait())  # (asyncio.run then joins the hung thread)
    assert event.payload["status"] == "timeout" and waited < 3


@pytest.mark.parametrize("dag_id", ["wait_for_promotion", "wait_for_promotion_reschedule"],
                         ids=["deferrable", "reschedule"])
def test_sensor_in_a_dag_run(wandb_env, run_dag, dag_id: str, tmp_path: Path,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The sensor fires after the alias moves (another thread) and the downstream task gets its XCom."""
    monkeypatch.setenv("WANDB_PROVIDER_TEST_OUT", str(tmp_path / "xcom.json"))
    mover = _move_production_later(wandb_env)
    run = run_dag(dag_id)
    mover.join()
    assert run.state == "success"
    received = json.loads((tmp_path / "xcom.json").read_text())
    assert received["qualified_name"] == "acme/churn/churn-model:v2" and "production" in received["aliases"]
    assert ids.decode(received["id"], "Artifact") is not None
