"""Stand-ins for Airflow runtime objects where a test calls an operator method directly."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any


class RecordingTI:
    """Stands in for the task instance: records what the task pushes to XCom."""

    dag_id, task_id, run_id = "d", "t", "r"

    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


def sdk(server: Any) -> Any:
    """The official SDK pointed at the local server: the independent observer of W&B state."""
    import wandb

    return wandb.Api(api_key=server.api_key, overrides={"base_url": server.base_url})


async def polls_seen(server: Any, count: int = 2, timeout: float = 60.0) -> None:
    """Wait until the server has received ``count`` batched polls (``WatchCollections``) since its
    counters were last reset. The second poll is only sent once the first answer was read, so with
    ``count=2`` every watcher holds a baseline read before the test changes W&B: the server's own
    count, not a guess of how long a poll takes."""
    deadline = time.monotonic() + timeout
    while server.stats()["graphql"]["operations"].get("WatchCollections", 0) < count:
        assert time.monotonic() < deadline, f"fewer than {count} batched polls reached the server"
        await asyncio.sleep(0.02)


async def poll_loops_left(timeout: float = 5.0) -> list[str]:
    """The names of this event loop's batched poll loops (asyncio's own task list) still running once
    those that were stopped had ``timeout`` seconds to end."""
    loops = [t for t in asyncio.all_tasks() if t.get_name().startswith("wandb-watch-")]
    if loops:
        await asyncio.wait(loops, timeout=timeout)
    return sorted(t.get_name() for t in loops if not t.done())


def pool_threads_left(timeout: float = 5.0) -> list[str]:
    """The names of the triggers' pool threads (``wandb-trigger*``) still alive once each had
    ``timeout`` seconds to end: none once every poll has closed its ``SharedPolling``."""
    threads = [t for t in threading.enumerate() if t.name.startswith("wandb-trigger")]
    for thread in threads:
        thread.join(timeout)
    return sorted(t.name for t in threads if t.is_alive())
