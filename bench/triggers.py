"""What do 1,000 waiting ArtifactVersionTriggers cost one triggerer event loop?

1,000 triggers wait at once, in one asyncio loop, for a version that never comes (``newer_than``
far ahead), polling a local W&B server that runs in its own process. Reported:
  * CPU time per poke: this process's CPU time / GraphQL requests the server counted (one per poke);
  * memory per trigger: traced Python allocations of the waiting triggers (tracemalloc) / 1,000;
  * the longest event-loop stall: how late a 5 ms heartbeat ever woke up.
Goals (issue 6): <= 2 ms CPU per poke, <= 50 KiB per trigger, no stall over 50 ms.

Watchers (issue 11): ``--watchers 1000 --collections 100`` runs that many ``ArtifactEventTrigger``s
(half on new versions, half on an alias) through Airflow's own ``SharedStreamManager``, as the
triggerer does, and reports W&B requests per poll interval (goal <= 10), CPU per poll, memory per
watcher and the longest event-loop stall. ``--quick`` shortens every phase (a shared machine).

Usage: python bench/triggers.py [--triggers 1000] [--seconds 20] [--poll 5] [--watchers 0]
       [--collections 100] [--quick] [--json out.json]
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


async def heartbeat(stop: asyncio.Event, worst: list[float]) -> None:
    while not stop.is_set():
        started = time.perf_counter()
        await asyncio.sleep(0.005)
        worst[0] = max(worst[0], time.perf_counter() - started - 0.005)


async def wait_all(count: int, seconds: float, poll: float, measure_memory: bool,
                   freeze: bool = False) -> dict[str, Any]:
    import gc

    from wandb_provider.triggers.artifacts import ArtifactVersionTrigger

    stop = asyncio.Event()
    worst = [0.0]
    # Warm the shared client and the connection lookup (first imports happen here) before measuring.
    warm = ArtifactVersionTrigger(artifact="acme/churn/churn-model:production", newer_than="v999",
                                  poll_interval=poll, end_time=time.time() + 0.01)
    async for _ in warm.run():
        break
    if freeze:
        gc.collect()
        gc.freeze()  # what a long-running triggerer can do after start-up (as Airflow's DAG processor does)
    heap_objects = len(gc.get_objects())
    monitor = asyncio.create_task(heartbeat(stop, worst))
    if measure_memory:
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
    triggers = [ArtifactVersionTrigger(artifact="acme/churn/churn-model:production", newer_than="v999",
                                       poll_interval=poll, end_time=time.time() + seconds + 60)
                for _ in range(count)]
    cpu0, wall0 = time.process_time(), time.perf_counter()
    tasks = [asyncio.create_task(t.run().__anext__()) for t in triggers]
    await asyncio.sleep(seconds)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    per_trigger = None
    if measure_memory:
        per_trigger = (tracemalloc.get_traced_memory()[0] - base) / count
        tracemalloc.stop()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    stop.set()
    await monitor
    if freeze:
        gc.unfreeze()
    return {"cpu_seconds": cpu, "wall_seconds": wall, "worst_stall_ms": worst[0] * 1000,
            "bytes_per_trigger": per_trigger, "heap_objects": heap_objects}


async def watch_all(count: int, collections: int, seconds: float, poll: float) -> dict[str, Any]:
    """``count`` watchers over ``collections`` collections, subscribed as the triggerer subscribes them."""
    import gc

    from airflow.triggers.shared_stream import SharedStreamManager

    from wandb_provider.triggers.events import ArtifactEventTrigger

    stop = asyncio.Event()
    worst = [0.0]
    manager = SharedStreamManager()

    async def consume(trigger: Any, stream: Any) -> None:
        async for _ in trigger.filter_shared_stream(stream):
            pass

    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    triggers = [ArtifactEventTrigger(collection=f"acme/bench/coll-{i % collections}",
                                     alias="candidate" if i % 2 else None, poll_interval=poll) for i in range(count)]
    tasks = [asyncio.create_task(consume(t, manager.subscribe(trigger_id=i, trigger=t, key=t.shared_stream_key())))
             for i, t in enumerate(triggers)]
    await asyncio.sleep(min(poll, seconds) / 2)  # subscribed, first poll under way
    per_watcher = (tracemalloc.get_traced_memory()[0] - base) / count
    tracemalloc.stop()
    monitor = asyncio.create_task(heartbeat(stop, worst))
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.sleep(seconds)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await manager.stop_all()
    stop.set()
    await monitor
    return {"cpu_seconds": cpu, "wall_seconds": wall, "worst_stall_ms": worst[0] * 1000,
            "bytes_per_watcher": per_watcher}


def bench_watchers(base_url: str, args: argparse.Namespace) -> dict[str, Any]:
    asyncio.run(watch_all(min(args.watchers, 10), min(args.collections, 10), 0.5, args.poll))  # warm imports
    reset_stats(base_url)
    timing = asyncio.run(watch_all(args.watchers, args.collections, args.seconds, args.poll))
    graphql = stats(base_url)["graphql"]
    polls = max(1.0, timing["wall_seconds"] / args.poll)
    result = {
        "watchers": args.watchers, "collections": args.collections, "poll_seconds": args.poll,
        "requests": graphql["total"], "operations": graphql["operations"],
        "requests_per_poll_interval": graphql["total"] / polls,
        "cpu_ms_per_poll": 1000 * timing["cpu_seconds"] / polls,
        "kib_per_watcher": timing["bytes_per_watcher"] / 1024,
        "worst_stall_ms": timing["worst_stall_ms"],
    }
    print(f"{args.watchers} watchers over {args.collections} collections, poll every {args.poll}s, "
          f"{timing['wall_seconds']:.1f}s: {graphql['total']} W&B requests {graphql['operations']}")
    print(f"requests per poll interval {result['requests_per_poll_interval']:.1f} (goal <= 10)")
    print(f"CPU per poll               {result['cpu_ms_per_poll']:.1f} ms")
    print(f"memory per watcher         {result['kib_per_watcher']:.1f} KiB (tracemalloc)")
    print(f"longest loop stall         {result['worst_stall_ms']:.1f} ms (goal <= 50 ms)")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--triggers", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--poll", type=float, default=5.0)
    parser.add_argument("--watchers", type=int, default=0, help="also bench this many ArtifactEventTriggers")
    parser.add_argument("--collections", type=int, default=100)
    parser.add_argument("--quick", action="store_true", help="short phases, watchers only when --watchers is set")
    parser.add_argument("--json")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.poll = min(args.seconds, 10.0), min(args.poll, 2.5)
    work = Path(tempfile.mkdtemp(prefix="bench-triggers-"))
    from wandb_provider.testing.config import DEFAULT_USER
    from wandb_provider.testing.seed import seed_demo
    from wandb_provider.testing.store import Store

    store = Store(str(work / "wandb.sqlite3"), work / "blobs")
    store.add_user(DEFAULT_USER, API_KEY)
    seed_demo(store, DEFAULT_USER)
    if args.watchers:
        from wandb_provider.testing.store import SeedFile

        user = store.user_by_name(DEFAULT_USER)
        assert user is not None
        for c in range(args.collections):
            store.seed_artifact(user, "acme", "bench", f"coll-{c}", "model", [SeedFile("m", b"m")],
                                aliases=["candidate"])
    store.close()
    with server_process(work) as base_url:
        os.environ["AIRFLOW_CONN_WANDB_DEFAULT"] = json.dumps(
            {"conn_type": "wandb", "host": base_url, "password": API_KEY})
        os.environ.setdefault("AIRFLOW_HOME", str(work / "airflow-home"))
        watchers = bench_watchers(base_url, args) if args.watchers else None
        if args.quick and watchers is not None:
            if args.json:
                Path(args.json).write_text(json.dumps({"environment": environment(), "watchers": watchers}, indent=2))
            return 0
        reset_stats(base_url)
        timing = asyncio.run(wait_all(args.triggers, args.seconds, args.poll, measure_memory=False))
        pokes = stats(base_url)["graphql"]["total"]
        frozen = asyncio.run(wait_all(args.triggers, args.seconds, args.poll, measure_memory=False, freeze=True))
        memory = asyncio.run(wait_all(args.triggers, min(args.seconds, 8.0), args.poll, measure_memory=True))
    result = {
        "environment": environment(), "triggers": args.triggers, "poll_seconds": args.poll,
        "pokes": pokes, "pokes_per_second": pokes / timing["wall_seconds"],
        "cpu_ms_per_poke": 1000 * timing["cpu_seconds"] / max(1, pokes),
        "kib_per_trigger": (memory["bytes_per_trigger"] or 0) / 1024,
        "worst_stall_ms": timing["worst_stall_ms"],
        "worst_stall_ms_gc_frozen": frozen["worst_stall_ms"],
        "heap_objects": timing["heap_objects"], "watchers": watchers,
    }
    print(f"environment: {result['environment']}")
    print(f"{args.triggers} triggers, poll every {args.poll}s, {timing['wall_seconds']:.1f}s: "
          f"{pokes} pokes ({result['pokes_per_second']:.0f}/s)")
    print(f"CPU per poke      {result['cpu_ms_per_poke']:.2f} ms   (goal <= 2 ms)")
    print(f"memory per trigger {result['kib_per_trigger']:.1f} KiB (goal <= 50 KiB, tracemalloc)")
    print(f"longest loop stall {result['worst_stall_ms']:.1f} ms   (goal <= 50 ms); "
          f"{result['worst_stall_ms_gc_frozen']:.1f} ms after gc.freeze() of the start-up heap "
          f"({result['heap_objects']} objects: CPython's full collections walk all of them)")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
