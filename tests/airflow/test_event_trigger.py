"""ArtifactEventTrigger (AssetWatcher): what fires, what never fires twice, what is never missed.

Most tests drive the trigger's decision (``filter_shared_stream``) with snapshots the real batched
poll reads from the local server at moments the test chooses; W&B changes are made with the
official SDK. The last tests run the trigger's own poll loop and count the requests it makes.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.airflow._fakes import poll_loops_left, polls_seen
from wandb_provider._compat import AirflowFailException
from wandb_provider.client import WandbClient
from wandb_provider.client import watch as watch_module
from wandb_provider.client.watch import CollectionWatch, poll_collections
from wandb_provider.triggers.events import ArtifactEventTrigger

pytestmark = pytest.mark.wandb_server(seed="demo")
MODEL = "acme/churn/churn-model"


class Driver:
    """Feeds a trigger's filter one real poll at a time, and collects what it fires."""

    def __init__(self, server: Any, trigger: ArtifactEventTrigger) -> None:
        self.client = WandbClient(server.base_url, server.api_key)
        self.trigger = trigger
        self.watch = CollectionWatch.of(trigger.collection, [trigger.alias] if trigger.alias else [])
        self.loop = asyncio.new_event_loop()
        self.snapshots: asyncio.Queue[Any] = asyncio.Queue()
        self.fired: list[dict[str, Any]] = []
        self.asked = 0  # how many snapshots the filter has asked for: it asks for the next one once done
        self.task = self.loop.run_until_complete(self._start())

    async def _start(self) -> asyncio.Task[None]:
        return asyncio.create_task(self._collect())

    async def _collect(self) -> None:
        async for event in self.trigger.filter_shared_stream(self._stream()):
            self.fired.append(event.payload)

    async def _stream(self) -> AsyncIterator[Any]:
        while True:
            self.asked += 1
            yield await self.snapshots.get()

    def poll(self) -> list[dict[str, Any]]:
        """One poll: the payloads fired for it, once the filter has asked for the snapshot after it
        (it has then handed out every event of this one: no timer)."""
        self.snapshots.put_nowait(poll_collections(self.client, [self.watch])[self.watch])
        asked = self.asked

        async def settle() -> None:
            while self.asked <= asked:
                await asyncio.sleep(0.002)  # a condition's check, not a guess of how long the filter takes

        self.loop.run_until_complete(settle())
        fired, self.fired = self.fired, []
        return fired

    def close(self) -> None:
        self.task.cancel()
        self.loop.run_until_complete(asyncio.gather(self.task, return_exceptions=True))
        self.loop.close()
        self.client.close()


@pytest.fixture
def drive(wandb_env) -> Any:
    drivers: list[Driver] = []

    def make(**kwargs: Any) -> Driver:
        kwargs.setdefault("collection", MODEL)
        driver = Driver(wandb_env, ArtifactEventTrigger(**kwargs))
        drivers.append(driver)
        return driver

    yield make
    for driver in drivers:
        driver.close()


def _new_model(server: Any, n: int = 1, metadata: dict[str, Any] | None = None) -> None:
    for i in range(n):
        server.seed_artifact("churn-model", {"model.json": f"{time.time_ns()}-{i}"}, type="model",
                             project="churn", entity="acme", metadata=metadata or {"accuracy": 0.5})


def _sdk() -> Any:
    import wandb

    return wandb.Api(overrides={"entity": "acme"})


def test_new_version_fires_once_with_its_identity(wandb_env, drive) -> None:
    driver = drive()
    assert driver.poll() == []  # what is there when watching starts has been seen
    _new_model(wandb_env)
    [event] = driver.poll()
    sdk_view = _sdk().artifact(f"{MODEL}:v3")
    assert event["reason"] == "new_version"
    assert event["qualified_name"] == f"{MODEL}:v3"
    assert event["id"] == sdk_view.id and event["digest"] == sdk_view.digest
    assert event["aliases"] == ["latest"] and event["collection"] == f"wandb://{MODEL}"
    assert driver.poll() == []  # no duplicate


def test_every_version_between_two_polls_fires_oldest_first(wandb_env, drive) -> None:
    driver = drive()
    driver.poll()
    _new_model(wandb_env, 3)
    assert [e["version"] for e in driver.poll()] == ["v3", "v4", "v5"]
    assert driver.poll() == []


def test_more_versions_than_the_window_are_counted_not_silently_missed(wandb_env, drive, monkeypatch) -> None:
    monkeypatch.setattr(watch_module, "WINDOW", 2)
    driver = drive()
    driver.poll()
    _new_model(wandb_env, 5)  # v3..v7; a poll reads v6, v7
    fired = driver.poll()
    assert [e["version"] for e in fired] == ["v6", "v7"]
    assert fired[0]["unseen_versions"] == 3  # v3, v4, v5 and "unseen_versions" not in fired[1]


def test_pending_version_fires_when_it_commits(wandb_env, drive) -> None:
    store = wandb_env.store
    driver = drive()
    driver.poll()
    with store.db.transaction():
        created = store.uploads.create_artifact(wandb_env.user(), {
            "entityName": "acme", "projectName": "churn", "artifactCollectionName": "churn-model",
            "artifactTypeName": "model", "digest": "1" * 32})
    assert driver.poll() == []
    with store.db.transaction():
        store.db.execute("UPDATE artifacts SET state = 'COMMITTED' WHERE id = ?", (created.id,))
    assert [e["version"] for e in driver.poll()] == ["v3"]


def test_alias_move_by_the_sdk_fires_for_the_new_holder(wandb_env, drive) -> None:
    driver = drive(alias="production")
    assert driver.poll() == []  # production is on v1 when watching starts
    target = _sdk().artifact(f"{MODEL}:v2")
    target.aliases.append("production")
    target.save()
    [event] = driver.poll()
    assert event["reason"] == "alias" and event["alias"] == "production"
    assert event["version"] == "v2" and "production" in event["aliases"]
    assert driver.poll() == []
    _new_model(wandb_env)  # a new version does not move the alias
    assert driver.poll() == []


def test_alias_mode_applies_the_condition(wandb_env, drive) -> None:
    driver = drive(alias="production", require={"accuracy": {">=": 0.95}})
    driver.poll()
    target = _sdk().artifact(f"{MODEL}:v2")  # accuracy 0.9
    target.aliases.append("production")
    target.save()
    assert driver.poll() == []
    again = _sdk().artifact(f"{MODEL}:v2")
    again.metadata["accuracy"] = 0.97
    again.save()
    [event] = driver.poll()
    assert event["version"] == "v2" and event["reason"] == "alias"


def test_condition_fires_when_a_version_comes_to_meet_it(wandb_env, drive) -> None:
    driver = drive(require={"accuracy": {">=": 0.95}})
    assert driver.poll() == []
    older = _sdk().artifact(f"{MODEL}:v1")
    older.metadata["accuracy"] = "0.96"  # text that reads as a number
    older.save()
    _new_model(wandb_env, metadata={"accuracy": 0.99})
    _new_model(wandb_env, metadata={"accuracy": 0.2})
    fired = driver.poll()
    assert [(e["version"], e["reason"]) for e in fired] == [("v1", "condition"), ("v3", "condition")]
    assert driver.poll() == []


def test_last_seen_replays_what_came_after_it(wandb_env, drive) -> None:
    """After a triggerer restart only the arguments survive: ``last_seen`` replays instead of skipping."""
    assert [e["version"] for e in drive(last_seen="v0").poll()] == ["v1", "v2"]
    assert drive(alias="candidate", last_seen="v2").poll() == []
    assert [e["version"] for e in drive(alias="candidate", last_seen="v1").poll()] == ["v2"]


@pytest.mark.parametrize("kwargs", [
    {"collection": f"{MODEL}:v2"},
    {"collection": MODEL, "alias": "v3"},
    {"collection": MODEL, "alias": "a/b"},
    {"collection": MODEL, "require": {"accuracy": {"~": 1}}},
    {"collection": MODEL, "last_seen": "latest"},
    {"collection": MODEL, "poll_interval": 0},
    {"collection": MODEL, "poll_interval": float("nan")},
    {"collection": ""},
])
def test_bad_arguments_fail_when_the_dag_is_parsed(kwargs: dict[str, Any]) -> None:
    with pytest.raises(AirflowFailException):
        ArtifactEventTrigger(**kwargs)


def test_serializes_and_shares_a_stream_per_collection_and_alias() -> None:
    trigger = ArtifactEventTrigger(collection=MODEL, alias="candidate", poll_interval=30)
    classpath, kwargs = trigger.serialize()
    rebuilt = ArtifactEventTrigger(**kwargs)
    assert rebuilt.serialize() == (classpath, kwargs)
    assert rebuilt.shared_stream_key() == trigger.shared_stream_key()
    assert ArtifactEventTrigger(collection=MODEL, poll_interval=30).shared_stream_key() != trigger.shared_stream_key()


def test_many_watchers_share_one_batched_poll(wandb_env) -> None:
    """40 watchers over 8 collections (two aliases each): one request per poll, and each fires."""
    for c in range(8):
        wandb_env.seed_artifact(f"coll-{c}", {"a": "a"}, project="many", entity="acme")
    triggers = [ArtifactEventTrigger(collection=f"acme/many/coll-{i % 8}", alias=("a" if i % 2 else None),
                                     poll_interval=1.0) for i in range(40)]

    async def watch() -> tuple[list[Any], float, list[str]]:
        wandb_env.reset_stats()
        runs = [t.run() for t in triggers]
        tasks = [asyncio.create_task(run.__anext__()) for run in runs]
        await polls_seen(wandb_env)  # every watcher has its baseline
        wandb_env.reset_stats()
        started = time.monotonic()
        for c in range(8):
            wandb_env.seed_artifact(f"coll-{c}", {"a": "b"}, project="many", entity="acme", aliases=["a"])
        done, pending = await asyncio.wait(tasks, timeout=15)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        seconds = time.monotonic() - started
        await asyncio.gather(*(run.aclose() for run in runs))  # as the triggerer ends a fired trigger
        return [t.result() for t in done], seconds, await poll_loops_left()

    fired, seconds, left = asyncio.run(watch())
    assert len(fired) == 40
    assert {e.payload["version"] for e in fired} == {"v1"}
    graphql = wandb_env.stats()["graphql"]
    # Only batched polls (none at all when a poll counted before the reset read the seeded versions).
    assert set(graphql["operations"]) <= {"WatchCollections"}
    assert graphql["total"] <= math.ceil(seconds / 1.0) + 1 < 40  # one request per poll for all 40 watchers

    assert left == []  # every poll loop stopped with its watchers


@pytest.mark.newer_airflow  # the triggerer's shared streams came with Airflow 3.3
def test_watchers_through_airflows_shared_stream_manager(wandb_env) -> None:
    """As the triggerer runs them: one subscription per (collection, alias), one batched request per poll."""
    from airflow.triggers.shared_stream import SharedStreamManager

    for c in range(4):
        wandb_env.seed_artifact(f"shared-{c}", {"a": "a"}, project="many", entity="acme")
    triggers = [ArtifactEventTrigger(collection=f"acme/many/shared-{i % 4}", poll_interval=1.0) for i in range(20)]

    async def watch() -> list[Any]:
        manager = SharedStreamManager()
        streams = [t.filter_shared_stream(manager.subscribe(trigger_id=i, trigger=t, key=t.shared_stream_key()))
                   for i, t in enumerate(triggers)]
        tasks = [asyncio.create_task(s.__anext__()) for s in streams]
        await polls_seen(wandb_env)  # every watcher holds its baseline read (the server's count, no timer)
        wandb_env.reset_stats()
        for c in range(4):
            wandb_env.seed_artifact(f"shared-{c}", {"a": "b"}, project="many", entity="acme")
        done, pending = await asyncio.wait(tasks, timeout=15)
        for task in pending:
            task.cancel()
        await manager.stop_all()
        return [t.result() for t in done]

    fired = asyncio.run(watch())
    assert sorted(e.payload["qualified_name"] for e in fired) == sorted(
        f"acme/many/shared-{i % 4}:v1" for i in range(20))
    assert wandb_env.stats()["graphql"]["total"] <= 3


def test_a_bad_connection_fails_every_watcher_visibly(wandb_env, monkeypatch) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_WANDB_DEFAULT")
    trigger = ArtifactEventTrigger(collection=MODEL, poll_interval=1.0)

    async def first() -> Any:
        return await asyncio.wait_for(trigger.run().__anext__(), 10)

    with pytest.raises(Exception, match="wandb_default"):
        asyncio.run(first())


def test_the_event_driven_example_parses_with_its_watcher() -> None:
    from tests.conftest import dag_bag_class

    DagBag = dag_bag_class()

    bag = DagBag(dag_folder=str(Path(__file__).resolve().parents[2] / "dags_examples"))
    assert not bag.import_errors
    from airflow.sdk import Asset

    [asset] = [a for a in bag.dags["evaluate_on_candidate"].timetable.asset_condition.objects if isinstance(a, Asset)]
    [watcher] = asset.watchers
    assert watcher.trigger.serialize()[1]["alias"] == "candidate"

