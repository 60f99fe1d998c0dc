"""``WandbBaseOperator``: what every W&B operator shares.

The connection and its client, the one mapping of errors to Airflow outcomes, the W&B link button,
OpenLineage inputs/outputs, and argument checks that run twice: on the values written in the DAG
file (at parse time, ``__init__``) and on the rendered values (at the start of ``execute``, before
any request).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator

from .._airflow import translate_errors, version_xcom
from .._values import is_plain, required_text
from ..links import XCOM_URL_KEY, WandbArtifactLink

if TYPE_CHECKING:
    from ..client import ArtifactVersion, WandbClient

ArgumentCheck = Callable[[str, Any], Any]


class WandbBaseOperator(BaseOperator):
    """Base class of the W&B operators.

    Subclasses list ``argument_checks``: for each templated argument a function
    ``check(name, value) -> normalized value`` that raises ``InvalidValueError``. Values written
    plainly in the DAG file are checked in ``__init__`` (``check_plain_arguments``); every value is
    checked again after rendering, and ``execute`` hands the normalized values to ``run_checked``,
    the subclass's work, inside the one error translation (``checking``).

    :param wandb_conn_id: The W&B connection (type ``wandb``).
    :param aws_conn_id: An AWS connection to read and log ``s3://`` references with (extra ``amazon``).
    :param gcp_conn_id: A Google Cloud connection to read and log ``gs://`` references with (extra ``google``).
    """

    operator_extra_links = (WandbArtifactLink(),)
    ui_color = "#ffcc33"
    argument_checks: ClassVar[Mapping[str, ArgumentCheck]] = {}

    def __init__(self, *, wandb_conn_id: str = "wandb_default", aws_conn_id: str | None = None,
                 gcp_conn_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.wandb_conn_id = wandb_conn_id
        self.aws_conn_id, self.gcp_conn_id = aws_conn_id, gcp_conn_id
        self._lineage: tuple[list[dict[str, Any]], list[dict[str, Any]]] = ([], [])
        self._unrendered: dict[str, Any] = {}
        with self.checking():
            required_text("wandb_conn_id", wandb_conn_id)

    # --- arguments ----------------------------------------------------------------------------

    @property
    def label(self) -> str:
        return f"{type(self).__name__} {self.task_id!r}"

    @contextmanager
    def checking(self) -> Iterator[None]:
        """Translate errors (argument checks included) into Airflow outcomes, naming this task."""
        with translate_errors(self.label):
            yield

    def check_plain_arguments(self) -> None:
        """Run ``argument_checks`` on the values written plainly in the DAG file (call at the end of ``__init__``)."""
        with self.checking():
            for name, check in self.argument_checks.items():
                value = getattr(self, name)
                if is_plain(value):
                    check(name, value)

    def rendered_arguments(self) -> dict[str, Any]:
        """The normalized values of ``argument_checks`` after rendering; raises before any request."""
        return {name: check(name, getattr(self, name)) for name, check in self.argument_checks.items()}

    def execute(self, context: Any) -> Any:
        """Check the rendered arguments, then ``run_checked``; every error leaves translated."""
        with self.checking():
            return self.run_checked(context, self.rendered_arguments())

    def run_checked(self, context: Any, args: dict[str, Any]) -> Any:
        """The task's work, given the checked values of ``argument_checks`` (override)."""
        raise NotImplementedError

    def _do_render_template_fields(self, parent: Any, template_fields: Any, context: Any, jinja_env: Any,
                                   seen_oids: set[int]) -> None:
        # Airflow renders plain and mapped tasks through this method; keep what the user wrote, so
        # that a value whose source was a template can be told from text written as such.
        if parent is self:
            self._unrendered = {name: copy.deepcopy(getattr(self, name, None)) for name in template_fields}
        super()._do_render_template_fields(parent, template_fields, context, jinja_env, seen_oids)

    def unrendered(self, name: str) -> Any:
        """What the DAG file gave for a templated argument, before rendering."""
        return self._unrendered.get(name, getattr(self, name))

    # --- W&B ----------------------------------------------------------------------------------

    @contextmanager
    def wandb_client(self) -> Iterator[WandbClient]:
        """A client for ``wandb_conn_id``, closed afterwards."""
        from ..hooks.wandb import WandbHook

        hook = WandbHook(wandb_conn_id=self.wandb_conn_id)
        with hook.get_client(aws_conn_id=self.aws_conn_id, gcp_conn_id=self.gcp_conn_id) as client:
            yield client

    def push_link(self, context: Mapping[str, Any], version: ArtifactVersion) -> None:
        """Point the task's "W&B Artifact" button at ``version``."""
        context["ti"].xcom_push(key=XCOM_URL_KEY, value=version.url)

    def publish_asset_event(self, context: Mapping[str, Any], version: ArtifactVersion, reason: str,
                            changed: bool = True) -> None:
        """Put ``version`` (and whether this run ``changed`` W&B: False on an idempotent re-run) in the
        extra of this task's asset event for the collection it changed.

        Outlets are fixed when the DAG is parsed; the collection a task changes may only be known
        when it runs. So: an ``Asset`` outlet for that collection (``wandb_provider.assets.artifact_asset``)
        gets the version in its event's extra; each ``AssetAlias`` outlet gets an event for the
        collection's ``wandb://`` asset (so a DAG scheduled on that asset runs); a ``wandb://``
        outlet for another collection is left as declared, with a warning (Airflow emits it anyway).
        """
        from airflow.sdk import Asset, AssetAlias

        from ..assets import SCHEME, collection_uri, event_extra

        events = context.get("outlet_events")
        if events is None or not self.outlets:
            return
        extra = {**event_extra(version, reason), "changed": changed}
        target = Asset(uri=collection_uri(version.entity, version.project, version.name))
        for outlet in self.outlets:
            if isinstance(outlet, AssetAlias):
                events[outlet].add(target, extra=extra)
            elif isinstance(outlet, Asset) and outlet.uri == target.uri:
                events[outlet].extra.update(extra)
            elif isinstance(outlet, Asset) and outlet.uri.startswith(f"{SCHEME}://"):
                self.log.warning("Outlet %s is not the collection this task changed (%s); its asset event "
                                 "carries no version.", outlet.uri, target.uri)

    def record_lineage(self, inputs: list[ArtifactVersion], outputs: list[ArtifactVersion]) -> None:
        self._lineage = ([version_xcom(v) for v in inputs], [version_xcom(v) for v in outputs])

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the collections this task read and wrote (needs the openlineage provider)."""
        from ..assets import operator_lineage

        inputs, outputs = self._lineage
        return operator_lineage(inputs, outputs)
