"""Promotion and rollback of an alias as one decided step, with an audit record on the version.

A promotion resolves the candidate and the version holding the alias now (none is fine), decides
the gate (``gates``: metadata, run and relative terms), moves the alias with the compare-and-set
guard ``only_if_current={alias: <the holder it resolved>}``, gives the replaced version the
``previous-<alias>`` alias (so a rollback knows where to go, and retention never deletes it), and
records who promoted it under ``metadata["promotion"]`` in one merge write. A rollback moves the
alias back to the holder of ``previous-<alias>`` with the same guard and record.

Re-running either is safe: a candidate that already holds the alias is reported as
``already_promoted`` and nothing moves.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import InvalidValueError
from .paths import PREVIOUS_PREFIX, ArtifactPath

if TYPE_CHECKING:
    from .client import WandbClient
    from .gates import GateReport
    from .models import ArtifactVersion

PROMOTION_KEY = "promotion"
PROMOTED, ALREADY_PROMOTED, REFUSED = "promoted", "already_promoted", "refused"
ROLLED_BACK, ALREADY_ROLLED_BACK = "rolled_back", "already_rolled_back"


def previous_alias_for(alias: str) -> str:
    """``previous-production`` for ``production``: where the replaced version is kept."""
    return f"{PREVIOUS_PREFIX}{alias}"


def brief(version: ArtifactVersion | None) -> dict[str, Any] | None:
    """The few fields of a version a report and an audit record name."""
    if version is None:
        return None
    return {"qualified_name": version.qualified_name, "version": version.version, "id": version.id,
            "digest": version.digest, "aliases": list(version.aliases), "url": version.url}


@dataclass(frozen=True)
class Plan:
    """What a promotion would do, decided on one read: the candidate, the holder and the gate."""

    alias: str
    candidate: ArtifactVersion
    holder: ArtifactVersion | None
    gate: GateReport
    if_no_holder: str
    rolled_back: str | None = None  # why the candidate is refused: the alias was rolled back from it

    @property
    def already_promoted(self) -> bool:
        return self.holder is not None and self.holder.id == self.candidate.id

    @property
    def passed(self) -> bool:
        return self.already_promoted or (self.gate.passed and self.rolled_back is None)

    def report(self, decision: str, **extra: Any) -> dict[str, Any]:
        """The JSON-safe report: both versions, every gate term with both values, the decision."""
        relative_skipped = [t.key for t in self.gate.terms
                            if not t.applied and t.holder and t.holder["version"] is None]
        notes = []
        if relative_skipped:
            notes.append(f"no version holds {self.alias!r}: relative terms {relative_skipped} were not applied "
                         f"(if_no_holder={self.if_no_holder!r}); only the absolute terms decided")
        if self.already_promoted:
            notes.append(f"{self.candidate.qualified_name} already holds {self.alias!r}: nothing to move")
        if self.rolled_back:
            notes.append(self.rolled_back)
        return {"decision": decision, "alias": self.alias,
                "collection": f"{self.candidate.entity}/{self.candidate.project}/{self.candidate.name}",
                "candidate": brief(self.candidate), "holder": brief(self.holder), "gate": self.gate.to_dict(),
                "notes": notes, **extra}


def plan(client: WandbClient, candidate: str | ArtifactVersion, alias: str, require: Any, *,
         if_no_holder: str = "pass", on_missing: str = "fail", allow_rolled_back: bool = False) -> Plan:
    """Resolve the candidate and the holder of ``alias`` and decide the gate; nothing is written."""
    from ._aliases import check_alias_names
    from .gates import GateReport

    check_alias_names([alias], "alias")
    version = candidate if not isinstance(candidate, str) else client.artifact(candidate)
    holder = client.alias_holder(version, alias)
    if holder is not None and holder.id == version.id:
        gate = GateReport(passed=True, terms=())  # decided when it was promoted (see its audit record)
    else:
        gate = client.evaluate_gate(version, require, if_no_holder=if_no_holder, holders={alias: holder},
                                    on_missing=on_missing)
    rolled_back = None if allow_rolled_back else _rolled_back_from(holder, version, alias)
    return Plan(alias=alias, candidate=version, holder=holder, gate=gate, if_no_holder=if_no_holder,
                rolled_back=rolled_back)


def _rolled_back_from(holder: ArtifactVersion | None, candidate: ArtifactVersion, alias: str) -> str | None:
    """Why ``candidate`` must not be promoted again: the holder's audit record says ``alias`` was
    rolled back from it (a nightly run would otherwise promote the bad version again)."""
    record = holder.metadata.get(PROMOTION_KEY) if holder is not None else None
    if not isinstance(record, Mapping) or record.get("action") != "rollback" or record.get("alias") != alias:
        return None
    previous = record.get("previous")
    if not isinstance(previous, Mapping) or previous.get("id") != candidate.id:
        return None
    by = record.get("by") or {}
    who = by.get("user") or by.get("dag_id") or "someone"
    return (f"{alias!r} was rolled back from {candidate.qualified_name} at {record.get('at')} by {who}; "
            "promote a new version, or pass allow_rolled_back=True to promote it again")


def _record(action: str, alias: str, replaced: ArtifactVersion | None, previous_alias: str | None,
            actor: Mapping[str, Any], gate: GateReport | None) -> dict[str, Any]:
    """One audit record; every key always present, so a merge write replaces a record as a whole."""
    return {
        "action": action, "alias": alias,
        "at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "by": {key: actor.get(key) for key in ("dag_id", "run_id", "task_id", "try_number", "approver", "user",
                                                 "tool")},
        "previous": None if replaced is None else {"version": replaced.version, "id": replaced.id,
                                                   "qualified_name": replaced.qualified_name},
        "previous_alias": previous_alias,
        "gate": [] if gate is None else [term.describe() for term in gate.terms],
    }


def promote(client: WandbClient, decided: Plan, *, previous_alias: str | None, actor: Mapping[str, Any],
            link_to: str | None = None) -> dict[str, Any]:
    """Carry out a plan whose gate passed: move the alias (guarded by the holder the plan resolved),
    keep the replaced version as ``previous_alias``, write the audit record, optionally link into a
    registry. Returns the report (``changed`` False on a re-run)."""
    from ._aliases import metadata_terms

    if not decided.passed:
        raise InvalidValueError(f"the gate refused {decided.candidate.qualified_name}: "
                                f"{decided.rolled_back or decided.gate.describe()}.")
    alias, holder = decided.alias, decided.holder
    changed = False
    candidate = decided.candidate
    if not decided.already_promoted:
        guard = {alias: holder.version if holder is not None else None}
        gate = {k: v for k, v in _raw_gate(decided).items()}
        change = client.update_aliases(candidate, add=[alias], only_if_current=guard,
                                       require=metadata_terms(gate) or None, on_missing="skip")
        candidate, changed = change.artifact, change.changed
    replaced = holder if not decided.already_promoted else _recorded_previous(client, candidate)
    if previous_alias and replaced is not None and previous_alias not in replaced.aliases:
        client.update_aliases(replaced, add=[previous_alias])
    if changed or PROMOTION_KEY not in candidate.metadata:
        record = _record("promote", alias, replaced, previous_alias, actor, decided.gate)
        candidate = client.update(candidate, metadata={PROMOTION_KEY: record})
    linked = client.link(candidate, link_to, aliases=[alias]) if link_to else None
    return decided.report(PROMOTED if changed else ALREADY_PROMOTED, changed=changed,
                          previous_alias=previous_alias if replaced is not None else None,
                          audit=candidate.metadata.get(PROMOTION_KEY), candidate_after=brief(candidate),
                          linked=brief(linked))


def _raw_gate(decided: Plan) -> dict[str, dict[str, Any]]:
    gate: dict[str, dict[str, Any]] = {}
    for term in decided.gate.terms:
        gate.setdefault(term.key, {})[term.op] = term.expected
    return gate


def _recorded_previous(client: WandbClient, version: ArtifactVersion) -> ArtifactVersion | None:
    """The version an earlier promotion of ``version`` replaced, from its audit record (or None)."""
    from .errors import ArtifactNotFoundError

    record = version.metadata.get(PROMOTION_KEY)
    previous = record.get("previous") if isinstance(record, Mapping) else None
    if not isinstance(previous, Mapping) or not isinstance(previous.get("version"), str):
        return None
    try:
        return client.artifact(ArtifactPath(version.entity, version.project, version.name, previous["version"]))
    except ArtifactNotFoundError:
        return None


def rollback(client: WandbClient, collection: str, alias: str, *, previous_alias: str | None = None,
             actor: Mapping[str, Any], only_if_current: str | None = None) -> dict[str, Any]:
    """Move ``alias`` back to the version holding ``previous_alias`` (default ``previous-<alias>``).

    Guarded like a promotion: the alias must still be on the version read (or on
    ``only_if_current``, when given). The version rolled back from takes ``previous_alias`` (so a
    second rollback undoes the first), and the restored version gets an audit record. A re-run by
    the same actor (same DAG run and task) after success changes nothing.
    """
    from ._aliases import check_alias_names

    previous_alias = previous_alias or previous_alias_for(alias)
    check_alias_names([alias, previous_alias], "alias")
    path = client.resolve_path(collection)
    if path.alias is not None:
        raise InvalidValueError(f"rollback needs a collection, not the version {collection!r}.",
                                hint="Name the collection, e.g. 'acme/churn/churn-model'.")
    current = client.alias_holder(path, alias)
    target = client.alias_holder(path, previous_alias)
    if only_if_current is not None and (current.version if current else None) != only_if_current:
        from .errors import AliasConflictError

        raise AliasConflictError(f"{alias!r} is on {current.version if current else 'no version'}, not "
                                 f"{only_if_current}; not rolling back.", hint="Check who moved it, then decide again.")
    if current is not None and _same_actor(current, actor, "rollback"):
        return {"decision": ALREADY_ROLLED_BACK, "changed": False, "alias": alias, "previous_alias": previous_alias,
                "restored": brief(current), "replaced": brief(target), "audit": current.metadata.get(PROMOTION_KEY)}
    if target is None:
        raise InvalidValueError(
            f"no version of {path.entity}/{path.project}/{path.name} holds {previous_alias!r}: "
            "nothing to roll back to.",
            hint=f"Promote a version first, or move {alias!r} to a version you name.")
    if current is not None and current.id == target.id:
        raise InvalidValueError(f"{alias!r} and {previous_alias!r} are both on {current.qualified_name}: "
                                "nothing to roll back to.")
    change = client.update_aliases(target, add=[alias],
                                   only_if_current={alias: current.version if current else None})
    if current is not None:
        client.update_aliases(current, add=[previous_alias])
    record = _record("rollback", alias, current, previous_alias, actor, None)
    restored = client.update(change.artifact, metadata={PROMOTION_KEY: record})
    return {"decision": ROLLED_BACK, "changed": True, "alias": alias, "previous_alias": previous_alias,
            "restored": brief(restored), "replaced": brief(current), "audit": record}


def _same_actor(version: ArtifactVersion, actor: Mapping[str, Any], action: str) -> bool:
    record = version.metadata.get(PROMOTION_KEY)
    if not isinstance(record, Mapping) or record.get("action") != action:
        return False
    by = record.get("by") or {}
    keys = ("dag_id", "run_id", "task_id")
    return all(actor.get(k) for k in keys) and all(by.get(k) == actor.get(k) for k in keys)
