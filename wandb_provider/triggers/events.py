"""``ArtifactEventTrigger``: event-driven scheduling on a W&B collection (``AssetWatcher``).

One poll loop per connection and poll interval (``_polling.SharedPolling``) serves every watcher, every deferred
``ArtifactVersionSensor`` and every collection of this triggerer process: each poll reads all
watched collections in ``ceil(collections / BATCH)`` GraphQL requests
(``wandb_provider.client.watch``), and Airflow's shared streams give each watched
``(collection, alias)`` one subscription, whatever the number of watchers on it.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Hashable
from dataclasses import dataclass, field
from typing import Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from .._airflow import redact_urls
from ..client.watch import CollectionSnapshot, CollectionWatch
from ._polling import SharedPolling

NEW_VERSION, ALIAS, CONDITION = "new_version", "alias", "condition"
MIN_POLL_INTERVAL = 1.0


def _version_index(name: str, value: Any) -> int | None:
    from .._values import InvalidValueError, is_empty
    from ..client.paths import is_version

    if is_empty(value):
        return None
    if not isinstance(value, str) or not is_version(value.strip()):
        raise InvalidValueError(f"{name} must be a version such as 'v7', or None, not {value!r}.")
    return int(value.strip()[1:])


class ArtifactEventTrigger(BaseEventTrigger):
    """Fires an asset event for each version of a W&B collection that becomes interesting.

    Use it in an ``AssetWatcher`` of the collection's asset::

        Asset("wandb://acme/churn/churn-model", watchers=[AssetWatcher(
            name="candidate", trigger=ArtifactEventTrigger(collection="acme/churn/churn-model", alias="candidate"))])

    What fires (each event's payload, the asset event's extra, names the version: ``qualified_name``,
    ``id``, ``digest``, ``aliases``, ``version``, ``reason``, ...):

    * no ``alias``, no ``require``: every new COMMITTED version (``reason="new_version"``), oldest
      first; a version still PENDING fires once it commits.
    * ``require``: every version that meets the metadata conditions (the sensor's ``require``),
      including an older version whose metadata is updated to meet them (``reason="condition"``).
    * ``alias``: the version the alias points to, whenever it points to a version it did not
      point to before (``reason="alias"``), and only once that version meets ``require`` (a holder
      that did not meet it when watching started fires when it comes to). An alias is a pointer:
      if it moves twice between two polls, only where it points at the poll is seen.

    Guarantees within one trigger's life: no version fires twice; no new version is silently
    missed, because each poll reads the ``WINDOW`` newest versions and fires for every unseen one;
    if more than ``WINDOW`` versions arrive between two polls, the next event carries
    ``unseen_versions`` (at most that many versions were never looked at) and a warning is logged.

    Across a triggerer restart only the serialized arguments survive. What was there at the first
    poll after a restart is taken as already seen, so changes made while no triggerer ran are
    skipped, unless ``last_seen`` is given: then every version after it (or, with ``alias``,
    the alias holder unless it is still ``last_seen``) fires at the first poll, which can repeat
    events that fired before the restart. Downstream tasks are idempotent, so prefer a repeat.

    :param collection: ``entity/project/collection`` (no alias), or a registry collection.
    :param alias: Watch this alias (e.g. ``"candidate"``) instead of new versions.
    :param require: Metadata conditions, as in ``ArtifactVersionSensor``.
    :param last_seen: ``"vN"``: the version already handled (default: whatever is there at the first poll).
    :param poll_interval: Seconds between polls (at least 1); watchers with the same interval share polls.
    """

    def __init__(
        self,
        *,
        collection: str,
        alias: str | None = None,
        require: dict[str, Any] | None = None,
        last_seen: str | None = None,
        wandb_conn_id: str = "wandb_default",
        poll_interval: float = 60.0,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        from .._airflow import translate_errors
        from .._values import InvalidValueError, gate, is_empty, required_text
        from ..client.conditions import validate_gate

        with translate_errors(f"{type(self).__name__} for {collection!r}"):
            required_text("wandb_conn_id", wandb_conn_id)
            alias = None if is_empty(alias) else alias
            CollectionWatch.of(required_text("collection", collection), [alias] if alias else [])
            checked = validate_gate(gate("require", require))
            from ..client.gates import reads

            if reads(checked).any:
                raise InvalidValueError(
                    "require: run.* and relative terms read more than the shared poll of the collection, so the "
                    "event trigger cannot decide them.",
                    hint="Gate on metadata here and decide the rest in the task the event starts "
                         "(e.g. PromoteArtifactOperator), or wait with ArtifactVersionSensor.")
            self._last_seen_index = _version_index("last_seen", last_seen)
            if isinstance(poll_interval, bool) or not isinstance(poll_interval, (int, float)) \
                    or not math.isfinite(poll_interval) or poll_interval < MIN_POLL_INTERVAL:
                raise InvalidValueError(
                    f"poll_interval must be a number of seconds >= {MIN_POLL_INTERVAL}, not {poll_interval!r}.")
        self.collection = collection.strip()
        self.alias = alias
        self.require = checked or None
        self.last_seen = last_seen
        self.wandb_conn_id = wandb_conn_id
        self.poll_interval = float(poll_interval)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {"collection": self.collection, "alias": self.alias, "require": self.require,
             "last_seen": self.last_seen, "wandb_conn_id": self.wandb_conn_id, "poll_interval": self.poll_interval},
        )

    # --- shared polling -----------------------------------------------------------------------

    def shared_stream_key(self) -> Hashable | None:
        """Watchers of the same collection and alias, connection and interval share one subscription."""
        return ("wandb-collection", self.wandb_conn_id, self.collection, self.alias, self.poll_interval)

    @classmethod
    async def open_shared_stream(cls, kwargs: dict[str, Any]) -> AsyncIterator[Any]:
        """Snapshots of one collection from this process's batched poll loop; raises if the connection is unusable."""
        with SharedPolling.subscription(kwargs["wandb_conn_id"], float(kwargs["poll_interval"]),
                                        kwargs["collection"], kwargs.get("alias")) as slot:
            while True:
                item = await slot.get()
                if isinstance(item, BaseException):
                    raise item
                yield item

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Standalone path (no shared-stream manager, e.g. ``dag.test``): the same poll loop and filter."""
        async for event in self.filter_shared_stream(type(self).open_shared_stream(self.serialize()[1])):
            yield event

    # --- deciding -----------------------------------------------------------------------------

    async def filter_shared_stream(self, shared_stream: AsyncIterator[Any]) -> AsyncIterator[TriggerEvent]:
        state = _WatchState(last_seen=self._last_seen_index)
        async for snapshot in shared_stream:
            if snapshot.error is not None:
                if not snapshot.error.transient:  # a transient one was logged by the poll loop; it tries again
                    state.report(self.log, f"cannot read {self.collection}: {snapshot.error}")
                continue
            for payload in self._decide(snapshot, state):
                self.log.info("W&B %s: %s (%s)", payload["reason"], payload["qualified_name"], payload["digest"])
                yield TriggerEvent(payload)  # type: ignore[no-untyped-call]  # Airflow's class is untyped

    def _meets(self, version: Any, state: _WatchState) -> bool:
        from ..client.conditions import evaluate_version
        from ..client.errors import WandbError

        try:
            verdict = evaluate_version(version, require=self.require)
        except WandbError as exc:  # e.g. a number compared with text: it does not meet the conditions
            state.report(self.log, str(exc))
            return False
        return verdict.ready

    def _decide(self, snapshot: CollectionSnapshot, state: _WatchState) -> list[dict[str, Any]]:
        first = not state.started
        state.started = True
        if self.alias is not None:
            holder = snapshot.holders.get(self.alias)
            if holder is None or holder.id in state.fired or not self._meets(holder, state):
                return []
            state.fired[holder.id] = holder.version_index
            if first and (state.last_seen is None or holder.version_index == state.last_seen):
                return []  # what the alias points at when watching starts has been seen
            return [self._payload(holder, ALIAS, 0)]
        committed = [v for v in snapshot.versions if v.state == "COMMITTED"]
        if first:
            newest = max((v.version_index for v in committed), default=-1)
            state.baseline = newest if state.last_seen is None else state.last_seen
        unseen = 0
        if snapshot.versions:
            oldest = min(v.version_index for v in snapshot.versions)
            if snapshot.full and state.highest is not None and oldest > state.highest + 1:
                unseen = oldest - state.highest - 1
                self.log.warning("%s: up to %d version(s) arrived between two polls beyond the %d newest read; "
                                 "they were not looked at", self.collection, unseen, len(snapshot.versions))
            state.highest = max(state.highest if state.highest is not None else -1,
                                max(v.version_index for v in snapshot.versions))
            if snapshot.full:  # versions older than the window never come back into it
                state.fired = {k: i for k, i in state.fired.items() if i >= oldest}
        elif state.highest is None:
            state.highest = -1
        state.unseen += unseen
        events = []
        for version in sorted(committed, key=lambda v: v.version_index):
            if version.id in state.fired:
                continue
            if self.require is None and version.version_index <= state.baseline:
                continue
            if not self._meets(version, state):
                continue
            state.fired[version.id] = version.version_index
            if first and version.version_index <= state.baseline:
                continue  # already meeting the conditions when watching started
            events.append(self._payload(version, CONDITION if self.require else NEW_VERSION, state.unseen))
            state.unseen = 0
        return events

    def _payload(self, version: Any, reason: str, unseen: int) -> dict[str, Any]:
        from ..assets import event_extra

        payload = event_extra(version, reason)
        if self.alias is not None:
            payload["alias"] = self.alias
        if unseen:
            payload["unseen_versions"] = unseen
        return payload


@dataclass
class _WatchState:
    """What one trigger has seen (lives as long as the trigger; nothing of it is serialized)."""

    last_seen: int | None
    started: bool = False
    baseline: int = -1
    highest: int | None = None
    unseen: int = 0
    fired: dict[str, int] = field(default_factory=dict)  # version id -> index in the collection
    last_problem: str = ""

    def report(self, logger: Any, problem: str) -> None:
        """Log a problem once, not on every poll."""
        if problem != self.last_problem:
            logger.error("%s", redact_urls(problem))
            self.last_problem = problem
