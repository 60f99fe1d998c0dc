"""Lineage: which run logged a version, which versions a run used, and which runs used a version."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from . import _queries as q
from ._reads import PAGE_SIZE
from ._runs import as_run
from .errors import ArtifactNotFoundError, NotFoundError
from .models import ArtifactVersion, WandbRun

if TYPE_CHECKING:
    from ._reads import ArtifactRef, Reads


def producer(reads: Reads, artifact: ArtifactRef) -> WandbRun | None:
    """``WandbClient.producer``: the run that logged a version, or None (one request)."""
    version = reads.version(artifact)
    what = f"find the run that logged {version.qualified_name}"
    creator = creating_run(reads, q.ARTIFACT_PRODUCER, version, what)
    return None if creator is None else WandbRun.from_graphql(creator, base_url=reads.config.base_url)


def creating_run(reads: Reads, operation: q.Operation, version: ArtifactVersion,
                 what: str) -> dict[str, Any] | None:
    """``createdBy`` of ``version`` as ``operation`` selects it when a run created it, else None;
    a version gone meanwhile is ``ArtifactNotFoundError``, a malformed answer is typed."""
    from ._writes import strict_answer

    data = reads.graphql.execute(operation, {"id": version.id}, what=what)
    with strict_answer(what, operation.name):
        node = data["artifact"]
        if node is None:
            raise ArtifactNotFoundError(f"{what}: the version no longer exists.", operation=operation.name)
        creator = node.get("createdBy")
        return creator if creator and creator.get("__typename") == "Run" else None


def run_inputs(reads: Reads, run: WandbRun | Mapping[str, Any]) -> list[ArtifactVersion]:
    """``WandbClient.run_inputs``: every page of the run's ``inputArtifacts``."""
    from ._writes import strict_answer

    run = as_run(run)
    what = f"list the versions run {run.path} used"
    found: list[ArtifactVersion] = []
    cursor: str | None = None
    while True:
        data = reads.graphql.execute(q.RUN_INPUTS, {"entity": run.entity, "project": run.project,
                                                    "run": run.run_id, "cursor": cursor, "perPage": PAGE_SIZE},
                                     what=what)
        with strict_answer(what, q.RUN_INPUTS.name):
            node = (data.get("project") or {}).get("run")
            if node is None:
                raise NotFoundError(f"{what}: no such run.", operation=q.RUN_INPUTS.name)
            page = node["inputArtifacts"]
            found += [ArtifactVersion.from_graphql(e["node"], base_url=reads.config.base_url)
                      for e in page["edges"]]
            if not page["pageInfo"]["hasNextPage"] or not page["pageInfo"].get("endCursor"):
                return found
            cursor = page["pageInfo"]["endCursor"]


def lineage(reads: Reads, artifact: ArtifactRef) -> dict[str, Any]:
    """``WandbClient.lineage``: the run that logged a version and the runs that used it (one request)."""
    from ._writes import strict_answer

    version = reads.version(artifact)
    what = f"read the lineage of {version.qualified_name}"
    logged_by: WandbRun | None = None
    data = reads.graphql.execute(q.ARTIFACT_LINEAGE, {"id": version.id}, what=what)
    with strict_answer(what, q.ARTIFACT_LINEAGE.name):
        node = data["artifact"]
        if node is None:
            raise ArtifactNotFoundError(f"{what}: the version no longer exists.", operation=q.ARTIFACT_LINEAGE.name)
        creator = node.get("createdBy")
        if creator and creator.get("__typename") == "Run":
            logged_by = WandbRun.from_graphql(creator, base_url=reads.config.base_url)
        used_by = [WandbRun.from_graphql(e["node"], base_url=reads.config.base_url)
                   for e in node["usedBy"]["edges"]]
    return {"logged_by": logged_by, "used_by": used_by}
