"""Collections: linking a version into one (a registry or portfolio), unlinking it, and editing one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from . import _queries as q
from .errors import InvalidValueError, MalformedResponseError, NotFoundError
from .models import ArtifactVersion
from .paths import ArtifactPath

if TYPE_CHECKING:
    from ._reads import ArtifactRef, Reads


def link(reads: Reads, artifact: ArtifactRef, target: str, *, aliases: str | Sequence[str] = ()) -> ArtifactVersion:
    """``WandbClient.link``: one request, then the aliases checked on the answer (or a read of it)."""
    from ._aliases import check_alias_names
    from ._features import MEMBERSHIP_IN_LINK_RESPONSE
    from ._writes import strict_answer
    from .errors import AliasConflictError

    names = check_alias_names(aliases, "aliases")
    destination = reads.resolve_path(link_target(target))
    version = reads.version(artifact)
    what = f"link {version.qualified_name} into {destination}"
    answers_membership = reads.graphql.features.enabled(MEMBERSHIP_IN_LINK_RESPONSE)
    operation = q.LINK_ARTIFACT if answers_membership else q.LINK_ARTIFACT_INDEX
    data = reads.graphql.execute(operation, {"input": {
        "artifactID": version.id, "artifactPortfolioName": destination.name,
        "entityName": destination.entity, "projectName": destination.project,
        "aliases": [{"alias": a, "artifactCollectionName": destination.name} for a in names],
    }}, what=what)
    with strict_answer(what, operation.name):
        result = data["linkArtifact"]
        if answers_membership:
            membership = result["artifactMembership"]
            if membership is None:
                raise MalformedResponseError(
                    f"{what}: W&B's answer has no field 'linkArtifact.artifactMembership'.",
                    operation=operation.name)
            linked = ArtifactVersion.from_membership(membership, base_url=reads.config.base_url)
        else:
            index = result["versionIndex"]
            if not isinstance(index, int) or isinstance(index, bool):
                raise MalformedResponseError(f"{what}: W&B's answer has no field 'linkArtifact.versionIndex'.",
                                             operation=operation.name)
    if not answers_membership:  # an older W&B Server: read the new membership back
        linked = reads.artifact(f"{destination.entity}/{destination.project}/{destination.name}:v{index}")
    if missing := sorted(set(names) - set(linked.aliases)):
        raise AliasConflictError(
            f"{what}: linked as {linked.qualified_name}, but {missing} did not stay on it: another writer "
            "moved them at the same time.", hint="Check the target's aliases and link again if needed.",
        )
    return linked


def unlink(reads: Reads, artifact: ArtifactRef) -> None:
    """``WandbClient.unlink``: find the portfolio it was resolved through, then unlink (two requests)."""
    from ._writes import strict_answer

    version = reads.version(artifact)
    if not version.is_link:
        raise InvalidValueError(
            f"{version.qualified_name} is in the collection it was logged into, not a link.",
            hint="Resolve it through the linked collection (e.g. the registry path), or use delete().",
        )
    found = read_collection(reads, ArtifactPath(version.entity, version.project, version.name))
    with strict_answer(f"unlink {version.qualified_name}", q.COLLECTION.name):
        collection_id = str(found["id"])
    reads.graphql.execute(q.UNLINK_ARTIFACT, {"input": {"artifactID": version.id,
                                                        "artifactPortfolioID": collection_id}},
                          what=f"unlink {version.qualified_name}")


def read_collection(reads: Reads, path: ArtifactPath) -> dict[str, Any]:
    """The collection (sequence or portfolio) at ``path``, as W&B answers it."""
    from ._writes import strict_answer

    what = f"find collection {path.entity}/{path.project}/{path.name}"
    data = reads.graphql.execute(q.COLLECTION, {"entity": path.entity, "project": path.project,
                                                "collection": path.name}, what=what)
    with strict_answer(what, q.COLLECTION.name):
        node = (data.get("project") or {}).get("artifactCollection")
        if node is None:
            raise NotFoundError(f"{what}: it does not exist or this API key cannot see it.",
                                operation=q.COLLECTION.name)
        return dict(node)


def update_collection(
    reads: Reads,
    path: str | ArtifactPath,
    *,
    description: str | None = None,
    new_name: str | None = None,
    tags_add: str | Sequence[str] = (),
    tags_remove: str | Sequence[str] = (),
) -> dict[str, Any]:
    """``WandbClient.update_collection``: check, read, then only the writes that change something."""
    from ._metadata import check_tags
    from ._writes import strict_answer
    from .paths import check_name

    if description is not None and not isinstance(description, str):
        raise InvalidValueError(f"description must be text, not {type(description).__name__}.")
    if new_name is not None:
        if not isinstance(new_name, str):
            raise InvalidValueError(f"new_name must be text, not {type(new_name).__name__}.")
        check_name("collection", new_name)
    added, removed = check_tags(tags_add, "tags_add"), check_tags(tags_remove, "tags_remove")
    if both := sorted(set(added) & set(removed)):
        raise InvalidValueError(f"tags {both} are both added and removed.")
    target = reads.resolve_path(path)
    node = read_collection(reads, target)
    what = f"update collection {target}"
    with strict_answer(what, q.COLLECTION.name):
        current_tags = {e["node"]["name"] for e in node["tags"]["edges"]}
        name = str(node["name"])
        sequence = node["__typename"] == "ArtifactSequence"
        collection_id = node["id"]
    if (description is not None and description != node.get("description")) or (new_name and new_name != name):
        operation = q.UPDATE_SEQUENCE if sequence else q.UPDATE_PORTFOLIO
        id_key = "artifactSequenceID" if sequence else "artifactPortfolioID"
        data = reads.graphql.execute(operation, {"input": {
            id_key: collection_id, "name": new_name or name,
            "description": description if description is not None else node.get("description"),
        }}, what=what)
        with strict_answer(what, operation.name):
            node = next(iter(data.values()))["artifactCollection"]
            name = str(node["name"])
    where = {"entityName": target.entity, "projectName": target.project, "artifactCollectionName": name}
    if new_tags := [t for t in added if t not in current_tags]:
        reads.graphql.execute(q.ADD_COLLECTION_TAGS, {"input": {**where, "tags": [
            {"tagName": t} for t in new_tags]}}, what=f"tag collection {target}")
    if old_tags := [t for t in removed if t in current_tags]:
        reads.graphql.execute(q.DELETE_COLLECTION_TAGS, {"input": {**where, "tags": [
            {"tagName": t} for t in old_tags]}}, what=f"untag collection {target}")
    tags = (current_tags | set(added)) - set(removed)
    return {"entity": target.entity, "project": target.project, "name": name, "kind": node.get("__typename"),
            "description": node.get("description"), "tags": sorted(tags)}


def link_target(target: str) -> str:
    """A link target must name its project or registry: ``project/collection`` at least."""
    from .errors import InvalidArtifactPathError

    forms = "'project/collection', 'entity/project/collection' or '[org/]wandb-registry-NAME/collection'"
    if not isinstance(target, str) or not target.strip():
        raise InvalidArtifactPathError(f"link target {target!r} is empty; write {forms}.")
    if ":" in target:
        raise InvalidArtifactPathError(
            f"link target {target!r} names an alias; a target is a collection: {forms}.",
            hint="Pass aliases with aliases=[...].",
        )
    if "/" not in target:
        raise InvalidArtifactPathError(
            f"link target {target!r} names no project or registry, so W&B would create a collection in a "
            f"default project; write {forms}.",
        )
    return target
