"""Deletes and TTLs: what W&B may remove, decided on a fresh read of what claims the version.

A TTL is a delete on a timer, so ``set_ttl`` and ``delete_if_unclaimed`` share one set of rules
(``claim_refusal``): a protected alias, an alias the caller did not agree to lose, a link into another
collection or a state other than COMMITTED keeps the version (README, "Safety").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from . import _queries as q
from ._alias_moves import pinned, version_and_holders, write_aliases
from .errors import ArtifactNotFoundError, InvalidValueError, WandbError
from .models import TTL, DeleteOutcome, TTLChange
from .paths import PREVIOUS_PREFIX

if TYPE_CHECKING:
    from ._reads import ArtifactRef, Reads
    from .models import ArtifactVersion


def delete(reads: Reads, artifact: ArtifactRef, *, delete_aliases: bool = False) -> None:
    """``WandbClient.delete``: a soft delete, as W&B does."""
    if not isinstance(delete_aliases, bool):
        raise InvalidValueError(f"delete_aliases must be True or False, not {delete_aliases!r}.")
    version = reads.version(artifact)
    reads.graphql.execute(q.DELETE_ARTIFACT, {"input": {"artifactID": version.id,
                                                        "deleteAliases": delete_aliases}},
                          what=f"delete {version.qualified_name}")


def set_ttl(reads: Reads, artifact: ArtifactRef, ttl: TTL, *, may_drop: str | Sequence[str] = (),
            protected_aliases: str | Sequence[str] = ()) -> TTLChange:
    """``WandbClient.set_ttl``: read, refuse what a delete would refuse, write, read back."""
    import time

    from ._ttl import check_ttl, ttl_from_wire, ttl_to_wire
    from ._writes import settle, strict_answer
    from .errors import MetadataConflictError

    wanted = check_ttl(ttl)
    rules = claim_rules(may_drop, protected_aliases)
    version = reads.version(artifact)
    if version.is_link:
        raise InvalidValueError(
            f"set the TTL of {version.qualified_name}: it is a link; W&B keeps a TTL on the source version.",
            hint=f"Pass the source version, {version.source_entity}/{version.source_project}/"
                 f"{version.source_name}:{version.source_version}.")
    started = time.monotonic()
    before = ttl_of(reads, version)
    if before == wanted:
        return TTLChange(version, before, before, changed=False)
    what = f"set the TTL of {version.qualified_name}"
    if wanted is not None:
        refusal = unclaimed(reads, version, rules)
        if refusal is not None:
            raise InvalidValueError(
                f"{what} to {wanted!r}: refused, {refusal}; when its TTL ran out W&B would delete it.",
                hint="Move the alias off it first, or name the aliases it may lose with it (may_drop / "
                     "drop_aliases); a protected alias always keeps its version.")
    data = reads.graphql.execute(q.UPDATE_ARTIFACT_TTL, {"input": {
        "artifactID": version.id, "ttlDurationSeconds": ttl_to_wire(wanted)}}, what=what)
    with strict_answer(what, q.UPDATE_ARTIFACT_TTL.name):
        ttl_from_wire(data["updateArtifact"]["artifact"])
    settle(time.monotonic() - started)
    after = ttl_of(reads, version)
    if after != wanted:
        raise MetadataConflictError(
            f"{what} to {wanted!r}: read back {after!r}; another writer changed it at the same time.",
            hint="W&B has no compare-and-set; re-run to write it again.")
    return TTLChange(version, before, after, changed=True)


def ttl_of(reads: Reads, version: ArtifactVersion) -> TTL:
    """The version's TTL as W&B has it now (one request)."""
    from ._ttl import ttl_from_wire
    from ._writes import strict_answer

    what = f"read the TTL of {version.qualified_name}"
    data = reads.graphql.execute(q.ARTIFACT_TTL, {"id": version.id}, what=what)
    with strict_answer(what, q.ARTIFACT_TTL.name):
        node = data.get("artifact")
        if node is None or node["state"] == "DELETED":
            raise ArtifactNotFoundError(f"{what}: the version no longer exists.", operation=q.ARTIFACT_TTL.name)
        return ttl_from_wire(node)


def delete_if_unclaimed(
    reads: Reads,
    artifact: ArtifactRef,
    *,
    may_drop: str | Sequence[str] = (),
    protected_aliases: str | Sequence[str] = (),
    dry_run: bool = False,
) -> DeleteOutcome:
    """``WandbClient.delete_if_unclaimed``: re-read, decide by the claim rules, then delete or unlink."""
    from .errors import ProtectedAliasError

    rules = claim_rules(may_drop, protected_aliases)
    version = reads.version(artifact)
    name = version.qualified_name
    claims = read_claims(reads, version)
    if claims is None:
        return DeleteOutcome(name, "gone", "no longer in the collection: deleted or unlinked by someone else")
    _, here, _, collection_id = claims
    refusal = claim_refusal(version, claims, *rules)
    if refusal is not None:
        return DeleteOutcome(name, "kept", refusal)
    if dry_run:
        return DeleteOutcome(name, "would_unlink" if version.is_link else "would_delete", "")
    try:
        if version.is_link:
            reads.graphql.execute(q.UNLINK_ARTIFACT, {"input": {
                "artifactID": version.id, "artifactPortfolioID": collection_id}}, what=f"unlink {name}")
            return DeleteOutcome(name, "unlinked", "")
        dropped = [a for a in here if a != "latest"]
        write_aliases(reads, version, version.id, dropped, add=False)
        try:
            reads.graphql.execute(q.DELETE_ARTIFACT, {"input": {
                "artifactID": version.id, "deleteAliases": "latest" in here}}, what=f"delete {name}")
        except WandbError as exc:
            restore_dropped(reads, version, dropped)
            if type(exc) is not InvalidValueError:
                raise
            return DeleteOutcome(name, "kept", f"W&B refused to delete it (it gained an alias?): {exc.message}")
    except ProtectedAliasError as exc:
        return DeleteOutcome(name, "kept", f"it holds a protected alias: {exc.message}")
    return DeleteOutcome(name, "deleted", "")


def unclaimed(reads: Reads, version: ArtifactVersion, rules: tuple[set[str], set[str]]) -> str | None:
    """Why ``version`` may not be deleted now (re-read), or None (see ``delete_if_unclaimed``)."""
    claims = read_claims(reads, version)
    if claims is None:
        raise ArtifactNotFoundError(f"re-check {version.qualified_name}: it is no longer in its collection.")
    return claim_refusal(version, claims, *rules)


def read_claims(reads: Reads, version: ArtifactVersion) -> tuple[str, list[str], list[str], str] | None:
    """``(state, aliases here, other collections, this collection's id)``; None when it is no longer
    a member of the collection it was seen through."""
    from ._writes import strict_answer
    from .paths import is_version

    what = f"re-check {version.qualified_name} before deleting it"
    data = reads.graphql.execute(q.ARTIFACT_CLAIMS, {"id": version.id}, what=what)
    with strict_answer(what, q.ARTIFACT_CLAIMS.name):
        node = data.get("artifact")
        if node is None or node["state"] == "DELETED":
            return None

        def where(collection: Any) -> str:
            project = collection["project"]
            return f"{project['entity']['name']}/{project['name']}/{collection['name']}"

        target = f"{version.entity}/{version.project}/{version.name}"
        memberships = node["artifactMemberships"]
        collections = [edge["node"]["artifactCollection"] for edge in memberships["edges"]]
        mine = [c for c in collections if where(c) == target]
        if not mine:
            return None
        elsewhere = sorted({where(c) for c in collections} - {target})
        # An alias whose collection W&B does not name counts as held here: it keeps the version.
        here = sorted({a["alias"] for a in node["aliases"] if not is_version(a["alias"])
                       and (a.get("artifactCollection") is None or where(a["artifactCollection"]) == target)})
        return str(node["state"]), here, elsewhere, str(mine[0]["id"])


def restore_dropped(reads: Reads, version: ArtifactVersion, dropped: list[str]) -> None:
    """Best effort: put back aliases removed before a delete W&B then refused, where nobody took them."""
    if not dropped:
        return
    try:
        _, holders, _ = version_and_holders(reads, pinned(version), dropped)
        write_aliases(reads, version, version.id, [a for a in dropped if holders[a] is None], add=True)
    except WandbError:
        pass


def claim_rules(may_drop: str | Sequence[str], protected_aliases: str | Sequence[str]) -> tuple[set[str], set[str]]:
    """``(aliases the caller agrees to lose, protected aliases)``, checked before any request."""
    from ._aliases import check_alias_names
    from .rules import name_list

    droppable = set(name_list(may_drop, "may_drop"))
    protected = set(check_alias_names([a for a in name_list(protected_aliases, "protected_aliases")
                                       if a != "latest"], "protected_aliases"))
    return droppable, protected


def claim_refusal(version: ArtifactVersion, claims: tuple[str, list[str], list[str], str],
                  droppable: set[str], protected: set[str]) -> str | None:
    """What keeps ``version`` from being deleted (now, or by a TTL): the one set of rules of
    ``delete_if_unclaimed`` and ``set_ttl``; None when nothing claims it."""
    from .paths import REGISTRY_PREFIX

    state, here, elsewhere, _ = claims
    if state != "COMMITTED":
        return f"it is {state}"
    if version.project.startswith(REGISTRY_PREFIX):
        protected = protected | {a for a in here if a != "latest"}
    protected = protected | {a for a in here if a.startswith(PREVIOUS_PREFIX)}  # a rollback's target
    if held := sorted(set(here) & protected):
        return f"it holds protected alias(es) {held}"
    if extra := sorted(set(here) - {"latest"} - droppable):
        return f"it holds alias(es) {extra}"
    if elsewhere and not version.is_link:
        return f"it is linked into {elsewhere}; deleting it would remove it there too"
    return None
