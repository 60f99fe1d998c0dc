"""``ArtifactVersionTrigger``: waits in the triggerer for an artifact version, without a worker slot."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from typing import Any, ClassVar

from airflow.triggers.base import BaseTrigger, TriggerEvent

from .._waiting import FAILED, READY, WaitSpec, check

CONNECTION_TTL = 60.0  # seconds a connection lookup is reused by all triggers of this process


class ArtifactVersionTrigger(BaseTrigger):
    """Polls W&B until ``artifact`` resolves to a COMMITTED version meeting the conditions.

    HTTP runs in a worker thread (``asyncio.to_thread``), never on the triggerer's event loop, and
    triggers of one connection share one pooled client. Only reads: safe to re-run after a restart.

    :param end_time: Absolute deadline (epoch seconds) computed on the worker; a ``timeout`` event follows.
    """

    _clients: ClassVar[dict[str, tuple[Any, float]]] = {}

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
        self.spec = WaitSpec(artifact, newer_than, require, created_after)
        self.wandb_conn_id = wandb_conn_id
        self.poll_interval = poll_interval
        self.end_time = end_time

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {**self.spec.to_dict(), "wandb_conn_id": self.wandb_conn_id, "poll_interval": self.poll_interval,
             "end_time": self.end_time},
        )

    async def _client(self) -> Any:
        """One pooled client per connection for every trigger in this process (looked up once a minute)."""
        from ..client import WandbClient
        from ..hooks.wandb import WandbHook

        cached = self._clients.get(self.wandb_conn_id)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        config = await WandbHook(wandb_conn_id=self.wandb_conn_id).aget_config()
        client = cached[0] if cached is not None and cached[0].config == config else WandbClient(config=config)
        self._clients[self.wandb_conn_id] = (client, time.monotonic() + CONNECTION_TTL)
        return client

    def _remaining(self) -> float | None:
        return None if self.end_time is None else max(0.0, self.end_time - time.time())

    async def run(self) -> AsyncIterator[TriggerEvent]:
        try:
            client = await self._client()
        except Exception as exc:  # a missing or malformed connection will not heal by waiting
            yield _event({"status": "error", "message": f"cannot use connection {self.wandb_conn_id!r}: {exc}"})
            return
        last_reason = None
        # The sensor poked just before deferring: wait one interval (jittered, so triggers deferred
        # together do not poll together) before the first poll.
        delay = self.poll_interval * random.uniform(0.5, 1.0)
        while True:
            if self.end_time is not None:
                delay = max(0.0, min(delay, self.end_time - time.time()))
            await asyncio.sleep(delay)
            try:
                outcome = await asyncio.wait_for(asyncio.to_thread(check, client, self.spec), self._remaining())
            except asyncio.TimeoutError:
                yield _event({"status": "timeout", "message": "gave up waiting: W&B did not answer in time"})
                return
            if outcome.status == READY:
                yield _event({"status": "success", "message": outcome.message, "version": outcome.version})
                return
            if outcome.status == FAILED:
                yield _event({"status": "error", "message": outcome.message})
                return
            if outcome.message != last_reason:  # say why once, not on every poll of a long wait
                self.log.info("Waiting for %s: %s", self.spec.artifact, outcome.message)
                last_reason = outcome.message
            if self.end_time is not None and time.time() >= self.end_time:
                yield _event({"status": "timeout", "message": f"gave up waiting: {outcome.message}"})
                return
            delay = self.poll_interval


def _event(payload: dict[str, Any]) -> TriggerEvent:
    return TriggerEvent(payload)  # type: ignore[no-untyped-call]  # Airflow's class is untyped
