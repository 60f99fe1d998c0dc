"""Planning and checking an alias change: validation, gate and guard, the minimal diff, the read-back. Pure."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .conditions import check_on_missing, evaluate_gate, validate_gate
from .errors import AliasConflictError, ConditionNotMetError, InvalidValueError, WandbError
from .models import AliasChange, ArtifactVersion
from .rules import NO_HOLDER, RESERVED_ALIASES, check_alias_names, check_holder

__all__ = ["NO_HOLDER", "RESERVED_ALIASES", "AliasRequest", "check_alias_names", "check_gate", "plan", "races"]


@dataclass(frozen=True)
class AliasRequest:
    """A validated request: what to add and remove, which holders the guard expects, and the gate."""

    add: tuple[str, ...]
    remove: tuple[str, ...]
    guard: dict[str, str | None]
    gate: dict[str, dict[str, Any]]
    on_missing: str = "fail"

    @classmethod
    def of(
        cls,
        add: str | Iterable[str] | None,
        remove: str | Iterable[str] | None,
        guard: Mapping[str, Any] | None,
        require: Mapping[str, Any] | None = None,
        on_missing: str = "fail",
    ) -> AliasRequest:
        """Validate before any request: alias names, guard values, the gate's shape, no alias both
        added and removed. ``on_missing``: what a gate key the metadata lacks does (see ``conditions``)."""
        if guard is not None and not isinstance(guard, Mapping):
            raise InvalidValueError(f"only_if_current must be a dict like {{'production': 'v3'}}, not {guard!r}.")
        guard_aliases = check_alias_names(list((guard or {}).keys()), "only_if_current")
        request = cls(
            add=check_alias_names(add, "add"),
            remove=check_alias_names(remove, "remove"),
            guard={alias: check_holder(alias, (guard or {})[alias]) for alias in guard_aliases},
            gate=validate_gate(require),
            on_missing=check_on_missing(on_missing),
        )
        both = set(request.add) & set(request.remove)
        if both:
            raise InvalidValueError(f"aliases {sorted(both)} are both added and removed.")
        return request

    @property
    def watched(self) -> tuple[str, ...]:
        """Every alias whose current holder the plan needs to know."""
        return tuple(dict.fromkeys((*self.add, *self.remove, *self.guard)))


def metadata_terms(gate: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """The terms of a gate decided on the version's metadata alone (no run, no other version)."""
    from .gates import relative, run_term

    kept = {key: {op: expected for op, expected in conditions.items() if relative(key, op, expected) is None}
            for key, conditions in gate.items() if run_term(key) is None}
    return {key: conditions for key, conditions in kept.items() if conditions}


def check_gate(request: AliasRequest, version: ArtifactVersion, report: Any = None) -> None:
    """``ConditionNotMetError`` (with each failed condition) unless the gate holds on ``version``;
    ``report`` is the ``GateReport`` already decided for a gate that reads runs or other versions."""
    if not request.gate:
        return
    gate = report if report is not None else evaluate_gate(version.metadata, request.gate,
                                                           on_missing=request.on_missing,
                                                           subject=version.qualified_name)
    if not gate.passed:
        raise ConditionNotMetError(
            f"not changing aliases of {version.qualified_name}: {gate.describe()}.",
            failures=gate.failures, hint="The version's metadata does not meet require=; nothing was changed.",
        )


def plan(request: AliasRequest, version: ArtifactVersion, holders: dict[str, str | None]) -> AliasChange:
    """The minimal change (nothing for an alias already where it should be), or ``AliasConflictError``.

    A guard holds when the alias sits where it expects, or already on the target version: a
    re-run after success is then a no-op instead of a conflict.
    """
    conflicts = _guard_conflicts(request, version, holders)
    if conflicts:
        expected_none = [a for a, e in request.guard.items() if e is None and holders[a] not in (None, version.version)]
        hint = "Another writer moved it first (or the version you expect is out of date); re-resolve and decide again."
        if expected_none:
            hint = (f"only_if_current says {expected_none} should be on no version (None): if that came from a "
                    "template that rendered None, fix the template; if you meant it, another writer moved it "
                    "first. Re-resolve and decide again.")
        raise AliasConflictError(
            f"not moving aliases on {version.qualified_name}: " + "; ".join(conflicts) + ".", hint=hint,
        )
    to_add = tuple(a for a in request.add if holders[a] != version.version)
    to_remove = tuple(a for a in request.remove if holders[a] == version.version)
    after = dict(holders)
    after.update({a: version.version for a in request.add})
    after.update({a: None for a in request.remove})
    aliases = (set(version.aliases) | set(request.add)) - set(request.remove)
    return AliasChange(
        artifact=dataclasses.replace(version, aliases=tuple(sorted(aliases))), added=to_add, removed=to_remove,
        before=holders, after=after, changed=bool(to_add or to_remove),
    )


def _guard_conflicts(request: AliasRequest, version: ArtifactVersion, holders: dict[str, str | None]) -> list[str]:
    return [
        f"{alias!r} is on {holders[alias] or 'no version'}, expected {expected or 'no version'}"
        for alias, expected in request.guard.items()
        if holders[alias] != expected and holders[alias] != version.version
    ]


def races(request: AliasRequest, version: ArtifactVersion, holders: dict[str, str | None]) -> list[str]:
    """What the read-back after our write contradicts: each problem says who holds what now.

    Empty when every added alias is on ``version``, every removed one is off it, and the guard and
    the gate still hold on the state read back.
    """
    problems = [
        f"{alias!r} is on {holders[alias] or 'no version'}, not {version.version}"
        for alias in request.add if holders[alias] != version.version
    ]
    problems += [f"{alias!r} is back on {version.version}" for alias in request.remove
                 if holders[alias] == version.version]
    unguarded = {a: e for a, e in request.guard.items() if a not in request.add}
    problems += [f"the guard no longer holds: {c}" for c in _guard_conflicts(
        dataclasses.replace(request, guard=unguarded), version, holders)]
    if request.gate and (terms := metadata_terms(request.gate)):  # run and relative terms were decided before
        try:
            gate = evaluate_gate(version.metadata, terms, on_missing=request.on_missing)
        except WandbError as exc:
            problems.append(f"the gate can no longer be decided: {exc.message}")
        else:
            problems += [f"the gate no longer holds: {failure}" for failure in gate.failures]
    return problems
