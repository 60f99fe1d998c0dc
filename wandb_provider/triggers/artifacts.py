"""``ArtifactVersionTrigger``: waits in the triggerer for an artifact version, without a worker slot."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import math
import random
import time
import weakref
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from airflow.triggers.base import BaseTrigger, TriggerEvent

from .._airflow import redact_urls
from .._waiting import FAILED, READY, WAITING, Outcome, WaitSpec, check

if TYPE_CHECKING:
    from ..client import ClientConfig, WandbClient

T = TypeVar("T")

CONNECTION_TTL = 60.0  # seconds a connection lookup (and its client) is reused by all triggers of this process
EXECUTOR_THREADS = 16  # the triggers' own threads for blocking HTTP: never the event loop's default executor
THREADS_PER_HOST = EXECUTOR_THREADS // 2  # one hung W&B host can hold at most half of them
CALL_DEADLINE = 60.0  # the longest one poll may take (connect, headers, body and retries), whatever the connection says
MIN_CALL_DEADLINE = 0.5
GRACE = 1.0  # how long past a call's deadline the trigger still waits for its thread before moving on

_EXECUTOR = ThreadPoolExecutor(max_workers=EXECUTOR_THREADS, thread_name_prefix="wandb-trigger")
_HOST_SLOTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Semaphore]] = (
    weakref.WeakKeyDictionary())


async def run_bounded(host: str, call: Callable[[], T]) -> T:
    """Run blocking ``call`` in the triggers' thread pool, at most ``THREADS_PER_HOST`` at once per host.

    A host's slot is given back when the thread really finishes, not when the caller stops waiting,
    so calls abandoned on a hung host cannot pile up and take every thread from the other hosts."""
    loop = asyncio.get_running_loop()
    slots = _HOST_SLOTS.setdefault(loop, {}).setdefault(host, asyncio.Semaphore(THREADS_PER_HOST))
    await slots.acquire()

    def give_back(_: Future[T]) -> None:
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits for the slot any more
            loop.call_soon_threadsafe(slots.release)

    try:
        future = _EXECUTOR.submit(call)
    except BaseException:
        slots.release()
        raise
    future.add_done_callback(give_back)
    return await asyncio.wrap_future(future)


def _poll(client: WandbClient, spec: WaitSpec, close: bool) -> Outcome:
    """One check in a pool thread; a stray error becomes an outcome instead of killing the trigger."""
    try:
        return check(client, spec)
    except OSError as exc:  # a network failure the client did not type: waiting may help
        return Outcome(WAITING, f"W&B could not be reached, will try again: {redact_urls(str(exc))}")
    except Exception as exc:
        problem = f"unexpected {type(exc).__name__} while checking {spec.artifact}"
        return Outcome(FAILED, f"{problem}: {redact_urls(str(exc))}")
    finally:
        if close:
            client.close()


def _bounded(config: ClientConfig, deadline: float) -> ClientConfig:
    """``config`` whose calls end within ``deadline`` seconds (each request's timeouts included)."""
    return dataclasses.replace(config, deadline=deadline, timeout=min(config.timeout, deadline),
                               connect_timeout=min(config.connect_timeout, deadline))


_CLIENTS: dict[str, tuple[Any, float]] = {}


async def shared_client(wandb_conn_id: str) -> WandbClient:
    """One pooled client per connection for every trigger in this process (looked up once a minute),
    whose calls end within ``CALL_DEADLINE``."""
    from ..client import WandbClient
    from ..hooks.wandb import WandbHook

    cached = _CLIENTS.get(wandb_conn_id)
    if cached is not None and cached[1] > time.monotonic():
        client: WandbClient = cached[0]
        return client
    config = await WandbHook(wandb_conn_id=wandb_conn_id).aget_config()
    config = _bounded(config, min(config.deadline, CALL_DEADLINE))
    client = cached[0] if cached is not None and cached[0].config == config else WandbClient(config=config)
    _CLIENTS[wandb_conn_id] = (client, time.monotonic() + CONNECTION_TTL)
    return client


class ArtifactVersionTrigger(BaseTrigger):
    """Polls W&B until ``artifact`` resolves to a COMMITTED version meeting the conditions.

    HTTP runs in this module's own bounded thread pool (never on the event loop, never in its
    default executor), at most ``THREADS_PER_HOST`` calls per W&B host at once, and every call is
    made by a client whose deadline is no longer than the time left: a hung or trickling server
    cannot starve other triggers, and an abandoned call ends by its deadline. Triggers of one
    connection share one pooled client. Only reads: safe to re-run after a restart.

    :param end_time: Absolute deadline (epoch seconds) computed on the worker; a ``timeout`` event follows.
    """

    _clients: ClassVar[dict[str, tuple[Any, float]]] = _CLIENTS  # (kept for tests that clear it)

    def __init__(
        self,
        *,
        artifact: str,
        wandb_conn_id: str = "wandb_default",
        newer_than: str | None = None,
        require: dict[str, Any] | None = None,
        created_after: str | None = None,
        poll_interval: float = 60.0,
        end_time: float | None = None,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.arguments = {"artifact": artifact, "newer_than": newer_than, "require": require,
                          "created_after": created_after}
        self.wandb_conn_id = wandb_conn_id
        self.poll_interval = poll_interval
        self.end_time = end_time

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {**self.arguments, "wandb_conn_id": self.wandb_conn_id, "poll_interval": self.poll_interval,
             "end_time": self.end_time},
        )

    async def _shared_client(self) -> WandbClient:
        return await shared_client(self.wandb_conn_id)

    def _client_for(self, shared: WandbClient, remaining: float | None) -> tuple[WandbClient, bool]:
        """The shared client, or a one-off one (to close after use) when less time is left than its deadline."""
        from ..client import WandbClient

        if remaining is None or remaining >= shared.config.deadline:
            return shared, False
        return WandbClient(config=_bounded(shared.config, max(MIN_CALL_DEADLINE, remaining))), True

    def _remaining(self) -> float | None:
        return None if self.end_time is None else max(0.0, self.end_time - time.time())

    async def run(self) -> AsyncIterator[TriggerEvent]:
        try:
            spec = WaitSpec.of(**self.arguments)
        except Exception as exc:  # bad arguments will not heal by waiting
            yield _event({"status": "error", "message": redact_urls(str(exc))})
            return
        try:
            shared = await self._shared_client()
        except Exception as exc:  # a missing or malformed connection will not heal by waiting
            yield _event({"status": "error", "message": f"cannot use connection {self.wandb_conn_id!r}: "
                                                        f"{redact_urls(str(exc))}"})
            return
        last_reason = "W&B did not answer in time"
        # The sensor poked just before deferring: wait one interval (jittered, so triggers deferred
        # together do not poll together) before the first poll.
        delay = self.poll_interval * random.uniform(0.5, 1.0)
        while True:
            if self.end_time is not None:
                delay = max(0.0, min(delay, self.end_time - time.time()))
            await asyncio.sleep(delay)
            delay = self.poll_interval
            remaining = self._remaining()
            if remaining is not None and remaining <= 0:
                yield _event({"status": "timeout", "message": f"gave up waiting: {last_reason}"})
                return
            client, one_off = self._client_for(shared, remaining)
            wait = client.config.deadline + GRACE
            if remaining is not None:
                wait = min(wait, remaining)
            try:
                outcome = await asyncio.wait_for(
                    run_bounded(client.config.base_url, functools.partial(_poll, client, spec, one_off)), wait)
            except asyncio.TimeoutError:
                outcome = Outcome(WAITING, f"W&B did not answer within {math.ceil(wait)}s")
            if outcome.status == READY:
                yield _event({"status": "success", "message": outcome.message, "version": outcome.version})
                return
            if outcome.status == FAILED:
                yield _event({"status": "error", "message": outcome.message})
                return
            if outcome.message != last_reason:  # say why once, not on every poll of a long wait
                self.log.info("Waiting for %s: %s", spec.artifact, outcome.message)
                last_reason = outcome.message
            if self.end_time is not None and time.time() >= self.end_time:
                yield _event({"status": "timeout", "message": f"gave up waiting: {outcome.message}"})
                return


def _event(payload: dict[str, Any]) -> TriggerEvent:
    return TriggerEvent(payload)  # type: ignore[no-untyped-call]  # Airflow's class is untyped
