"""``ArtifactVersionSensor``: wait until an artifact version exists and meets conditions."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from typing import Any

from airflow.sdk import PokeReturnValue

from .._compat import conf
from .._values import InvalidValueError, is_plain
from .._waiting import FAILED, READY, WaitSpec, check, missing_collection
from ..triggers.artifacts import ArtifactVersionTrigger
from ._base import WandbBaseSensor

EVENT_STATUSES = frozenset({"success", "error", "timeout"})


class ArtifactVersionSensor(WandbBaseSensor):
    """
    Wait for ``artifact`` to resolve to a COMMITTED version that meets every given condition.

    "Not found", "PENDING" and "condition not met" mean *not yet*; a bad key, a permission error or
    an invalid path fail at once; transient W&B errors are logged and tried again at the next poke.
    Each poke costs one GraphQL request. Deferred, the sensor waits on the triggerer's shared poll
    (the one ``AssetWatcher``s use): all deferred sensors and watchers of a connection and
    ``poke_interval`` cost one GraphQL request per 25 collections and poll, however many they are,
    and decide exactly as a poke does.

    Arguments are read as users write them: ``None``, ``""`` and ``"None"`` (what a template renders
    for a missing value) mean "no condition" for ``created_after``; a value that
    cannot be used fails the task at the first poke, before any request. The gate fails closed: a
    ``require`` (or a term's value) whose template renders empty fails the task, and so does a
    version whose metadata lacks a gate key (a typo does not wait out the timeout).

    :param artifact: e.g. ``"acme/churn/churn-model:candidate"`` or ``"...:latest"``. (templated)
    :param newer_than: The version must be newer than this (``"v3"``, ``"acme/churn/model:v3"``) or
        differ from this digest, e.g. from an earlier run's XCom. A template that renders empty fails
        the task (it would otherwise accept the version that is there now). (templated)
    :param require: Metadata gate, as in ``UpdateArtifactAliasesOperator`` (a dict, or a template
        rendering one). (templated)
    :param on_missing: ``"fail"`` (default): a version whose metadata lacks a gate key fails the
        task, naming the keys it has and the closest match; ``"skip"``: such a version is not ready
        (keep waiting).
    :param allow_empty: Opt out of failing closed: a gate, term or ``newer_than`` whose template
        renders empty is dropped.
    :param created_after: The version must be created after this time (ISO 8601 or datetime; without
        a zone, UTC), e.g. ``"{{ data_interval_start }}"``, which renders ``None`` for a manual run:
        then there is no time condition. (templated)
    :param missing_collection_grace: Seconds (or a timedelta) a collection that does not exist may
        take to appear before the sensor fails (default 0: at the first poke that finds nothing, the
        collection is looked up once; a typo'd collection fails at once instead of waiting out ``timeout``).
        ``None`` waits for it as long as ``timeout`` allows.
    :param deferrable: Wait in the triggerer instead of a worker slot (default: ``[operators]
        default_deferrable``).

    A sensor that times out says why it kept waiting: the last judgement is in the timeout's message.

    :return: The version's XCom dict (the keys of ``UseArtifactOperator``'s result, without the
        download fields).
    """

    template_fields: Sequence[str] = ("artifact", "newer_than", "require", "created_after")
    template_fields_renderers = {"require": "json"}
    fail_closed = ("require", "newer_than")

    def __init__(
        self,
        *,
        artifact: str,
        wandb_conn_id: str = "wandb_default",
        newer_than: str | None = None,
        require: dict[str, Any] | None = None,
        created_after: str | dt.datetime | None = None,
        on_missing: str = "fail",
        allow_empty: bool = False,
        missing_collection_grace: float | dt.timedelta | None = 0,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(wandb_conn_id=wandb_conn_id, **kwargs)
        self.artifact = artifact
        self.newer_than = newer_than
        self.require = require
        self.created_after = created_after
        self.on_missing = on_missing
        self.allow_empty = allow_empty
        self.deferrable = deferrable
        self._last_judgement = "no poke has been made"
        self._first_poke: float | None = None
        self._collection_seen = False  # once seen, a collection is not looked up again
        arguments = (artifact, newer_than, require, created_after)
        with self.checking():
            if not isinstance(allow_empty, bool):
                raise InvalidValueError(f"allow_empty must be True or False, not {allow_empty!r}.")
            if isinstance(missing_collection_grace, dt.timedelta):
                missing_collection_grace = missing_collection_grace.total_seconds()
            if missing_collection_grace is not None and (
                    isinstance(missing_collection_grace, bool) or not isinstance(missing_collection_grace, (int, float))
                    or not missing_collection_grace >= 0):
                raise InvalidValueError(f"missing_collection_grace must be seconds >= 0 or None, "
                                        f"not {missing_collection_grace!r}.")
            self.missing_collection_grace = missing_collection_grace
            if all(is_plain(value) for value in arguments):  # written plainly: check at DAG parse time
                WaitSpec.of(*arguments, on_missing=on_missing)

    def _spec(self) -> WaitSpec:
        """The rendered arguments, checked before any request (a bad one fails the task at once)."""
        with self.checking():
            return WaitSpec.of(self.artifact, self.fail_closed_value("newer_than"), self.fail_closed_value("require"),
                               self.created_after, self.on_missing)

    def poke(self, context: Any) -> bool | PokeReturnValue:
        from .._compat import AirflowFailException

        spec = self._spec()
        with self.checking():
            client = self.task_client()
            outcome = check(client, spec)
        if self._first_poke is None:
            self._first_poke = time.monotonic()
        if outcome.status == FAILED:
            raise AirflowFailException(outcome.message)
        if outcome.status != READY:
            self._last_judgement = outcome.message
            if outcome.not_found and not self._collection_seen and self.missing_collection_grace is not None \
                    and self._waited(context) >= self.missing_collection_grace:
                with self.checking():
                    missing = missing_collection(client, spec)
                self._collection_seen = missing is None
                if missing is not None:
                    raise AirflowFailException(
                        f"{missing} Not waiting for {spec.artifact!r}: its collection does not exist (a typo?). "
                        "Pass missing_collection_grace (seconds, or None) to wait for it to be created.")
            self.log.info("Not yet: %s", outcome.message)
            return False
        assert outcome.version is not None
        self._ended_on(context, outcome.version)
        self.log.info("Ready: %s", outcome.message)
        return PokeReturnValue(is_done=True, xcom_value=outcome.version)

    def _waited(self, context: Any) -> float:
        """Seconds this sensor has been waiting: since its first poke (in reschedule mode, its first try's)."""
        first = None
        if self.reschedule and hasattr(context["ti"], "get_first_reschedule_date"):
            first = context["ti"].get_first_reschedule_date(context)
        if first is not None:
            return float((dt.datetime.now(dt.timezone.utc) - first).total_seconds())
        return time.monotonic() - (self._first_poke or time.monotonic())

    def _ended_on(self, context: Any, version: dict[str, Any]) -> None:
        """The wait ended on ``version`` (its XCom dict): the link button and OpenLineage's input."""
        self._lineage = ([version], [])
        self.push_link(context, version)

    def execute(self, context: Any) -> Any:
        """Poke, or defer to the triggerer's shared poll; the task's client is closed when this ends."""
        try:
            return self._wait(context)
        finally:
            self.close_client()

    def _wait(self, context: Any) -> Any:
        from .._compat import AirflowSensorTimeout, AirflowSkipException
        from ..client.gates import reads

        require = self._spec().require
        poke_only = bool(self.deferrable and require and reads(require).any)
        if poke_only:
            self.log.info("The gate reads the producing run or an alias's holder, which the triggerer's shared "
                          "poll does not: waiting by poking instead of deferring.")
        if not self.deferrable or poke_only:
            try:
                return super().execute(context)
            except AirflowSensorTimeout as exc:
                raise AirflowSensorTimeout(f"{exc} Still waiting because: {self._last_judgement}") from exc
            except AirflowSkipException as exc:
                if not str(exc).startswith("Sensor has timed out"):
                    raise
                raise AirflowSkipException(f"{exc} Still waiting because: {self._last_judgement}") from exc
        first = self.poke(context)  # no need to defer when it is already there
        if isinstance(first, PokeReturnValue):
            return first.xcom_value
        self.defer(
            trigger=ArtifactVersionTrigger(
                wandb_conn_id=self.wandb_conn_id, poll_interval=self.poke_interval,
                end_time=time.time() + float(self.timeout), **self._spec().to_dict(),
            ),
            method_name="execute_complete",
            timeout=dt.timedelta(seconds=float(self.timeout)),
        )

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> Any:
        from .._compat import AirflowFailException, AirflowSensorTimeout, AirflowSkipException

        status = (event or {}).get("status")
        if status not in EVENT_STATUSES:
            raise AirflowFailException(f"unexpected trigger event {event!r}")
        assert event is not None
        if status == "success":
            self._ended_on(context, event["version"])
            self.log.info("Ready: %s", event["message"])
            return event["version"]
        if status == "timeout":
            if self.soft_fail:
                raise AirflowSkipException(event["message"])
            raise AirflowSensorTimeout(event["message"])
        raise AirflowFailException(event["message"])
