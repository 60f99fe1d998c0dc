"""``ArtifactVersionSensor``: wait until an artifact version exists and meets conditions."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue

from .._airflow import translate_errors
from .._compat import conf
from .._values import is_plain
from .._waiting import FAILED, READY, WaitSpec, check
from ..links import XCOM_URL_KEY, WandbArtifactLink
from ..triggers.artifacts import ArtifactVersionTrigger

EVENT_STATUSES = frozenset({"success", "error", "timeout"})


class ArtifactVersionSensor(BaseSensorOperator):
    """
    Wait for ``artifact`` to resolve to a COMMITTED version that meets every given condition.

    "Not found", "PENDING" and "condition not met" mean *not yet*; a bad key, a permission error or
    an invalid path fail at once; transient W&B errors are logged and tried again at the next poke.
    Each poke costs one GraphQL request. Deferred, the sensor waits on the triggerer's shared poll
    (the one ``AssetWatcher``s use): all deferred sensors and watchers of a connection and
    ``poke_interval`` cost one GraphQL request per 25 collections and poll, however many they are,
    and decide exactly as a poke does.

    Arguments are read as users write them: ``None``, ``""`` and ``"None"`` (what a template renders
    for a missing value) mean "no condition"; a value that cannot be used fails the task at the
    first poke, before any request.

    :param artifact: e.g. ``"acme/churn/churn-model:candidate"`` or ``"...:latest"``. (templated)
    :param newer_than: The version must be newer than this (``"v3"``, ``"acme/churn/model:v3"``) or
        differ from this digest, e.g. from an earlier run's XCom. (templated)
    :param require: Metadata gate, as in ``UpdateArtifactAliasesOperator`` (a dict, or a template
        rendering one). (templated)
    :param created_after: The version must be created after this time (ISO 8601 or datetime; without
        a zone, UTC), e.g. ``"{{ data_interval_start }}"``, which renders ``None`` for a manual run:
        then there is no time condition. (templated)
    :param deferrable: Wait in the triggerer instead of a worker slot (default: ``[operators]
        default_deferrable``).
    :return: The version's XCom dict (the keys of ``UseArtifactOperator``'s result, without the
        download fields).
    """

    template_fields: Sequence[str] = ("artifact", "newer_than", "require", "created_after")
    template_fields_renderers = {"require": "json"}
    operator_extra_links = (WandbArtifactLink(),)

    def __init__(
        self,
        *,
        artifact: str,
        wandb_conn_id: str = "wandb_default",
        newer_than: str | None = None,
        require: dict[str, Any] | None = None,
        created_after: str | dt.datetime | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.artifact = artifact
        self.wandb_conn_id = wandb_conn_id
        self.newer_than = newer_than
        self.require = require
        self.created_after = created_after
        self.deferrable = deferrable
        self._client: Any = None
        self._found: dict[str, Any] | None = None  # the version the wait ended on, for OpenLineage
        arguments = (artifact, newer_than, require, created_after)
        if all(is_plain(value) for value in arguments):  # written plainly: check at DAG parse time
            with translate_errors(self._label):
                WaitSpec.of(*arguments)

    @property
    def _label(self) -> str:
        return f"{type(self).__name__} {self.task_id!r}"

    def _spec(self) -> WaitSpec:
        """The rendered arguments, checked before any request (a bad one fails the task at once)."""
        with translate_errors(self._label):
            return WaitSpec.of(self.artifact, self.newer_than, self.require, self.created_after)

    def poke(self, context: Any) -> bool | PokeReturnValue:
        from .._compat import AirflowFailException
        from ..hooks.wandb import WandbHook

        spec = self._spec()
        with translate_errors(self._label):
            if self._client is None:
                self._client = WandbHook(wandb_conn_id=self.wandb_conn_id).get_client()
            outcome = check(self._client, spec)
        if outcome.status == FAILED:
            raise AirflowFailException(outcome.message)
        if outcome.status != READY:
            self.log.info("Not yet: %s", outcome.message)
            return False
        assert outcome.version is not None
        self._found = outcome.version
        context["ti"].xcom_push(key=XCOM_URL_KEY, value=outcome.version["url"])
        self.log.info("Ready: %s", outcome.message)
        return PokeReturnValue(is_done=True, xcom_value=outcome.version)

    def execute(self, context: Any) -> Any:
        if not self.deferrable:
            return super().execute(context)
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
            self._found = event["version"]
            context["ti"].xcom_push(key=XCOM_URL_KEY, value=event["version"]["url"])
            self.log.info("Ready: %s", event["message"])
            return event["version"]
        if status == "timeout":
            if self.soft_fail:
                raise AirflowSkipException(event["message"])
            raise AirflowSensorTimeout(event["message"])
        raise AirflowFailException(event["message"])

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the version the wait ended on, as an input with its version facets."""
        from ..assets import operator_lineage

        return operator_lineage([self._found] if self._found else [], [])
