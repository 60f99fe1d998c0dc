"""What do 1,000 waiting triggers cost one triggerer event loop and W&B?

Every phase runs its triggers at once in one asyncio loop, as the triggerer does, against a local
W&B server in its own process, over ``--collections`` collections, waiting for something that
never comes (so they all keep polling):
  * sensors: ``--sensors`` deferred ``ArtifactVersionSensor`` triggers (``ArtifactVersionTrigger``),
    a third each on a new version (``:latest`` newer than v999), an alias (``:candidate`` newer than
    v999) and a metadata condition (``require`` never met);
  * watchers: ``--watchers`` ``ArtifactEventTrigger``s (half on new versions, half on an alias),
    subscribed through Airflow's own ``SharedStreamManager``;
  * mixed: both at once (they share one poll loop per connection and interval).
Reported per phase: W&B requests per poll interval (goal (issue 11): at most 10 for 1,000 triggers
over 100 collections), CPU time per poll, memory per trigger (traced Python allocations of the
subscribed triggers / their count) and the longest event-loop stall (how late a 5 ms heartbeat
ever woke up, and its 99th percentile; goal: none over 50 ms), next to the longest pause of
CPython's garbage collector in the same window (a full collection walks the whole heap: Airflow's,
not the triggers'); on a loaded machine the longest stall also counts time the OS did not run us.
``--quick`` shortens every phase (a shared machine).

Usage: python bench/triggers.py [--sensors 1000] [--watchers 1000] [--collections 100] [--seconds 20]
       [--poll 5] [--quick] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from _harness import API_KEY, environment, reset_stats, server_process, stats


class GcPauses:
    """The longest pause of CPython's cyclic garbage collector while installed: what a stall owes to it."""

    def __init__(self) -> None:
        self.started = 0.0
        self.longest = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self.started = time.perf_counter()
        else:
            self.longest = max(self.longest, time.perf_counter() - self.started)


async def heartbeat(stop: asyncio.Event, worst: list[float]) -> None:
    """``worst[0]``: the latest a 5 ms sleep ever woke; ``worst[1:]``: every lateness (for percentiles)."""
    while not stop.is_set():
        started = time.perf_counter()
        await asyncio.sleep(0.005)
        late = time.perf_counter() - started - 0.005
        worst[0] = max(worst[0], late)
        worst.append(late)


def make_sensors(count: int, collections: int, poll: float, seconds: float) -> list[Any]:
    from wandb_provider.triggers.artifacts import ArtifactVersionTrigger

    end_time = time.time() + seconds + 120
    kinds = [{"artifact": "{c}:latest", "newer_than": "v999"},
             {"artifact": "{c}:candidate", "newer_than": "v999"},
             {"artifact": "{c}", "require": {"acc": {">=": 2}}}]
    triggers = []
    for i in range(count):
        kind = kinds[i % len(kinds)]
        triggers.append(ArtifactVersionTrigger(**{**kind, "artifact": kind["artifact"].format(
            c=f"acme/bench/coll-{i % collections}")}, poll_interval=poll, end_time=end_time))
    return triggers


def make_watchers(count: int, collections: int, poll: float) -> list[Any]:
    from wandb_provider.triggers.events import ArtifactEventTrigger

    return [ArtifactEventTrigger(collection=f"acme/bench/coll-{i % collections}",
                                 alias="candidate" if i % 2 else None, poll_interval=poll) for i in range(count)]


async def run_phase(sensors: int, watchers: int, collections: int, seconds: float, poll: float,
                    served: Any = None, measuring: Any = None) -> dict[str, Any]:
    """Subscribe ``sensors`` + ``watchers`` triggers as the triggerer does; measure them for ``seconds``
    from when the first poll has been handed out (``served()``: GraphQL requests answered so far;
    ``measuring()`` is called when the measured window opens)."""
    import gc

    from airflow.triggers.shared_stream import SharedStreamManager

    stop = asyncio.Event()
    worst = [0.0]
    manager = SharedStreamManager()

    async def consume(trigger: Any, stream: Any) -> None:
        async for _ in trigger.filter_shared_stream(stream):
            pass

    async def wait(trigger: Any) -> None:
        async for event in trigger.run():
            raise RuntimeError(f"a bench sensor fired: {event.payload}")

    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    deferred = make_sensors(sensors, collections, poll, seconds)
    watching = make_watchers(watchers, collections, poll)
    tasks = [asyncio.create_task(wait(t)) for t in deferred]
    tasks += [asyncio.create_task(consume(t, manager.subscribe(trigger_id=i, trigger=t, key=t.shared_stream_key())))
              for i, t in enumerate(watching)]
    from wandb_provider.client.watch import BATCH

    first_poll = -(-collections // BATCH)
    until = time.monotonic() + 120
    while served is not None and served() < first_poll and time.monotonic() < until:
        await asyncio.sleep(0.2)
    await asyncio.sleep(min(poll, seconds) / 2)  # the first poll handed out: every trigger decided once
    per_trigger = (tracemalloc.get_traced_memory()[0] - base) / max(1, sensors + watchers)
    tracemalloc.stop()
    if measuring is not None:
        measuring()
    pauses = GcPauses()
    gc.callbacks.append(pauses)
    monitor = asyncio.create_task(heartbeat(stop, worst))
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.sleep(seconds)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    gc.callbacks.remove(pauses)
    stop.set()  # the stall is the polling's; cancelling every trigger at once is timed apart below
    await monitor
    failed = [t for t in tasks if t.done()]
    teardown = time.perf_counter()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await manager.stop_all()
    teardown = time.perf_counter() - teardown
    if failed:
        raise RuntimeError(f"{len(failed)} trigger(s) ended early: {failed[0].exception()!r}")
    lateness = sorted(worst[1:]) or [0.0]
    return {"cpu_seconds": cpu, "wall_seconds": wall, "worst_stall_ms": worst[0] * 1000,
            "p99_stall_ms": lateness[int(0.99 * (len(lateness) - 1))] * 1000,
            "longest_gc_pause_ms": pauses.longest * 1000, "bytes_per_trigger": per_trigger,
            "teardown_ms": teardown * 1000}


def bench_phase(name: str, base_url: str, args: argparse.Namespace, sensors: int, watchers: int) -> dict[str, Any]:
    reset_stats(base_url)
    timing = asyncio.run(run_phase(sensors, watchers, args.collections, args.seconds, args.poll,
                                   served=lambda: stats(base_url)["graphql"]["total"],
                                   measuring=lambda: reset_stats(base_url)))
    graphql = stats(base_url)["graphql"]
    window = timing["wall_seconds"]
    polls = max(1.0, window / args.poll)
    result = {
        "phase": name, "sensors": sensors, "watchers": watchers, "collections": args.collections,
        "poll_seconds": args.poll, "requests": graphql["total"], "operations": graphql["operations"],
        "requests_per_poll_interval": graphql["total"] / polls,
        "cpu_ms_per_poll": 1000 * timing["cpu_seconds"] / polls,
        "kib_per_trigger": timing["bytes_per_trigger"] / 1024,
        "worst_stall_ms": timing["worst_stall_ms"], "p99_stall_ms": timing["p99_stall_ms"],
        "longest_gc_pause_ms": timing["longest_gc_pause_ms"], "teardown_ms": timing["teardown_ms"],
    }
    print(f"[{name}] {sensors} deferred sensors + {watchers} watchers over {args.collections} collections, "
          f"poll every {args.poll}s, {window:.1f}s: {graphql['total']} W&B requests {graphql['operations']}")
    print(f"  requests per poll interval {result['requests_per_poll_interval']:.1f} (goal <= 10)")
    print(f"  CPU per poll               {result['cpu_ms_per_poll']:.1f} ms")
    print(f"  memory per trigger         {result['kib_per_trigger']:.1f} KiB (tracemalloc)")
    print(f"  longest loop stall         {result['worst_stall_ms']:.1f} ms (goal <= 50 ms); 99th percentile "
          f"{result['p99_stall_ms']:.1f} ms; longest garbage collector pause {result['longest_gc_pause_ms']:.1f} ms")
    print(f"  cancelling every trigger   {result['teardown_ms']:.1f} ms at once (not a poll: Airflow cancels "
          f"triggers as their tasks leave)")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sensors", type=int, default=1000, help="deferred ArtifactVersionSensor triggers")
    parser.add_argument("--watchers", type=int, default=1000, help="ArtifactEventTriggers (AssetWatcher)")
    parser.add_argument("--collections", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--poll", type=float, default=5.0)
    parser.add_argument("--quick", action="store_true", help="short phases (a shared machine)")
    parser.add_argument("--json")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.poll = min(args.seconds, 10.0), min(args.poll, 2.5)
    work = Path(tempfile.mkdtemp(prefix="bench-triggers-"))
    from wandb_provider.testing.config import DEFAULT_USER
    from wandb_provider.testing.seed import seed_demo
    from wandb_provider.testing.store import SeedFile, Store

    store = Store(str(work / "wandb.sqlite3"), work / "blobs")
    store.accounts.add_user(DEFAULT_USER, API_KEY)
    seed_demo(store, DEFAULT_USER)
    user = store.accounts.user_by_name(DEFAULT_USER)
    assert user is not None
    for c in range(args.collections):
        store.seeder.seed_artifact(user, "acme", "bench", f"coll-{c}", "model", [SeedFile("m", b"m")],
                                   aliases=["candidate"], metadata={"acc": 0.5})
    store.close()
    phases = [("sensors", args.sensors, 0), ("watchers", 0, args.watchers)]
    if args.sensors and args.watchers:
        phases.append(("mixed", args.sensors, args.watchers))
    results = []
    with server_process(work) as base_url:
        os.environ["AIRFLOW_CONN_WANDB_DEFAULT"] = json.dumps(
            {"conn_type": "wandb", "host": base_url, "password": API_KEY})
        os.environ.setdefault("AIRFLOW_HOME", str(work / "airflow-home"))
        asyncio.run(run_phase(3, 2, 2, 0.5, args.poll))  # warm imports and the connection lookup
        print(f"environment: {environment()}")
        for name, sensors, watchers in phases:
            if sensors or watchers:
                results.append(bench_phase(name, base_url, args, sensors, watchers))
    if args.json:
        Path(args.json).write_text(json.dumps({"environment": environment(), "phases": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
