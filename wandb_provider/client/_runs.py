"""Runs: recording a W&B run (created or updated, then finished) and the versions it used."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from . import _queries as q
from .errors import InvalidValueError
from .models import ArtifactVersion, WandbRun

if TYPE_CHECKING:
    from ._reads import ArtifactRef, Reads

RUN_STATES = ("running", "finished", "failed")
_RUN_ID_FORBIDDEN = set("/\\#?%:")


def upsert_run(
    reads: Reads,
    entity: str | None,
    project: str,
    run_id: str,
    *,
    job_type: str | None = None,
    group: str | None = None,
    config: Mapping[str, Any] | None = None,
    display_name: str | None = None,
    state: str = "running",
    used: Sequence[ArtifactVersion] = (),
) -> WandbRun:
    """``WandbClient.upsert_run``: every value checked, then one upsert (and one request per use)."""
    import json as jsonlib

    from ._metadata import check_metadata
    from .paths import check_entity, check_project

    check_texts(project=project, entity=entity)
    check_project(project)
    if entity is not None:
        check_entity(entity)
    check_run_id(run_id)
    for label, value in (("job_type", job_type), ("group", group), ("display_name", display_name)):
        if value is not None and (not isinstance(value, str) or len(value) > 128):
            raise InvalidValueError(f"{label} must be text of at most 128 characters, not {value!r}.")
    values = check_metadata(config) if config is not None else None
    check_state(state)
    entity = entity or reads.default_entity()
    spec: dict[str, Any] = {"name": run_id, "entityName": entity, "modelName": project, "state": state}
    optional = {"jobType": job_type, "groupName": group, "displayName": display_name,
                "config": jsonlib.dumps({k: {"value": v, "desc": None} for k, v in values.items()})
                if values is not None else None}
    spec.update({k: v for k, v in optional.items() if v is not None})
    return upsert_bucket(reads, spec, used, f"record run {entity}/{project}/{run_id}")


def finish_run(reads: Reads, run: WandbRun | Mapping[str, Any], *, failed: bool,
               used: Sequence[ArtifactVersion] = ()) -> WandbRun:
    """``WandbClient.finish_run``: the run's final state, with any ``used`` versions declared."""
    run = as_run(run)
    if not isinstance(failed, bool):
        raise InvalidValueError(f"finish_run needs failed=True or False, not {failed!r}.")
    state = "failed" if failed else "finished"
    return upsert_bucket(reads, {"name": run.run_id, "entityName": run.entity, "modelName": run.project,
                                 "state": state}, used, f"mark run {run.path} {state}")


def upsert_bucket(reads: Reads, spec: dict[str, Any], used: Sequence[ArtifactVersion], what: str) -> WandbRun:
    """``upsertBucket`` with ``spec`` (a run is a bucket in W&B's API), then ``useArtifact`` for each used version."""
    from ._writes import strict_answer

    versions = list({v.id: v for v in used}.values())
    if any(not isinstance(v, ArtifactVersion) for v in versions):
        raise InvalidValueError("used must hold resolved ArtifactVersion objects.")
    # One mutation per request, as the SDK sends them: the run first, then each use. A use that
    # fails leaves the run recorded; calling again is safe (both writes are idempotent).
    names = {"entityName": "entity", "modelName": "project"}
    variables = {names.get(key, key): value for key, value in spec.items()}
    data = reads.graphql.execute(q.UPSERT_RUN, variables, what=what)
    with strict_answer(what, q.UPSERT_RUN.name):
        run = WandbRun.from_graphql(data["upsertBucket"]["bucket"], base_url=reads.config.base_url)
    for version in versions:
        reads.graphql.execute(q.USE_ARTIFACT, {"input": {
            "entityName": spec["entityName"], "projectName": spec["modelName"], "runName": spec["name"],
            "artifactID": version.id,
        }}, what=f"{what}: record that it used {version.qualified_name}")
    return run


def use_artifact(reads: Reads, run: WandbRun | Mapping[str, Any], artifact: ArtifactRef) -> ArtifactVersion:
    """``WandbClient.use_artifact``: one ``useArtifact`` request."""
    run = as_run(run)
    version = reads.version(artifact)
    reads.graphql.execute(q.USE_ARTIFACT, {"input": {
        "entityName": run.entity, "projectName": run.project, "runName": run.run_id, "artifactID": version.id,
    }}, what=f"record that run {run.path} used {version.qualified_name}")
    return version


def as_run(run: Any) -> WandbRun:
    """A ``WandbRun``, or its ``to_dict()`` (as it comes back from an XCom)."""
    from .paths import check_entity, check_project

    if isinstance(run, Mapping) and {"entity", "project", "run_id"} <= set(run):
        run = WandbRun(entity=str(run["entity"]), project=str(run["project"]), run_id=str(run["run_id"]),
                       id=str(run.get("id") or ""))
    if not isinstance(run, WandbRun):
        raise InvalidValueError(f"run must be a WandbRun from upsert_run() (or its to_dict()), not {run!r}.")
    check_entity(run.entity)
    check_project(run.project)
    check_run_id(run.run_id)
    return run


def check_state(state: Any) -> str:
    """One of ``RUN_STATES``."""
    if state not in RUN_STATES:
        raise InvalidValueError(f"a run's state must be one of {RUN_STATES}, not {state!r}.")
    return str(state)


def check_run_id(run_id: str) -> str:
    """W&B run ids: 1-128 characters, none of ``/ \\ # ? % :``, no whitespace or control characters."""
    if not isinstance(run_id, str) or not run_id or len(run_id) > 128 or set(run_id) & _RUN_ID_FORBIDDEN \
            or any(c.isspace() or not c.isprintable() for c in run_id):
        raise InvalidValueError(f"invalid W&B run id {run_id!r}: 1-128 characters without spaces or / \\ # ? % :.",
                                hint="Derive it from letters, digits, '-', '_' and '.'.")
    return run_id


def check_texts(**values: Any) -> None:
    """Names that must be text when given (a number from a template would otherwise fail deep inside)."""
    for label, value in values.items():
        if value is not None and not isinstance(value, str):
            raise InvalidValueError(f"{label} must be text, not {value!r}.")
