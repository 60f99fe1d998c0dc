"""``WandbBaseOperator``: what every W&B operator shares.

The connection and its client, the one mapping of errors to Airflow outcomes, the W&B link button,
OpenLineage inputs/outputs, the task's W&B run (``wandb_provider._runs``), and argument checks that
run twice: on the values written in the DAG file (at parse time, ``__init__``) and on the rendered
values (at the start of ``execute``, before any request).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator

from .._airflow import translate_errors, version_xcom
from .._values import (
    InvalidValueError,
    is_plain,
    prune_empty,
    refuse_non_finite,
    refuse_rendered_empty,
    rendered_empty,
    required_text,
)
from ..links import XCOM_URL_KEY, WandbArtifactLink

if TYPE_CHECKING:
    from .._runs import TaskRun
    from ..client import ArtifactVersion, WandbClient
    from ..client.models import WandbRun

ArgumentCheck = Callable[[str, Any], Any]


class RenderedSources:
    """Keeps what the DAG file gave for each templated argument, so that a value whose source was a
    template can be told from the same value written as such (shared by operators and the sensor).

    ``fail_closed`` names the arguments (gates, guards) where a template that renders empty is an
    error, unless the task's ``allow_empty`` is True: then what rendered empty is dropped
    (``fail_closed_as_none``: kept as None)."""

    fail_closed: ClassVar[tuple[str, ...]] = ()
    fail_closed_as_none: ClassVar[tuple[str, ...]] = ()
    allow_empty: bool = False
    _unrendered: dict[str, Any]

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


class WandbBaseOperator(RenderedSources, BaseOperator):
    """Base class of the W&B operators.

    Subclasses list ``argument_checks``: for each templated argument a function
    ``check(name, value) -> normalized value`` that raises ``InvalidValueError``. Values written
    plainly in the DAG file are checked in ``__init__`` (``check_plain_arguments``); every value is
    checked again after rendering, and ``execute`` hands the normalized values to ``run_checked``,
    the subclass's work, inside the one error translation (``checking``).

    Each task is recorded as one W&B run (``wandb_provider._runs``): versions it read are declared
    used, versions it logged are created by the run, and the run ends ``finished`` or ``failed``.

    :param wandb_conn_id: The W&B connection (type ``wandb``).
    :param aws_conn_id: An AWS connection to read and log ``s3://`` references with (extra ``amazon``).
    :param gcp_conn_id: A Google Cloud connection to read and log ``gs://`` references with (extra ``google``).
    :param record_run: Record this task as a W&B run (also switched off by the connection extra
        ``record_runs``).
    """

    operator_extra_links = (WandbArtifactLink(),)
    ui_color = "#ffcc33"
    argument_checks: ClassVar[Mapping[str, ArgumentCheck]] = {}

    def __init__(self, *, wandb_conn_id: str = "wandb_default", aws_conn_id: str | None = None,
                 gcp_conn_id: str | None = None, record_run: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.wandb_conn_id = wandb_conn_id
        self.aws_conn_id, self.gcp_conn_id = aws_conn_id, gcp_conn_id
        self.record_run = record_run
        self._lineage: tuple[list[dict[str, Any]], list[dict[str, Any]]] = ([], [])
        self._unrendered = {}
        self._task_run: TaskRun | None = None
        self._task_client: WandbClient | None = None
        with self.checking():
            required_text("wandb_conn_id", wandb_conn_id)
            if not isinstance(record_run, bool):
                raise InvalidValueError(f"record_run must be True or False, not {record_run!r}.")

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
        return {name: check(name, self.fail_closed_value(name) if name in self.fail_closed else getattr(self, name))
                for name, check in self.argument_checks.items()}

    def execute(self, context: Any) -> Any:
        """Check the rendered arguments, then ``run_checked``; every error leaves translated. The
        task's W&B run ends ``finished``, or ``failed`` when the task fails (never masking its error)."""
        from .._compat import AirflowSkipException, TaskDeferred
        from .._runs import TaskCoordinates, TaskRun

        with self.checking():
            args = self.rendered_arguments()
            self._task_run = TaskRun(TaskCoordinates.from_context(context), enabled=self.record_run)
            try:
                result = self.run_checked(context, args)
            except TaskDeferred:  # the task goes on later: its run is not over
                self._task_run = None
                self._end_run(failed=False)
                raise
            except BaseException as exc:
                self._end_run(failed=not isinstance(exc, AirflowSkipException))
                raise
            if self._task_run.home is None and self._task_run.run is None:
                self._task_run.home = self.run_home(args)
            self._end_run(failed=False)
            return result

    def on_kill(self) -> None:
        """Airflow calls this on SIGTERM (mark failed, a kill from the UI, the supervisor) and on
        ``execution_timeout``, then lets the task go on: stop the task's transfers in flight, which
        raise ``CancelledError`` within about a second and leave their roots as they were."""
        client = self._task_client
        if client is not None:
            client.cancel()

    def _end_run(self, *, failed: bool) -> None:
        try:
            if self._task_run is not None and self._task_client is not None:
                self._task_run.end(self._task_client, failed=failed)
        finally:
            if self._task_client is not None:
                self._task_client.close()
                self._task_client = None

    def run_checked(self, context: Any, args: dict[str, Any]) -> Any:
        """The task's work, given the checked values of ``argument_checks`` (override)."""
        raise NotImplementedError

    # --- W&B ----------------------------------------------------------------------------------

    @contextmanager
    def wandb_client(self) -> Iterator[WandbClient]:
        """A client for ``wandb_conn_id``: while the task runs, one client serves the whole task (its
        W&B run included) and is closed when the task ends; elsewhere, a new one closed afterwards."""
        from ..hooks.wandb import WandbHook

        hook = WandbHook(wandb_conn_id=self.wandb_conn_id)
        if self._task_run is None:
            with hook.get_client(aws_conn_id=self.aws_conn_id, gcp_conn_id=self.gcp_conn_id) as client:
                yield client
            return
        if self._task_client is None:
            self._task_client = hook.get_client(aws_conn_id=self.aws_conn_id, gcp_conn_id=self.gcp_conn_id)
            self._task_run.follow_connection(hook.record_runs, hook.deployment)  # the connection's extras
        yield self._task_client

    def push_link(self, context: Mapping[str, Any], version: ArtifactVersion) -> None:
        """Point the task's "W&B Artifact" button at ``version`` (a version the task reads or changes)."""
        context["ti"].xcom_push(key=XCOM_URL_KEY, value=version.url)
        if self._task_run is not None:
            self._task_run.use(version)

    # --- the task's W&B run -------------------------------------------------------------------

    def begin_run(self, client: WandbClient, entity: str | None, project: str) -> WandbRun | None:
        """Create this task's run in ``entity/project`` now (a producer needs it before logging);
        None when recording is off."""
        return self._task_run.begin(client, entity, project) if self._task_run is not None else None

    def logged(self, version: ArtifactVersion) -> None:
        """``version`` was created by this task's run: it is its output, not an input."""
        if self._task_run is not None:
            self._task_run.logged(version)

    def producing_run(self, client: WandbClient, version: ArtifactVersion) -> dict[str, Any] | None:
        """The run that logged ``version``, for an XCom: entity, project, run_id and url (or None)."""
        run = client.producer(version)
        if run is None:
            return None
        return {"entity": run.entity, "project": run.project, "run_id": run.run_id, "url": run.url}

    def run_home(self, args: Mapping[str, Any]) -> tuple[str, str] | None:
        """Where the run of a task that touched no version lives: the project of its ``collection``
        (or ``artifact``) argument, when that is a project and not a registry (override to change)."""
        from ..client.errors import WandbError

        client = self._task_client
        path = next((args[key] for key in ("collection", "artifact") if isinstance(args.get(key), str)), None)
        if client is None or path is None:
            return None
        try:
            resolved = client.resolve_path(path)
        except WandbError:
            return None
        if resolved.is_registry or resolved.entity is None:
            return None
        return resolved.entity, resolved.project

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
        """What OpenLineage reports; every version here that this task did not log is declared used by its run."""
        self._lineage = ([version_xcom(v) for v in inputs], [version_xcom(v) for v in outputs])
        if self._task_run is not None:
            for version in [*inputs, *outputs]:
                self._task_run.use(version)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the collections this task read and wrote (needs the openlineage provider)."""
        from ..assets import operator_lineage

        inputs, outputs = self._lineage
        return operator_lineage(inputs, outputs)
