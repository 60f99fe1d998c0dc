"""What every trigger of this provider shares in the triggerer's event loop, behind one object:
``SharedPolling`` holds the bounded thread pool for blocking HTTP, one pooled client per connection,
and one batched poll loop (``Poller``) per connection and interval that reads every watched
collection (``wandb_provider.client.watch``) for event watchers and deferred sensors alike (README,
"Event-driven scheduling, asset events and many workers"). A trigger takes part through
``SharedPolling.subscription``: the first subscription in an event loop creates the object, the last
one to leave closes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import math
import time
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from .._airflow import redact_urls

if TYPE_CHECKING:
    from ..client import ClientConfig, WandbClient
    from ..client.errors import WandbError
    from ..client.watch import CollectionSnapshot, CollectionWatch

T = TypeVar("T")
log = logging.getLogger(__name__)

CONNECTION_TTL = 60.0  # seconds a connection lookup (and its client) is reused by all triggers of the event loop
EXECUTOR_THREADS = 16  # the triggers' own threads for blocking HTTP: never the event loop's default executor
THREADS_PER_HOST = EXECUTOR_THREADS // 2  # one hung W&B host can hold at most half of them
CALL_DEADLINE = 60.0  # the longest one poll may take (connect, headers, body and retries), whatever the connection says
MIN_CALL_DEADLINE = 0.5
FAN_OUT = 20  # subscribers woken per event-loop turn when a poll's snapshots are handed out
GRACE = 1.0  # how long past a call's deadline the trigger still waits for its thread before moving on


def bounded(config: ClientConfig, deadline: float) -> ClientConfig:
    """``config`` whose calls end within ``deadline`` seconds (each request's timeouts included)."""
    return dataclasses.replace(config, deadline=deadline, timeout=min(config.timeout, deadline),
                               connect_timeout=min(config.connect_timeout, deadline))


def client_within(shared: WandbClient, remaining: float | None) -> tuple[WandbClient, bool]:
    """The shared client, or a one-off one (to close after use) when less time is left than its deadline."""
    from ..client import WandbClient

    if remaining is None or remaining >= shared.config.deadline:
        return shared, False
    return WandbClient(config=bounded(shared.config, max(MIN_CALL_DEADLINE, remaining))), True


Item = Any  # a CollectionSnapshot, or the exception that says why polling cannot go on (an unusable connection)


def offer(slot: asyncio.Queue[Item], item: Item) -> None:
    """Snapshots are state, not deltas: a slow subscriber only needs the newest one. (Runs for every
    subscriber on every poll: no exception is raised and caught when the slot is already empty.)"""
    if slot.full():
        slot.get_nowait()
    slot.put_nowait(item)


def _failure(exc: BaseException, wait: float) -> WandbError:
    """A chunk's failure as a typed W&B error for its snapshots (transient unless it is a bug)."""
    from ..client.errors import ServerError, WandbError

    if isinstance(exc, WandbError):
        return exc
    if isinstance(exc, asyncio.TimeoutError):
        return ServerError(f"W&B did not answer within {math.ceil(wait)}s", transient=True)
    if isinstance(exc, OSError):  # a network failure the client did not type: waiting may help
        return ServerError(f"W&B could not be reached: {redact_urls(str(exc))}", transient=True)
    return WandbError(f"unexpected {type(exc).__name__} while polling W&B: {redact_urls(str(exc))}")


def _read_chunk(client: WandbClient, part: list[CollectionWatch],
                close: bool) -> dict[CollectionWatch, CollectionSnapshot]:
    """One chunk's poll in a pool thread; a one-off client is closed there once its call is over."""
    from ..client.watch import poll_collections

    try:
        return poll_collections(client, part)
    finally:
        if close:
            client.close()


@dataclass
class Poller:
    """One poll loop of ``polling`` for one connection and interval: every watched collection, batched.

    Subscribers name a collection and an alias (``None``: its newest versions); each gets a slot
    holding the newest snapshot. A subscriber may say until when it waits (a sensor's deadline):
    when every subscriber has such a deadline, no poll outlives the latest of them."""

    polling: SharedPolling
    conn_id: str
    interval: float
    # collection path -> alias (or None) -> the latest-snapshot slots of its subscribers
    subscribers: dict[str, dict[str | None, set[asyncio.Queue[Item]]]] = field(default_factory=dict)
    until: dict[asyncio.Queue[Item], float | None] = field(default_factory=dict)
    task: asyncio.Task[None] | None = None

    def subscribe(self, collection: str, alias: str | None, until: float | None = None) -> asyncio.Queue[Item]:
        slot: asyncio.Queue[Item] = asyncio.Queue(maxsize=1)
        self.subscribers.setdefault(collection, {}).setdefault(alias, set()).add(slot)
        self.until[slot] = until
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._loop(), name=f"wandb-watch-{self.conn_id}-{self.interval}")
        return slot

    def unsubscribe(self, collection: str, alias: str | None, slot: asyncio.Queue[Item]) -> None:
        self.until.pop(slot, None)
        by_alias = self.subscribers.get(collection, {})
        by_alias.get(alias, set()).discard(slot)
        if not by_alias.get(alias, True):
            del by_alias[alias]
        if not by_alias:
            self.subscribers.pop(collection, None)
        if not self.subscribers:
            self.stop()

    def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.task = None

    def _remaining(self) -> float | None:
        """Seconds until the latest subscriber deadline, or None when someone waits without one."""
        deadlines = list(self.until.values())
        if not deadlines or None in deadlines:
            return None
        return max(0.0, max(d for d in deadlines if d is not None) - time.time())

    async def _deliver(self, found: dict[CollectionWatch, CollectionSnapshot]) -> None:
        """Offer each snapshot to its subscribers, ``FAN_OUT`` at a time: the event loop runs those
        (each decides, may log) before the next ones wake, so 1,000 waiters do not stall it at once."""
        offered = 0
        for watch, snapshot in found.items():
            for slots in list(self.subscribers.get(watch.path, {}).values()):
                for slot in list(slots):
                    offer(slot, snapshot)
                    offered += 1
                    if offered % FAN_OUT == 0:
                        await asyncio.sleep(0)

    async def _poll_once(self) -> None:
        from ..client.watch import BATCH, CollectionSnapshot, CollectionWatch

        watches = [CollectionWatch(path, tuple(sorted(a for a in aliases if a is not None)), versions=None in aliases)
                   for path, aliases in self.subscribers.items()]
        try:
            shared = await self.polling.client(self.conn_id)
        except Exception as exc:  # a missing or malformed connection: every subscriber fails, visibly
            for aliases in self.subscribers.values():
                for slots in aliases.values():
                    for slot in slots:
                        offer(slot, exc)
            return
        remaining = self._remaining()
        deadline = shared.config.deadline
        if remaining is not None:
            deadline = min(deadline, max(MIN_CALL_DEADLINE, remaining))
        wait = deadline + GRACE

        async def chunk(part: list[CollectionWatch]) -> None:
            client, one_off = client_within(shared, remaining)
            call = functools.partial(_read_chunk, client, part, one_off)
            try:
                found = await asyncio.wait_for(self.polling.run_bounded(client.config.base_url, call), wait)
            except Exception as exc:  # transient (or unexpected): the next poll tries again
                error = _failure(exc, wait)
                log.warning("Could not poll %d W&B collection(s)%s: %s", len(part),
                            ", will try again" if error.transient else "", redact_urls(str(error)))
                found = dict.fromkeys(part, CollectionSnapshot(error=error))
            else:
                failed = {watch.path: snapshot.error for watch, snapshot in found.items()
                          if snapshot.error is not None and snapshot.error.transient}
                if failed:  # the others of the batch were read; these wait for the next poll
                    log.warning("Could not poll W&B collection(s) %s, will try again: %s", sorted(failed)[:5],
                                redact_urls(str(next(iter(failed.values())))))
            await self._deliver(found)

        await asyncio.gather(*(chunk(watches[i:i + BATCH]) for i in range(0, len(watches), BATCH)))

    async def _loop(self) -> None:
        while self.subscribers:
            try:
                await self._poll_once()
            except Exception:  # a bug must not silently stop every watcher of this process
                log.exception("Polling W&B collections failed; trying again next poll")
            await asyncio.sleep(self.interval)


class SharedPolling:
    """Everything the triggers of one event loop (the triggerer's) share, with one lifecycle: made
    by the first ``subscription`` in the loop, closed when the last one leaves (its poll loops stop,
    its clients close, its threads end once their calls are over).

    * a thread pool of its own for blocking HTTP, never the event loop's default executor, taking at
      most ``THREADS_PER_HOST`` calls at once per W&B host: a hung host cannot starve the others;
    * one pooled client per connection, looked up again after ``CONNECTION_TTL``, whose calls end
      within ``CALL_DEADLINE``;
    * one ``Poller`` per connection and poll interval, which reads all of its watched collections
      in ``ceil(collections / BATCH)`` GraphQL requests per poll, however many triggers wait.
    """

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=EXECUTOR_THREADS, thread_name_prefix="wandb-trigger")
        self._host_slots: dict[str, asyncio.Semaphore] = {}
        self._clients: dict[str, tuple[WandbClient, float]] = {}
        self._pollers: dict[tuple[str, float], Poller] = {}

    @classmethod
    @contextlib.contextmanager
    def subscription(cls, conn_id: str, interval: float, collection: str, alias: str | None,
                     until: float | None = None) -> Iterator[asyncio.Queue[Item]]:
        """Watch ``collection``'s ``alias`` (``None``: its newest versions) through the poll loop of
        ``conn_id`` and ``interval``, until ``until`` (epoch seconds) or for good: yields a slot that
        holds the newest ``CollectionSnapshot`` (or the exception that says why polling cannot go on)."""
        loop = asyncio.get_running_loop()
        polling = _ACTIVE.get(loop)
        if polling is None:
            polling = _ACTIVE[loop] = cls()
        poller = polling._pollers.get((conn_id, interval))
        if poller is None:
            poller = polling._pollers[(conn_id, interval)] = Poller(polling, conn_id, interval)
        slot = poller.subscribe(collection, alias, until)
        try:
            yield slot
        finally:
            poller.unsubscribe(collection, alias, slot)  # the last subscriber of a poll loop stops it
            if not poller.subscribers:
                del polling._pollers[(conn_id, interval)]
            if not polling._pollers:
                del _ACTIVE[loop]
                polling._close()

    def _close(self) -> None:
        for client, _ in self._clients.values():
            client.close()
        self._clients.clear()
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def run_bounded(self, host: str, call: Callable[[], T]) -> T:
        """Run blocking ``call`` in the pool, at most ``THREADS_PER_HOST`` at once per host.

        A host's slot is given back when the thread really finishes, not when the caller stops
        waiting, so calls abandoned on a hung host cannot pile up and take every thread from the
        other hosts."""
        loop = asyncio.get_running_loop()
        slots = self._host_slots.setdefault(host, asyncio.Semaphore(THREADS_PER_HOST))
        await slots.acquire()

        def give_back(_: Future[T]) -> None:
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits for the slot any more
                loop.call_soon_threadsafe(slots.release)

        try:
            future = self._executor.submit(call)
        except BaseException:
            slots.release()
            raise
        future.add_done_callback(give_back)
        return await asyncio.wrap_future(future)

    async def client(self, conn_id: str) -> WandbClient:
        """The pooled client of ``conn_id`` (its connection looked up once a minute), whose calls end
        within ``CALL_DEADLINE``."""
        from ..client import WandbClient
        from ..hooks.wandb import WandbHook

        cached = self._clients.get(conn_id)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        config = await WandbHook(wandb_conn_id=conn_id).aget_config()
        config = bounded(config, min(config.deadline, CALL_DEADLINE))
        client = cached[0] if cached is not None and cached[0].config == config else WandbClient(config=config)
        self._clients[conn_id] = (client, time.monotonic() + CONNECTION_TTL)
        return client


# The event loop's one SharedPolling while it has subscribers (the triggerer runs one loop; each
# dag.test() or asyncio.run() another, which so reads its connections afresh).
_ACTIVE: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, SharedPolling] = weakref.WeakKeyDictionary()
