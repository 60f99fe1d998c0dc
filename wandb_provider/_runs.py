"""Airflow task instances as W&B runs, so W&B's own lineage graph shows which task used and made what.

One task instance is one run: its id is derived from the deployment, dag_id, run_id, task_id and
map_index (a retry resumes the same run; two deployments writing to one project never share a run:
see ``deployment_identity``), ``job_type`` is the task id, the group is the DAG run, and the config holds
the task's coordinates. Versions the task read are declared with W&B's ``useArtifact``; versions
it logged are created by the run. No run files and no file stream: a run costs at most two GraphQL
requests (see README, "Airflow tasks as W&B runs").
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .client import ArtifactVersion, WandbClient
    from .client.models import WandbRun

PROVENANCE_KEY = "airflow"
MAX_LABEL = 128
FAILED_RUN_DEADLINE = 20.0  # seconds: marking a failed task's run never holds up the failure for long
log = logging.getLogger(__name__)


def _bounded(text: str, limit: int = MAX_LABEL) -> str:
    """``text`` if it fits, else its start and a hash (so two long values never collide)."""
    if len(text) <= limit:
        return text
    return f"{text[:limit - 17]}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def deployment_identity(configured: str | None = None) -> str:
    """What tells this Airflow deployment from another in W&B run ids, stable across its workers
    and restarts: the connection extra ``deployment`` (``configured``), else ``[wandb] deployment``,
    else a hash of ``[database] sql_alchemy_conn`` (the metadata database is the deployment), else
    of ``[core] execution_api_server_url``, else ``"default"``. Only a hash of a URL is ever used."""
    if configured:
        return configured
    try:
        from ._compat import conf
    except ImportError:  # pragma: no cover - the Airflow layer always has it
        return "default"
    named = conf.get("wandb", "deployment", fallback=None)
    if named and named.strip():
        return named.strip()
    for section, key in (("database", "sql_alchemy_conn"), ("core", "execution_api_server_url")):
        try:
            value = conf.get(section, key, fallback=None)
        except Exception:  # e.g. a secret backend that cannot be reached from this worker
            value = None
        if value and value.strip():
            return f"{key}-{hashlib.sha256(value.strip().encode()).hexdigest()[:16]}"
    return "default"


@dataclass(frozen=True)
class TaskCoordinates:
    """Where a task instance sits in Airflow (and in which deployment)."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int = -1
    try_number: int | None = None
    logical_date: str | None = None
    url: str | None = None
    deployment: str = "default"

    @classmethod
    def from_context(cls, context: Mapping[str, Any]) -> TaskCoordinates:
        ti = context["ti"]
        map_index = getattr(ti, "map_index", None)
        logical = context.get("logical_date")
        try:
            url = str(ti.log_url)
        except Exception:  # a stand-in task instance, or no [api] base_url: the URL is not known
            url = None
        try_number = getattr(ti, "try_number", None)
        return cls(dag_id=str(ti.dag_id), run_id=str(context.get("run_id") or ti.run_id), task_id=str(ti.task_id),
                   map_index=map_index if isinstance(map_index, int) and map_index >= 0 else -1,
                   try_number=try_number if isinstance(try_number, int) else None,
                   logical_date=str(logical.isoformat()) if logical is not None and hasattr(logical, "isoformat")
                   else None, url=url, deployment=deployment_identity())

    @property
    def wandb_run_id(self) -> str:
        """A valid W&B run id, the same for every try of this task instance and different in another
        deployment: readable start + hash."""
        key = json.dumps([self.deployment, self.dag_id, self.run_id, self.task_id, self.map_index]).encode()
        readable = re.sub(r"[^a-z0-9]+", "-", f"{self.dag_id}-{self.task_id}".lower()).strip("-")[:40]
        return f"{readable or 'task'}-{hashlib.sha256(key).hexdigest()[:16]}"

    @property
    def group(self) -> str:
        return _bounded(f"{self.dag_id}/{self.run_id}")

    @property
    def display_name(self) -> str:
        mapped = f"[{self.map_index}]" if self.map_index >= 0 else ""
        return _bounded(f"{self.dag_id}.{self.task_id}{mapped}")

    def as_dict(self, *, with_try: bool = True) -> dict[str, Any]:
        """The run's config; without the try (``with_try=False``), the produced versions' provenance."""
        data: dict[str, Any] = {"dag_id": self.dag_id, "run_id": self.run_id, "task_id": self.task_id,
                                "map_index": self.map_index}
        if with_try:
            data["try_number"] = self.try_number
        data["logical_date"] = self.logical_date
        if self.url:
            data["url"] = self.url if with_try else self.url.split("?", 1)[0]
        return data


def provenance(context: Mapping[str, Any]) -> dict[str, Any]:
    """What a produced version's ``metadata["airflow"]`` holds: the coordinates of the task instance,
    the same for every try, so that a retry sends the same request and finishes the version the
    failed try left pending instead of starting another."""
    return TaskCoordinates.from_context(context).as_dict(with_try=False)


@dataclass
class TaskRun:
    """The W&B run of one task instance, recorded on demand.

    ``begin`` creates it (state ``running``) where a version is about to be logged; ``use`` notes a
    version the task read (its project is the run's home when nothing else set one); ``end`` sends the
    final state (``finished`` or ``failed``) with the uses not yet declared, in one request. A task
    that never began its run and touched no version records nothing.
    """

    coordinates: TaskCoordinates
    enabled: bool = True
    run: WandbRun | None = None
    home: tuple[str, str] | None = None
    _used: dict[str, ArtifactVersion] = field(default_factory=dict)
    _declared: set[str] = field(default_factory=set)
    _logged: set[str] = field(default_factory=set)

    def _spec(self) -> dict[str, Any]:
        c = self.coordinates
        return {"job_type": _bounded(c.task_id), "group": c.group, "display_name": c.display_name,
                "config": c.as_dict()}

    def begin(self, client: WandbClient, entity: str | None, project: str) -> WandbRun | None:
        """Create (or resume) the run in ``entity/project``, declaring the uses seen so far (one request)."""
        if not self.active(client):
            return None
        if self.run is None:
            used = self._pending()
            self.run = client.upsert_run(entity, project, self.coordinates.wandb_run_id, used=used, **self._spec())
            self._declared.update(v.id for v in used)
            log.info("Recording this task as W&B run %s", self.run.url or self.run.path)
        return self.run

    def use(self, version: ArtifactVersion) -> None:
        """Note a version this task read (declared with the run's next request)."""
        if version.id in self._logged:
            return
        self._used.setdefault(version.id, version)
        from .client.paths import REGISTRY_PREFIX

        project = version.source_project or version.project
        if self.home is None and not project.startswith(REGISTRY_PREFIX):  # no run lives in a registry
            self.home = (version.source_entity or version.entity, project)

    def logged(self, version: ArtifactVersion) -> None:
        """Note a version this run produced: it is not also declared as used."""
        self._logged.add(version.id)
        self._used.pop(version.id, None)

    def follow_connection(self, record_runs: bool, deployment: str | None) -> None:
        """Apply the connection's extras: ``record_runs`` may switch recording off, and ``deployment``
        names this deployment in the run id (see ``deployment_identity``)."""
        self.enabled = self.enabled and record_runs
        if deployment and deployment != self.coordinates.deployment:
            self.coordinates = dataclasses.replace(self.coordinates, deployment=deployment)

    def active(self, client: WandbClient) -> bool:
        return self.enabled

    def _pending(self) -> list[ArtifactVersion]:
        return [v for key, v in self._used.items() if key not in self._declared and key not in self._logged]

    def end(self, client: WandbClient, *, failed: bool) -> None:
        """Send the final state (and undeclared uses) in one request. Never raises: a task's own
        outcome matters more than its record, so a failure here is logged; for a failed task it is
        given at most ``FAILED_RUN_DEADLINE`` seconds and one retry (W&B may be why it failed)."""
        if not self.active(client) or (self.run is None and self.home is None):
            return
        if not failed:
            self._end(client, failed=False)
            return

        from .client import WandbClient

        try:
            config = dataclasses.replace(client.config, deadline=min(client.config.deadline, FAILED_RUN_DEADLINE),
                                         max_retries=min(client.config.max_retries, 1))
            with WandbClient(config=config) as brief:
                self._end(brief, failed=True)
        except Exception as exc:  # best effort: never mask the task's outcome
            log.warning("Could not mark W&B run %s failed: %s", self.coordinates.wandb_run_id, exc)

    def _end(self, client: WandbClient, *, failed: bool) -> None:
        from .client.errors import WandbError
        from .client.errors import redact as scrub

        state = "failed" if failed else "finished"
        used = self._pending()
        try:
            self._record(client, failed, used)
        except WandbError as exc:
            if not used or exc.transient:
                log.warning("Could not mark W&B run %s %s: %s", self.coordinates.wandb_run_id, state,
                            scrub(str(exc)))
                return
            # A version the task deleted (or can no longer see) cannot be declared used: keep the state.
            log.warning("Could not declare the versions this task used on its W&B run (%s); recording its "
                        "state only.", scrub(str(exc)))
            self._end_without_uses(client, failed=failed)
        except Exception as exc:  # best effort: never mask the task's outcome
            log.warning("Could not mark W&B run %s %s: %s", self.coordinates.wandb_run_id, state, scrub(str(exc)))

    def _end_without_uses(self, client: WandbClient, *, failed: bool) -> None:
        from .client.errors import redact as scrub

        try:
            self._record(client, failed, [])
        except Exception as exc:  # best effort: never mask the task's outcome
            log.warning("Could not mark W&B run %s: %s", self.coordinates.wandb_run_id, scrub(str(exc)))

    def _record(self, client: WandbClient, failed: bool, used: list[ArtifactVersion]) -> None:
        if self.run is None:
            assert self.home is not None
            self.run = client.upsert_run(self.home[0], self.home[1], self.coordinates.wandb_run_id,
                                         state="failed" if failed else "finished", used=used, **self._spec())
        else:
            self.run = client.finish_run(self.run, failed=failed, used=used)
        self._declared.update(v.id for v in used)


class TaskRunHandle:
    """What ``task_run`` yields: the run, its client, and the two lineage verbs."""

    def __init__(self, client: WandbClient, recorder: TaskRun, context: Mapping[str, Any], entity: str | None,
                 project: str) -> None:
        self.client = client
        self._recorder = recorder
        self._context = context
        self._entity = entity
        self._project = project

    @property
    def run(self) -> WandbRun | None:
        """The W&B run (None when recording is off for this connection or call)."""
        return self._recorder.run

    def use(self, artifact: ArtifactVersion | str) -> ArtifactVersion:
        """Resolve ``artifact`` and declare it used by this task (sent with the run's final state)."""
        version = artifact if not isinstance(artifact, str) else self.client.artifact(artifact)
        self._recorder.use(version)
        return version

    def log_artifact(self, name: str, type: str, files: Any = None, **options: Any) -> ArtifactVersion:
        """``WandbClient.log_artifact`` as this task: created by its run, with ``metadata["airflow"]``."""
        from .client.errors import InvalidValueError

        metadata = options.pop("metadata", None)
        if isinstance(metadata, str):
            try:
                metadata = json.loads(metadata) if metadata.strip() else None
            except ValueError:
                raise InvalidValueError(f"metadata is not JSON: {metadata[:200]!r}.") from None
        if metadata is not None and not isinstance(metadata, Mapping):
            raise InvalidValueError(f"metadata must be a dict, not {metadata.__class__.__name__}.")
        if metadata is not None and PROVENANCE_KEY in metadata:
            raise InvalidValueError(f"metadata key {PROVENANCE_KEY!r} is where the Airflow task is recorded.",
                                    hint=f"Rename your key {PROVENANCE_KEY!r}.")
        metadata = {**(metadata or {}), PROVENANCE_KEY: provenance(self._context)}
        run = self._recorder.run
        options.setdefault("project", run.project if run else self._project)
        options.setdefault("entity", run.entity if run else self._entity)
        version = self.client.log_artifact(name, type, files, metadata=metadata, run=self._recorder.run, **options)
        self._recorder.logged(version)
        return version


@contextmanager
def task_run(project: str, *, entity: str | None = None, wandb_conn_id: str = "wandb_default",
             record_run: bool = True, context: Mapping[str, Any] | None = None) -> Iterator[TaskRunHandle]:
    """Record the current Airflow task (a ``@task`` function) as a W&B run in ``entity/project``.

    ::

        @task
        def featurize():
            with task_run("churn") as run:
                raw = run.use("acme/churn/raw:latest")
                run.client.download(raw, "/data/raw")
                ...
                run.log_artifact("features", "dataset", "/data/features")

    The run is created on entry (state ``running``), versions passed to ``use`` are declared used,
    versions logged through ``log_artifact`` are created by the run and carry ``metadata["airflow"]``;
    on exit the run is ``finished``, or ``failed`` if the block raised (the error is re-raised). Two
    GraphQL requests beyond the work itself.
    """
    from .hooks.wandb import WandbHook

    if context is None:
        from airflow.sdk import get_current_context

        context = get_current_context()
    recorder = TaskRun(TaskCoordinates.from_context(context), enabled=record_run)
    hook = WandbHook(wandb_conn_id=wandb_conn_id)
    with hook.get_client() as client:
        recorder.follow_connection(hook.record_runs, hook.deployment)  # the connection's extras, read with the client
        recorder.begin(client, entity, project)
        failed = True
        try:
            yield TaskRunHandle(client, recorder, context, entity, project)
            failed = False
        finally:
            if recorder.run is not None:
                recorder.end(client, failed=failed)
