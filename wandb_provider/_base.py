"""``WandbBaseMixin``: what every W&B task shares, operator or sensor.

Like Airflow's Amazon provider (one ``AwsBaseHookMixin`` under ``AwsBaseOperator`` and
``AwsBaseSensor``), the W&B operators and the sensor stand on one mixin, each through a thin class
of its Airflow base: ``operators._base.WandbBaseOperator`` (``BaseOperator``) and
``sensors._base.WandbBaseSensor`` (``BaseSensorOperator``). The mixin holds the connection and the
task's one client (cancelled by ``on_kill``), the one error translation naming the task, the W&B
link button, the record of what each templated argument was before rendering (fail-closed gates),
and the OpenLineage report.
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar

from ._airflow import translate_errors
from ._values import prune_empty, refuse_non_finite, refuse_rendered_empty, rendered_empty, required_text
from .links import XCOM_URL_KEY, WandbArtifactLink

if TYPE_CHECKING:
    from airflow.sdk import BaseOperatorLink

    from .client import ArtifactVersion, WandbClient
    from .hooks.wandb import WandbHook


class WandbBaseMixin:
    """Shared by ``WandbBaseOperator`` and ``WandbBaseSensor``; put it first in the bases, before
    the Airflow class (its ``_do_render_template_fields`` wraps Airflow's).

    ``fail_closed`` names the arguments (gates, guards) where a template that renders empty is an
    error, unless the task's ``allow_empty`` is True: then what rendered empty is dropped
    (``fail_closed_as_none``: kept as None)."""

    operator_extra_links: Collection[BaseOperatorLink] = (WandbArtifactLink(),)
    fail_closed: ClassVar[tuple[str, ...]] = ()
    fail_closed_as_none: ClassVar[tuple[str, ...]] = ()
    allow_empty: bool = False

    task_id: str  # Airflow's
    wandb_conn_id: str
    aws_conn_id: str | None
    gcp_conn_id: str | None
    _unrendered: dict[str, Any]
    _task_client: WandbClient | None
    _lineage: tuple[list[dict[str, Any]], list[dict[str, Any]]]

    def init_wandb(self, wandb_conn_id: str, aws_conn_id: str | None = None,
                   gcp_conn_id: str | None = None) -> None:
        """Set up the shared state; the thin classes call it in ``__init__``, after Airflow's."""
        self.wandb_conn_id = wandb_conn_id
        self.aws_conn_id, self.gcp_conn_id = aws_conn_id, gcp_conn_id
        self._unrendered = {}
        self._task_client = None
        self._lineage = ([], [])
        with self.checking():
            required_text("wandb_conn_id", wandb_conn_id)

    # --- errors -------------------------------------------------------------------------------

    @property
    def label(self) -> str:
        return f"{type(self).__name__} {self.task_id!r}"

    @contextmanager
    def checking(self) -> Iterator[None]:
        """Translate errors (argument checks included) into Airflow outcomes, naming this task."""
        with translate_errors(self.label):
            yield

    # --- templated arguments ------------------------------------------------------------------

    def _do_render_template_fields(self, parent: Any, template_fields: Any, context: Any, jinja_env: Any,
                                   seen_oids: set[int]) -> None:
        # Airflow renders plain and mapped tasks through this method.
        if parent is self:
            self._unrendered = {name: copy.deepcopy(getattr(self, name, None)) for name in template_fields}
        super()._do_render_template_fields(  # type: ignore[misc]
            parent, template_fields, context, jinja_env, seen_oids)
        if parent is self:  # a NaN would otherwise end the task in Airflow's rendered-fields step, untyped
            for name in template_fields:
                refuse_non_finite(name, getattr(self, name, None))

    def unrendered(self, name: str) -> Any:
        """What the DAG file gave for a templated argument, before rendering."""
        return getattr(self, "_unrendered", {}).get(name, getattr(self, name))

    def fail_closed_value(self, name: str) -> Any:
        """The rendered ``name``; refused (or pruned, with ``allow_empty``) where a template rendered empty."""
        value = getattr(self, name)
        if not self.allow_empty:
            refuse_rendered_empty(name, self.unrendered(name), value)
            return value
        places = rendered_empty(name, self.unrendered(name), value)
        return prune_empty(name, value, places, keep_as_none=name in self.fail_closed_as_none) if places else value

    # --- the task's client --------------------------------------------------------------------

    def task_client(self) -> WandbClient:
        """The client of this task's run for ``wandb_conn_id``: made at first use, closed by ``close_client``."""
        if self._task_client is None:
            from .hooks.wandb import WandbHook

            hook = WandbHook(wandb_conn_id=self.wandb_conn_id)
            self._task_client = hook.get_client(aws_conn_id=self.aws_conn_id, gcp_conn_id=self.gcp_conn_id)
            self.connected(hook)
        return self._task_client

    def connected(self, hook: WandbHook) -> None:
        """Called once the task's client is made, with the hook that read the connection (override)."""

    def close_client(self) -> None:
        """Close the task's client (when the task ends or defers)."""
        client, self._task_client = self._task_client, None
        if client is not None:
            client.close()

    def on_kill(self) -> None:
        """Airflow calls this on SIGTERM (mark failed, a kill from the UI, the supervisor) and on
        ``execution_timeout``, then lets the task go on: stop the task's requests and transfers in
        flight, which raise ``CancelledError`` within about a second and leave their roots as they were."""
        client = self._task_client
        if client is not None:
            client.cancel()

    # --- what the task read -------------------------------------------------------------------

    def push_link(self, context: Mapping[str, Any], version: ArtifactVersion | Mapping[str, Any]) -> None:
        """Point the task's "W&B Artifact" button at ``version`` (or its XCom dict)."""
        url = version["url"] if isinstance(version, Mapping) else version.url
        context["ti"].xcom_push(key=XCOM_URL_KEY, value=url)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the collections this task read and wrote (needs the openlineage provider)."""
        from .assets import operator_lineage

        inputs, outputs = self._lineage
        return operator_lineage(inputs, outputs)
