"""The sensor fails fast on what waiting cannot fix (a typo'd collection, a typo'd gate key), and a
sensor that times out says why it kept waiting."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.airflow._fakes import RecordingTI
from wandb_provider._compat import AirflowFailException, AirflowSensorTimeout
from wandb_provider.client import WandbClient
from wandb_provider.client.watch import CollectionWatch, poll_collections
from wandb_provider.sensors.artifacts import ArtifactVersionSensor
from wandb_provider.triggers.artifacts import ArtifactVersionTrigger

pytestmark = pytest.mark.wandb_server(seed="demo")


def _sensor(artifact: str, **kwargs) -> ArtifactVersionSensor:
    kwargs.setdefault("timeout", 120)
    return ArtifactVersionSensor(task_id="wait", artifact=artifact, poke_interval=0.1, mode="poke",
                                 deferrable=False, **kwargs)


def test_a_collection_that_does_not_exist_fails_at_the_first_poke(wandb_env) -> None:
    started = time.monotonic()
    with pytest.raises(AirflowFailException, match="its collection does not exist"):
        _sensor("acme/churn/churn-modle:production").execute({"ti": RecordingTI()})
    assert time.monotonic() - started < 60  # not the 120 s timeout


def test_a_missing_alias_in_a_real_collection_still_waits_and_the_timeout_says_why(wandb_env) -> None:
    sensor = _sensor("acme/churn/churn-model:gold", timeout=0.3)
    with pytest.raises(AirflowSensorTimeout) as caught:
        sensor.execute({"ti": RecordingTI()})
    assert "Still waiting because: not found yet" in str(caught.value) and "'gold'" in str(caught.value)


def test_the_timeout_names_the_gate_that_did_not_hold(wandb_env) -> None:
    sensor = _sensor("acme/churn/churn-model:production", timeout=0.3, require={"accuracy": {">=": 0.99}})
    with pytest.raises(AirflowSensorTimeout, match=r"Still waiting because: .*accuracy = 0.8 does not satisfy >= 0.99"):
        sensor.execute({"ti": RecordingTI()})


def test_a_gate_key_typo_fails_the_sensor_at_once(wandb_env) -> None:
    with pytest.raises(AirflowFailException, match="did you mean 'accuracy'"):
        _sensor("acme/churn/churn-model:production", require={"acuracy": {">=": 0.5}}).execute({"ti": RecordingTI()})
    trigger = ArtifactVersionTrigger(artifact="acme/churn/churn-model:production", require={"acuracy": {">=": 0.5}},
                                     poll_interval=60, end_time=time.time() + 60)

    async def first() -> dict:
        return (await asyncio.wait_for(trigger.run().__anext__(), 20)).payload

    payload = asyncio.run(first())
    assert payload["status"] == "error" and "did you mean 'accuracy'" in payload["message"]


def test_a_5xx_on_a_batch_is_split_so_it_blinds_no_collection(wandb_env) -> None:
    """The batch request draws a 500 (every attempt of it); the batch is split and read again at once:
    each collection gets its snapshot, none carries the error into a wait until the next poll."""
    wandb_env.seed_artifact("other", {"m": "0"}, project="churn", entity="acme")
    client = WandbClient(wandb_env.base_url, wandb_env.api_key, max_retries=0)
    try:
        watches = [CollectionWatch.of("acme/churn/churn-model", ["production"]),
                   CollectionWatch.of("acme/churn/other", ["latest"])]
        client.artifact("acme/churn/churn-model:production")  # the client's lookups are done
        wandb_env.set_faults([{"route": "graphql", "kind": "status", "status": 500, "times": 1}])
        found = poll_collections(client, watches)
    finally:
        client.close()
    assert all(snapshot.error is None for snapshot in found.values())
    assert found[watches[0]].holders["production"].version == "v1"
    assert found[watches[1]].holders["latest"].version == "v0"


def test_deferred_sensors_batched_with_a_failing_poll_fire_on_that_poll(wandb_env, monkeypatch) -> None:
    """Two deferred sensors share one batched request, which draws a 500: both fire on the first poll
    (a poll interval of 60 s would otherwise hold them past the test's bound)."""
    import json

    wandb_env.seed_artifact("other", {"m": "0"}, project="churn", entity="acme")
    conn = {"conn_type": "wandb", "host": wandb_env.base_url, "password": wandb_env.api_key,
            "extra": {"max_retries": 0}}
    monkeypatch.setenv("AIRFLOW_CONN_WANDB_DEFAULT", json.dumps(conn))
    wandb_env.set_faults([{"route": "graphql", "kind": "status", "status": 500, "times": 1}])
    triggers = [ArtifactVersionTrigger(artifact=a, poll_interval=60, end_time=time.time() + 60)
                for a in ("acme/churn/churn-model:production", "acme/churn/other:latest")]

    async def wait() -> list[dict]:
        return [e.payload for e in await asyncio.wait_for(
            asyncio.gather(*(t.run().__anext__() for t in triggers)), timeout=30)]

    assert [p["status"] for p in asyncio.run(wait())] == ["success", "success"]


@pytest.mark.parametrize("field", ["newer_than", "require"])
def test_a_condition_whose_template_renders_none_fails_instead_of_accepting_what_is_there(wandb_env, field) -> None:
    import pendulum
    from airflow.sdk import DAG

    with DAG("sensor_renders_none", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")):
        sensor = _sensor("acme/churn/churn-model:production", **{field: "{{ missing }}"})
    sensor.render_template_fields({"missing": None})
    with pytest.raises(AirflowFailException, match=f"{field} rendered empty"):
        sensor.poke({"ti": RecordingTI()})
    with DAG("sensor_renders_none_opted", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")):
        opted = _sensor("acme/churn/churn-model:production", allow_empty=True, **{field: "{{ missing }}"})
    opted.render_template_fields({"missing": None})
    assert opted.poke({"ti": RecordingTI()}).is_done  # the explicit opt-out: no such condition
