"""``ArtifactVersionTrigger``: waits in the triggerer for an artifact version, without a worker slot."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from .._airflow import redact_urls
from .._waiting import FAILED, READY, WAITING, Outcome, WaitSpec, failure, judge
from ._polling import SharedPolling, offer

_DEADLINE = object()  # what the wait's alarm hands the trigger's slot


class ArtifactVersionTrigger(BaseTrigger):
    """Waits until ``artifact`` resolves to a COMMITTED version meeting the conditions.

    It reads the version from this triggerer's batched poll loop for its connection and
    ``poll_interval`` (the one ``ArtifactEventTrigger`` uses): however many sensors wait, on the
    same or other collections, each poll costs one GraphQL request per 25 collections, and what it
    reads of the version is what ``WandbClient.artifact`` reads for a poke, decided the same way
    (``_waiting.judge``). HTTP runs in a bounded thread pool, never on the event loop; when every
    waiter of a poll loop has a deadline, no poll outlives the latest of them. Only reads, and no
    state beyond the arguments: safe to re-run after a triggerer restart.

    :param end_time: Absolute deadline (epoch seconds) computed on the worker; a ``timeout`` event follows.
    """

    def __init__(
        self,
        *,
        artifact: str,
        wandb_conn_id: str = "wandb_default",
        newer_than: str | None = None,
        require: dict[str, Any] | None = None,
        created_after: str | None = None,
        on_missing: str = "fail",
        poll_interval: float = 60.0,
        end_time: float | None = None,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.arguments = {"artifact": artifact, "newer_than": newer_than, "require": require,
                          "created_after": created_after, "on_missing": on_missing}
        self.wandb_conn_id = wandb_conn_id
        self.poll_interval = poll_interval
        self.end_time = end_time

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {**self.arguments, "wandb_conn_id": self.wandb_conn_id, "poll_interval": self.poll_interval,
             "end_time": self.end_time},
        )

    def _remaining(self) -> float | None:
        return None if self.end_time is None else max(0.0, self.end_time - time.time())

    async def run(self) -> AsyncIterator[TriggerEvent]:
        try:
            spec = WaitSpec.of(**self.arguments)
        except Exception as exc:  # bad arguments will not heal by waiting
            yield _event({"status": "error", "message": redact_urls(str(exc))})
            return
        interval = self.poll_interval
        if isinstance(interval, bool) or not isinstance(interval, (int, float)) or not math.isfinite(interval) \
                or interval < 0:
            yield _event({"status": "error", "message": f"poll_interval must be a number of seconds >= 0, "
                                                        f"not {interval!r}"})
            return
        collection, name = spec.watched()
        with SharedPolling.subscription(self.wandb_conn_id, float(interval), collection, name,
                                        until=self.end_time) as slot:
            remaining = self._remaining()
            # One alarm for the whole wait (not a timer per poll): it hands the slot the deadline.
            alarm = None if remaining is None else asyncio.get_running_loop().call_later(
                remaining, offer, slot, _DEADLINE)
            last_reason = "W&B did not answer in time"
            seen: tuple[Any, Outcome] | None = None  # the last version judged, and how
            try:
                while True:
                    remaining = self._remaining()
                    if remaining is not None and remaining <= 0:
                        yield _event({"status": "timeout", "message": f"gave up waiting: {last_reason}"})
                        return
                    item = await slot.get()
                    if item is _DEADLINE:
                        yield _event({"status": "timeout", "message": f"gave up waiting: {last_reason}"})
                        return
                    if isinstance(item, BaseException):  # a missing or malformed connection will not heal by waiting
                        yield _event({"status": "error", "message": f"cannot use connection {self.wandb_conn_id!r}: "
                                                                    f"{redact_urls(str(item))}"})
                        return
                    version = None if item.error is not None else item.holders.get(name)
                    if seen is not None and version is not None and seen[0] == version:
                        outcome = seen[1]  # the same version as last poll: the same decision (judge is pure)
                    else:
                        outcome = self._decide(spec, name, item)
                        seen = (version, outcome)
                    if outcome.status == READY:
                        yield _event({"status": "success", "message": outcome.message, "version": outcome.version})
                        return
                    if outcome.status == FAILED:
                        yield _event({"status": "error", "message": redact_urls(outcome.message)})
                        return
                    if outcome.message != last_reason:  # say why once, not on every poll of a long wait
                        self.log.info("Waiting for %s: %s", spec.artifact, redact_urls(outcome.message))
                        last_reason = outcome.message
            finally:
                if alarm is not None:
                    alarm.cancel()

    @staticmethod
    def _decide(spec: WaitSpec, name: str, snapshot: Any) -> Outcome:
        """The sensor's decision on one poll's snapshot of its collection."""
        if snapshot.error is not None:
            return failure(snapshot.error)
        version = snapshot.holders.get(name)
        if version is None:
            return Outcome(WAITING, f"not found yet: no version of {spec.artifact.partition(':')[0]!r} "
                                    f"has alias or version {name!r}")
        return judge(version, spec)


def _event(payload: dict[str, Any]) -> TriggerEvent:
    return TriggerEvent(payload)  # type: ignore[no-untyped-call]  # Airflow's class is untyped
