"""Alias moves on one version: checked, decided on one read, written, read back, and undone on a race.

The rules and the plan (pure) are ``_aliases``; this module sends the requests. W&B has no
compare-and-set, so a move is read, write, read back (``_writes.settle``): a race seen in the read-back
puts back what this call moved, unless someone moved it since, and says so.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from . import _queries as q
from .errors import ArtifactNotFoundError, WandbError
from .models import ArtifactVersion
from .paths import ArtifactPath

if TYPE_CHECKING:
    from ._aliases import AliasRequest
    from ._reads import ArtifactRef, Reads
    from .gates import GateReport
    from .models import AliasChange


def update_aliases(
    reads: Reads,
    artifact: ArtifactRef,
    *,
    add: str | Sequence[str] = (),
    remove: str | Sequence[str] = (),
    only_if_current: Mapping[str, str | None] | None = None,
    require: Mapping[str, Any] | None = None,
    on_missing: str = "fail",
) -> AliasChange:
    """``WandbClient.update_aliases``: check, one read, decide, write, read back (undo on a race)."""
    import time

    from ._aliases import AliasRequest, check_gate, plan
    from ._writes import settle

    request = AliasRequest.of(add, remove, only_if_current, require, on_missing)
    started = time.monotonic()
    version, holders, holder_ids = version_and_holders(reads, artifact, request.watched)
    check_gate(request, version, gate_report(reads, version, request))
    change = plan(request, version, holders)
    if not change.changed:
        return change
    write_aliases(reads, version, version.id, change.added, add=True)
    try:
        write_aliases(reads, version, version.id, change.removed, add=False)
    except WandbError as exc:  # e.g. a protected alias: take back what was added, then say why
        if change.added:
            added_only = dataclasses.replace(change, removed=())
            exc.message += " " + undo_aliases(
                reads, added_only, {**holders, **dict.fromkeys(change.added, version.version)}, holder_ids)
        raise
    settle(time.monotonic() - started)
    return confirm_aliases(reads, request, change, holder_ids)


def gate_report(reads: Reads, version: ArtifactVersion, request: AliasRequest) -> GateReport | None:
    """The decided gate when it reads runs or other versions (None: metadata alone decides)."""
    from ._gate_reads import evaluate_gate
    from .gates import reads as gate_reads

    if not request.gate or not gate_reads(request.gate).any:
        return None
    return evaluate_gate(reads, version, request.gate, on_missing=request.on_missing)


def write_aliases(reads: Reads, seen: ArtifactVersion, artifact_id: str, aliases: Sequence[str], *, add: bool) -> None:
    """Add (or remove) ``aliases`` on the version ``artifact_id`` in the collection ``seen`` belongs to."""
    if not aliases:
        return
    target = {"artifactCollectionName": seen.name, "entityName": seen.entity, "projectName": seen.project}
    operation = q.ADD_ALIASES if add else q.DELETE_ALIASES
    what = f"{'add' if add else 'remove'} aliases {list(aliases)} in {seen.entity}/{seen.project}/{seen.name}"
    reads.graphql.execute(operation, {"input": {"artifactID": artifact_id, "aliases": [
        {"alias": a, **target} for a in aliases]}}, what=what)


def confirm_aliases(reads: Reads, request: AliasRequest, change: AliasChange,
                    holder_ids: dict[str, str | None]) -> AliasChange:
    """Read back after an alias write; on a race, undo what we moved and raise ``AliasConflictError``."""
    from ._aliases import races
    from .errors import AliasConflictError

    version = change.artifact
    try:
        now, holders, _ = version_and_holders(reads, pinned(version), request.watched)
    except ArtifactNotFoundError:
        raise AliasConflictError(
            f"moved aliases {list(change.added + change.removed)} of {version.qualified_name}, but the version "
            "can no longer be found: another writer deleted it meanwhile.",
            hint="Resolve the artifact again and decide again.",
        ) from None
    problems = races(request, now, holders)
    if not problems:
        return dataclasses.replace(change, artifact=now, after=holders)
    undone = undo_aliases(reads, change, holders, holder_ids)
    raise AliasConflictError(
        f"another writer raced this alias change on {version.qualified_name}: " + "; ".join(problems)
        + f". {undone}",
        hint="W&B has no compare-and-set; resolve the artifact again and decide again.",
    )


def undo_aliases(reads: Reads, change: AliasChange, holders: dict[str, str | None],
                 holder_ids: dict[str, str | None]) -> str:
    """Put the aliases ``change`` moved back where they were, unless another writer has moved them
    since (best effort); say what was done and where they are now."""
    version = change.artifact
    notes: list[str] = []
    try:
        for alias in change.added:
            previous, previous_id = change.before.get(alias), holder_ids.get(alias)
            if holders.get(alias) != version.version:
                notes.append(f"left {alias!r} on {holders.get(alias) or 'no version'}, where another writer put it")
            elif previous and previous_id:
                write_aliases(reads, version, previous_id, [alias], add=True)
                notes.append(f"put {alias!r} back on {previous}")
            else:
                write_aliases(reads, version, version.id, [alias], add=False)
                notes.append(f"took {alias!r} off {version.version} again")
        for alias in change.removed:
            if holders.get(alias) is None:
                write_aliases(reads, version, version.id, [alias], add=True)
                notes.append(f"put {alias!r} back on {version.version}")
        moved = list(change.added + change.removed)
        _, final, _ = version_and_holders(reads, pinned(version), moved)
        notes.append("now " + ", ".join(f"{a!r} is on {final[a] or 'no version'}" for a in moved))
    except WandbError as exc:
        notes.append(f"could not finish putting the aliases back ({exc.message}); check them")
    return ("Undo: " + "; ".join(notes) + ".") if notes else ""


def pinned(version: ArtifactVersion) -> ArtifactPath:
    """The path of exactly this version in the collection it was seen through."""
    return ArtifactPath(version.entity, version.project, version.name, version.version)


def version_and_holders(
    reads: Reads, artifact: ArtifactRef | ArtifactPath, aliases: Sequence[str]
) -> tuple[ArtifactVersion, dict[str, str | None], dict[str, str | None]]:
    """One request: a version (with its metadata, for a gate) and, for each alias, which version of
    its collection holds it (``vN`` or None) and that version's artifact id."""
    from ._writes import strict_answer

    target = pinned(artifact) if isinstance(artifact, ArtifactVersion) else reads.resolve_path(artifact)
    operation = q.artifact_with_alias_holders(len(aliases))
    variables: dict[str, Any] = {"entity": target.entity, "project": target.project,
                                 "name": target.membership_name, "collection": target.name}
    variables.update({f"h{i}": alias for i, alias in enumerate(aliases)})
    what = f"resolve artifact {str(target)!r}"
    data = reads.graphql.execute(operation, variables, what=what)
    with strict_answer(what, operation.name):
        project = data.get("project")
        membership = (project or {}).get("artifactCollectionMembership")
        if membership is None or membership.get("artifact") is None:
            raise ArtifactNotFoundError(
                f"{what}: no version of {target.name!r} in {target.entity}/{target.project} has alias or "
                f"version {target.alias or 'latest'!r}.", operation=operation.name,
                hint="Check the collection name and alias; client.versions() lists what exists.",
            )
        version = ArtifactVersion.from_membership(membership, base_url=reads.config.base_url)
        slots = (project or {}).get("artifactCollection") or {}
        holders: dict[str, str | None] = {}
        holder_ids: dict[str, str | None] = {}
        for i, alias in enumerate(aliases):
            holder = slots.get(f"h{i}")
            index = holder["versionIndex"] if holder else None
            if holder and (not isinstance(index, int) or isinstance(index, bool)):
                raise TypeError(f"alias {alias!r} is held by versionIndex {index!r}")
            holders[alias] = f"v{index}" if holder else None
            holder_ids[alias] = str(holder["artifact"]["id"]) if holder else None
    return version, holders, holder_ids
