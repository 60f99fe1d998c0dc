"""Runs: what ``wandb.init`` upserts, run files, and run-side lineage."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLResolveInfo

from ..store.records import Run
from ._common import Resolver, attr, connection, ctx, decode_id, gid


def resolve_upsert_bucket(_: Any, info: GraphQLResolveInfo, input: dict[str, Any]) -> dict[str, Any]:
    run, inserted = ctx(info).store.runs.upsert_run(ctx(info).user, input)
    return {"bucket": run, "inserted": inserted}


def resolve_stop_run(_: Any, info: GraphQLResolveInfo, input: dict[str, Any]) -> dict[str, Any]:
    return {"success": True}


def resolve_create_run_files(_: Any, info: GraphQLResolveInfo, input: dict[str, Any]) -> dict[str, Any]:
    store = ctx(info).store
    project = store.accounts.get_project(ctx(info).user, input["entityName"], input["projectName"])
    store.accounts.require_write(ctx(info).user, project, "upload run files")
    run = store.runs.run_by_name(project.id, input["runName"])
    if run is None:
        from ..errors import NotFound

        raise NotFound(f"run {input['runName']!r} not found in {input['entityName']}/{input['projectName']}")
    return {
        "runID": gid("Run")(run, info),
        "uploadHeaders": [],
        "files": [{"name": name, "uploadUrl": ctx(info).urls.run_file_upload(run.id, name)}
                  for name in input["files"]],
    }


def resolve_use_artifact(_: Any, info: GraphQLResolveInfo, input: dict[str, Any]) -> dict[str, Any]:
    artifact_id = decode_id(input["artifactID"], "Artifact")
    version = ctx(info).store.runs.use_artifact(
        ctx(info).user, input["entityName"], input["projectName"], input["runName"], artifact_id,
        input.get("usedAs"),
    )
    return {"artifact": version}


def _inputs(run: Run, info: GraphQLResolveInfo, after: str | None = None, first: int | None = None) -> Any:
    return connection(ctx(info).store.runs.run_inputs(run.id), after, first)


def _outputs(run: Run, info: GraphQLResolveInfo, after: str | None = None, first: int | None = None) -> Any:
    return connection(ctx(info).store.runs.run_outputs(run.id), after, first)


RESOLVERS: dict[str, dict[str, Resolver]] = {
    "Mutation": {
        "upsertBucket": resolve_upsert_bucket,
        "stopRun": resolve_stop_run,
        "createRunFiles": resolve_create_run_files,
        "useArtifact": resolve_use_artifact,
    },
    "Run": {
        "id": gid("Run"),
        "projectId": lambda r, info: str(r.project_id),
        "name": attr("name"),
        "group": attr("group_name"),
        "jobType": attr("job_type"),
        "commit": lambda r, info: None,
        "readOnly": lambda r, info: False,
        "createdAt": attr("created_at"),
        "heartbeatAt": attr("created_at"),
        "systemMetrics": lambda r, info: "{}",
        "historyKeys": lambda r, info: '{"keys": {}, "lastStep": 0}',
        "user": lambda r, info: ctx(info).store.accounts.user(r.user_id) if r.user_id else None,
        "displayName": attr("display_name"),
        "description": lambda r, info: None,
        "notes": lambda r, info: None,
        "state": attr("state"),
        "config": lambda r, info: r.config or "{}",
        "summaryMetrics": lambda r, info: r.summary or "{}",
        "sweepName": lambda r, info: None,
        "tags": lambda r, info: [],
        "historyLineCount": lambda r, info: 0,
        "logLineCount": lambda r, info: 0,
        "eventsLineCount": lambda r, info: 0,
        "historyTail": lambda r, info: "[]",
        "eventsTail": lambda r, info: "[]",
        "wandbConfig": lambda r, info, keys=None: "{}",
        "project": lambda r, info: ctx(info).store.accounts.project(r.project_id),
        "inputArtifacts": _inputs,
        "outputArtifacts": _outputs,
    },
}
