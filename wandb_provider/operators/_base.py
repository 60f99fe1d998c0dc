"""``WandbBaseOperator``: the W&B operators' thin class over ``BaseOperator``.

What every W&B task shares (the connection and its client, the one mapping of errors to Airflow
outcomes, the W&B link button, fail-closed templated arguments, OpenLineage) is
``wandb_provider._base.WandbBaseMixin``, which the sensor stands on too. Operators add the task's
W&B run (``wandb_provider._runs``), asset events, and argument checks that run twice: on the values
written in the DAG file (at parse time, ``__init__``) and on the rendered values (at the start of
``execute``, before any request).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator

from .._airflow import version_xcom
from .._base import WandbBaseMixin
from .._values import InvalidValueError, is_plain

if TYPE_CHECKING:
    from .._runs import TaskRun
    from ..client import ArtifactVersion, WandbClient
    from ..client.models import WandbRun
    from ..hooks.wandb import WandbHook

ArgumentCheck = Callable[[str, Any], Any]


class WandbBaseOperator(WandbBaseMixin, BaseOperator):
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

    ui_color = "#ffcc33"
    argument_checks: ClassVar[Mapping[str, ArgumentCheck]] = {}

    def __init__(self, *, wandb_conn_id: str = "wandb_default", aws_conn_id: str | None = None,
                 gcp_conn_id: str | None = None, record_run: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.record_run = record_run
        self._task_run: TaskRun | None = None
        self.init_wandb(wandb_conn_id, aws_conn_id, gcp_conn_id)
        with self.checking():
            if not isinstance(record_run, bool):
                raise InvalidValueError(f"record_run must be True or False, not {record_run!r}.")

    # --- arguments ----------------------------------------------------------------------------

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

    def _end_run(self, *, failed: bool) -> None:
        try:
            if self._task_run is not None and self._task_client is not None:
                self._task_run.end(self._task_client, failed=failed)
        finally:
            self.close_client()

    def run_checked(self, context: Any, args: dict[str, Any]) -> Any:
        """The task's work, given the checked values of ``argument_checks`` (override)."""
        raise NotImplementedError

    # --- W&B ----------------------------------------------------------------------------------

    @contextmanager
    def wandb_client(self) -> Iterator[WandbClient]:
        """A client for ``wandb_conn_id``: while the task runs, one client serves the whole task (its
        W&B run included) and is closed when the task ends; elsewhere, a new one closed afterwards."""
        from ..hooks.wandb import WandbHook

        if self._task_run is None:
            hook = WandbHook(wandb_conn_id=self.wandb_conn_id)
            with hook.get_client(aws_conn_id=self.aws_conn_id, gcp_conn_id=self.gcp_conn_id) as client:
                yield client
            return
        yield self.task_client()

    def connected(self, hook: WandbHook) -> None:
        if self._task_run is not None:
            self._task_run.follow_connection(hook.record_runs, hook.deployment)  # the connection's extras

    def push_link(self, context: Mapping[str, Any], version: ArtifactVersion | Mapping[str, Any]) -> None:
        """Point the task's "W&B Artifact" button at ``version`` (a version the task reads or changes)."""
        super().push_link(context, version)
        if self._task_run is not None and not isinstance(version, Mapping):
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
