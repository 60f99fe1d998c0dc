"""``ArtifactVersionTrigger``: waits in the triggerer for an artifact version, without a worker slot."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any, ClassVar

from airflow.triggers.base import BaseTrigger, TriggerEvent

from .._waiting import FAILED, READY, WaitSpec, check


class ArtifactVersionTrigger(BaseTrigger):
    """Polls W&B until ``artifact`` resolves to a COMMITTED version meeting the conditions.

    HTTP runs in a worker thread (``asyncio.to_thread``), never on the triggerer's event loop, and
    triggers of one connection share one pooled client. Only reads: safe to re-run after a restart.

    :param end_time: Absolute deadline (epoch seconds) computed on the worker; a ``timeout`` event follows.
    """

    _clients: ClassVar[dict[Any, Any]] = {}

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
        from ..client import WandbClient
        from ..hooks.wandb import WandbHook

        config = await WandbHook(wandb_conn_id=self.wandb_conn_id).aget_config()
        client = self._clients.get(config)
        if client is None:
            client = self._clients[config] = WandbClient(config=config)
        return client

    async def run(self) -> AsyncIterator[TriggerEvent]:
        try:
            client = await self._client()
        except Exception as exc:  # a missing or malformed connection will not heal by waiting
            yield _event({"status": "error", "message": f"cannot use connection {self.wandb_conn_id!r}: {exc}"})
            return
        while True:
            outcome = await asyncio.to_thread(check, client, self.spec)
            if outcome.status == READY:
                yield _event({"status": "success", "message": outcome.message, "version": outcome.version})
                return
            if outcome.status == FAILED:
                yield _event({"status": "error", "message": outcome.message})
                return
            self.log.info("Waiting for %s: %s", self.spec.artifact, outcome.message)
            delay = self.poll_interval
            if self.end_time is not None:
                remaining = self.end_time - time.time()
                if remaining <= 0:
                    yield _event({"status": "timeout", "message": f"gave up waiting: {outcome.message}"})
                    return
                delay = min(delay, remaining)
            await asyncio.sleep(delay)


def _event(payload: dict[str, Any]) -> TriggerEvent:
    return TriggerEvent(payload)  # type: ignore[no-untyped-call]  # Airflow's class is untyped
