"""Deferred sensors share the triggerer's batched poll: many ArtifactVersionTriggers in one event loop
cost one GraphQL request per 25 collections and poll, and each still decides as a poke would."""

from __future__ import annotations

import asyncio
import json
import math
import time
from pathlib import Path
from typing import Any

import pytest

from tests.airflow._fakes import poll_loops_left, polls_seen, pool_threads_left
from wandb_provider._waiting import READY, WaitSpec, check
from wandb_provider.client import WandbClient
from wandb_provider.client.watch import BATCH
from wandb_provider.triggers.artifacts import ArtifactVersionTrigger
from wandb_provider.triggers.events import ArtifactEventTrigger

pytestmark = pytest.mark.wandb_server(seed="demo")
COLLECTIONS = 30  # two chunks of at most BATCH collections


def _trigger(artifact: str, **kwargs: Any) -> ArtifactVersionTrigger:
    kwargs.setdefault("poll_interval", 1.0)
    kwargs.setdefault("end_time", time.time() + 60)
    return ArtifactVersionTrigger(artifact=artifact, **kwargs)


def _seed_collections(server: Any, project: str) -> None:
    for c in range(COLLECTIONS):
        server.seed_artifact(f"coll-{c}", {"m": "0"}, project=project, entity="acme", metadata={"acc": 0.5})


def test_many_deferred_sensors_share_one_batched_poll_and_each_fires(wandb_env) -> None:
    """120 sensors over 30 collections (new version, alias, metadata condition, a named version):
    at most two requests per poll instead of 120, and each fires with what a poke would return."""
    _seed_collections(wandb_env, "batch")
    kinds = {
        "new_version": lambda c: _trigger(f"acme/batch/coll-{c}:latest", newer_than="v0"),
        "alias": lambda c: _trigger(f"acme/batch/coll-{c}:candidate"),
        "condition": lambda c: _trigger(f"acme/batch/coll-{c}", require={"acc": {">=": 0.9}}),
        "version": lambda c: _trigger(f"acme/batch/coll-{c}:v1"),
    }
    triggers = [(kind, c, make(c)) for kind, make in kinds.items() for c in range(COLLECTIONS)]

    async def wait() -> tuple[list[Any], dict[str, Any], float, list[str]]:
        wandb_env.reset_stats()
        runs = [t.run() for _, _, t in triggers]
        tasks = [asyncio.create_task(run.__anext__()) for run in runs]
        await polls_seen(wandb_env)  # subscribed, first poll read
        wandb_env.reset_stats()
        started = time.monotonic()
        await asyncio.sleep(3.2)
        quiet, seconds = wandb_env.stats()["graphql"], time.monotonic() - started
        assert not any(t.done() for t in tasks), [t.result().payload for t in tasks if t.done()]
        for c in range(COLLECTIONS):
            wandb_env.seed_artifact(f"coll-{c}", {"m": "1"}, project="batch", entity="acme",
                                    aliases=["candidate"], metadata={"acc": 0.95})
        done = await asyncio.wait_for(asyncio.gather(*tasks), timeout=30)
        await asyncio.gather(*(run.aclose() for run in runs))  # as the triggerer ends a fired trigger
        return [e.payload for e in done], quiet, seconds, await poll_loops_left()

    payloads, quiet, seconds, left = asyncio.run(wait())
    polls = math.ceil(seconds / 1.0) + 1
    assert set(quiet["operations"]) == {"WatchCollections"}
    assert quiet["total"] <= polls * math.ceil(COLLECTIONS / BATCH), quiet  # the old trigger: 120 per poll
    client = WandbClient(wandb_env.base_url, wandb_env.api_key)
    try:
        for (kind, c, trigger), payload in zip(triggers, payloads, strict=True):
            assert payload["status"] == "success", (kind, payload)
            assert payload["version"]["qualified_name"] == f"acme/batch/coll-{c}:v1", kind
            poke = check(client, WaitSpec.of(**trigger.arguments))  # what the sensor's poke decides now
            assert poke.status == READY and payload["version"] == poke.version, kind
    finally:
        client.close()
    assert left == []  # the poll loop stopped with its last sensor
    assert pool_threads_left() == []  # and the shared polling closed: its threads ended


def test_sensors_and_watchers_share_one_poll(wandb_env) -> None:
    """Deferred sensors and AssetWatchers of one connection and interval read W&B together."""
    _seed_collections(wandb_env, "mixed")
    sensors = [_trigger(f"acme/mixed/coll-{c}:candidate") for c in range(COLLECTIONS)]
    watchers = [ArtifactEventTrigger(collection=f"acme/mixed/coll-{c}", poll_interval=1.0) for c in range(COLLECTIONS)]

    async def wait() -> tuple[list[Any], dict[str, Any]]:
        wandb_env.reset_stats()
        tasks = [asyncio.create_task(t.run().__anext__()) for t in [*sensors, *watchers]]
        await polls_seen(wandb_env)  # every watcher has its baseline
        wandb_env.reset_stats()
        await asyncio.sleep(2.1)
        quiet = wandb_env.stats()["graphql"]
        for c in range(COLLECTIONS):
            wandb_env.seed_artifact(f"coll-{c}", {"m": "1"}, project="mixed", entity="acme", aliases=["candidate"])
        done = await asyncio.wait_for(asyncio.gather(*tasks), timeout=30)
        return [e.payload for e in done], quiet

    payloads, quiet = asyncio.run(wait())
    assert quiet["total"] <= 4 * math.ceil(COLLECTIONS / BATCH), quiet  # ~3 polls, two requests each
    assert [p["version"]["version"] for p in payloads[:COLLECTIONS]] == ["v1"] * COLLECTIONS
    assert [p["version"] for p in payloads[COLLECTIONS:]] == ["v1"] * COLLECTIONS


def test_a_permanent_error_reaches_only_the_affected_sensor(wandb_env) -> None:
    """A registry path that names no organization while the key belongs to two cannot be read (a
    permanent error of that collection only), and a gate comparing a number with text cannot be
    decided (a permanent error of that sensor only): both fail at once; their neighbours, in the same
    batched request, fire."""
    wandb_env.store.accounts.add_team("beta", {wandb_env.user().username: "admin"})
    wandb_env.store.accounts.add_organization("beta-corp", "beta")
    wandb_env.seed_artifact("text-acc", {"m": "0"}, project="churn", entity="acme", metadata={"acc": "high"})
    ambiguous = _trigger("wandb-registry-model/churn:production")
    mixed = _trigger("acme/churn/text-acc:latest", require={"acc": {">=": 0.9}})
    healthy = [_trigger("acme/churn/churn-model:production"), _trigger("acme/churn/text-acc:latest")]
    late = _trigger("acme/churn/churn-model:production", newer_than="v1")  # still waiting afterwards

    async def wait() -> tuple[list[Any], bool]:
        waiting = asyncio.create_task(late.run().__anext__())
        events = await asyncio.wait_for(
            asyncio.gather(*(t.run().__anext__() for t in [ambiguous, mixed, *healthy])), timeout=20)
        wandb_env.reset_stats()
        await polls_seen(wandb_env)  # two more polls answered since the others fired (no timer)
        still = not waiting.done()
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)
        return [e.payload for e in events], still

    (bad_org, bad_gate, *good), still_waiting = asyncio.run(wait())
    assert bad_org["status"] == "error" and "organization" in bad_org["message"]
    assert bad_gate["status"] == "error" and "cannot compare" in bad_gate["message"]
    assert [p["status"] for p in good] == ["success", "success"]
    assert still_waiting
    client = WandbClient(wandb_env.base_url, wandb_env.api_key)
    try:  # a poke decides the same
        assert check(client, WaitSpec.of("wandb-registry-model/churn:production")).status == "failed"
    finally:
        client.close()


def test_a_transient_failure_is_logged_and_tried_again(wandb_env, monkeypatch, caplog) -> None:
    conn = {"conn_type": "wandb", "host": wandb_env.base_url, "password": wandb_env.api_key,
            "extra": {"max_retries": 0}}
    monkeypatch.setenv("AIRFLOW_CONN_WANDB_DEFAULT", json.dumps(conn))
    wandb_env.set_faults([{"route": "graphql", "kind": "status", "status": 503, "times": 2}])
    triggers = [_trigger("acme/churn/churn-model:production", poll_interval=0.3) for _ in range(5)]

    async def wait() -> list[Any]:
        return [e.payload for e in await asyncio.wait_for(
            asyncio.gather(*(t.run().__anext__() for t in triggers)), timeout=20)]

    with caplog.at_level("INFO"):
        payloads = asyncio.run(wait())
    assert [p["status"] for p in payloads] == ["success"] * 5
    assert "will try again" in caplog.text


def test_the_sensors_deadline_bounds_the_wait_while_others_poll_on(wandb_env) -> None:
    """A sensor with a near deadline times out on time, though it shares a poll loop with a patient one."""
    soon = _trigger("acme/churn/churn-model:production", newer_than="v5", end_time=time.time() + 1.0)
    patient = _trigger("acme/churn/churn-model:production", newer_than="v5", end_time=time.time() + 60)

    async def wait() -> tuple[Any, float, bool]:
        other = asyncio.create_task(patient.run().__anext__())
        started = time.monotonic()
        event = await asyncio.wait_for(soon.run().__anext__(), timeout=10)
        waited = time.monotonic() - started
        wandb_env.reset_stats()
        await polls_seen(wandb_env)  # the patient one polls on after the other timed out (no timer)
        alive = not other.done() and bool(await poll_loops_left(timeout=0))
        other.cancel()
        await asyncio.gather(other, return_exceptions=True)
        return event.payload, waited, alive

    payload, waited, alive = asyncio.run(wait())
    assert payload["status"] == "timeout" and "not newer than v5" in payload["message"]
    assert waited < 5 and alive


def test_a_restarted_triggerer_resumes_from_the_serialized_trigger(wandb_env) -> None:
    """The triggerer stops (the trigger's task is cancelled, its poll loop ends); a new one rebuilds
    the trigger from its serialized arguments and it fires once the version is there."""
    first = _trigger("acme/churn/churn-model:v3")

    async def run_a_while() -> None:
        wandb_env.reset_stats()
        task = asyncio.create_task(first.run().__anext__())
        await polls_seen(wandb_env)  # it polled and read v3 missing, twice (the server's count, no timer)
        assert not task.done()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        assert await poll_loops_left() == []

    asyncio.run(run_a_while())
    _, kwargs = first.serialize()
    rebuilt = ArtifactVersionTrigger(**json.loads(json.dumps(kwargs)))
    wandb_env.seed_artifact("churn-model", {"m": "new"}, project="churn", entity="acme", type="model")
    wandb_env.seed_artifact("churn-model", {"m": "newer"}, project="churn", entity="acme", type="model")
    payload = asyncio.run(asyncio.wait_for(rebuilt.run().__anext__(), timeout=20)).payload
    assert payload["status"] == "success" and payload["version"]["qualified_name"] == "acme/churn/churn-model:v3"


def test_deferrable_sensor_under_dag_test_reads_the_shared_poll(wandb_env, run_dag, out: Path) -> None:
    """End to end (``dag.test``): the sensor defers, the batched poll sees the alias move once it has
    started polling, and the task resumes with the version."""

    from tests.airflow.test_sensor import _move_production_later

    mover = _move_production_later(wandb_env, operation="WatchCollections")
    run = run_dag("wait_for_promotion")
    mover.join()
    assert run.state == "success"
    assert json.loads(out.read_text())["qualified_name"] == "acme/churn/churn-model:v2"
    operations = wandb_env.stats()["graphql"]["operations"]
    assert operations.get("WatchCollections", 0) >= 2 and operations.get("ArtifactByName", 0) == 1, operations
