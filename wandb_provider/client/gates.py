"""Gate terms that read more than a version's metadata, decided term by term with a report.

Two kinds of terms join the metadata conditions of ``conditions`` (same operators, same
comparison rules, same fail-closed handling of missing values):

* **Run terms** read the run that logged the version: ``run.summary.<key>`` (what the run
  reported as its final metrics) and ``run.config.<key>`` (its configuration)::

      {"run.summary.val_loss": {"<=": 0.3}, "run.config.optimizer": {"==": "adam"}}

* **Relative terms** compare with the version that holds an alias of the same collection now.
  In place of a threshold write ``{alias: offset}``: "at least what ``production`` has, plus
  0.01" is::

      {"eval.accuracy": {">=": {"production": "+0.01"}}}

  The same key is read on both versions (the holder's metadata, or its run for a run term), and
  the offset (a number; ``0`` for "as good as") is added to the holder's value. Only the ordering
  operators ``> >= < <=`` take a relative threshold.

When no version holds the alias, ``if_no_holder`` decides a relative term: ``"pass"`` (the
default) leaves it out, so only the absolute terms decide, and says so in the term's ``note``;
``"fail"`` refuses. When the version itself holds the alias (it was promoted already), its
relative terms are not applied either: comparing a version with itself says nothing.

Pure: the caller (``WandbClient.evaluate_gate``) reads the versions and runs a gate needs
(``reads``) and hands them to ``decide``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from .errors import InvalidValueError
from .rules import as_number, check_alias_names

RUN_SCOPES = ("summary", "config")
IF_NO_HOLDER = ("pass", "fail")
ORDERING = (">", ">=", "<", "<=")
_MISSING: Any = object()


def run_term(key: str) -> tuple[str, str] | None:
    """``("summary", "val_loss")`` for ``"run.summary.val_loss"``; None for a metadata key."""
    parts = key.split(".", 2)
    if len(parts) == 3 and parts[0] == "run" and parts[1] in RUN_SCOPES and parts[2]:
        return parts[1], parts[2]
    return None


def relative(key: str, op: str, expected: Any) -> tuple[str, Decimal] | None:
    """``("production", Decimal("0.01"))`` for ``{"production": "+0.01"}``; None for an absolute
    threshold; ``InvalidValueError`` for a dict that is not one alias with a numeric offset."""
    if not isinstance(expected, Mapping):
        return None
    where = f"require[{key!r}][{op!r}]"
    if op not in ORDERING:
        return None  # == and != compare with a dict literally
    if len(expected) != 1:
        raise InvalidValueError(
            f"{where}: a relative threshold names one alias and an offset, e.g. {{'production': '+0.01'}}, "
            f"not {dict(expected)!r}.")
    alias, offset = next(iter(expected.items()))
    if not isinstance(alias, str) or not alias.strip():
        raise InvalidValueError(f"{where}: {alias!r} is not an alias name.")
    check_alias_names([alias], where)
    number = as_number(offset)
    if number is None or not number.is_finite():
        raise InvalidValueError(
            f"{where}: the offset {offset!r} is not a number; write e.g. {{{alias!r}: '+0.01'}}, "
            f"or {{{alias!r}: 0}} for 'as good as {alias}'.",
            hint="A template that rendered empty is not an offset of zero.")
    return alias, number


def aliases_compared(gate: Mapping[str, Mapping[str, Any]]) -> tuple[str, ...]:
    """Every alias a (validated) gate compares with, in order of appearance."""
    found: dict[str, None] = {}
    for key, conditions in gate.items():
        for op, expected in conditions.items():
            ref = relative(key, op, expected)
            if ref is not None:
                found[ref[0]] = None
    return tuple(found)


@dataclass(frozen=True)
class GateReads:
    """What deciding a gate needs beyond the version's own metadata."""

    run: bool = False  # the producing run of each version read
    aliases: tuple[str, ...] = ()  # the holders of these aliases

    @property
    def any(self) -> bool:
        return self.run or bool(self.aliases)


def reads(require: Mapping[str, Any]) -> GateReads:
    """What a gate (as written, or validated) reads beyond the version's metadata."""
    from .conditions import validate_gate

    gate = validate_gate(require)
    return GateReads(run=any(run_term(key) for key in gate), aliases=aliases_compared(gate))


@dataclass(frozen=True)
class Subject:
    """One version as a gate sees it: its metadata and, when read, its producing run's values."""

    qualified_name: str
    version: str
    id: str
    metadata: Mapping[str, Any]
    run_read: bool = False
    run_path: str | None = None  # None after a read: logged without a run
    summary: Mapping[str, Any] = field(default_factory=dict)
    config: Mapping[str, Any] = field(default_factory=dict)

    def value(self, key: str) -> Any:
        """The value a term reads, or the missing marker; ``InvalidValueError`` for a run term on a
        version no run logged (such a gate can never be decided for it)."""
        from .conditions import MISSING, lookup

        scope = run_term(key)
        if scope is None:
            found = lookup(self.metadata, key)
            return _MISSING if found is MISSING else found
        if not self.run_read:
            raise InvalidValueError(f"require[{key!r}] reads the run of {self.qualified_name}, which was not read.")
        if self.run_path is None:
            raise InvalidValueError(
                f"require[{key!r}]: {self.qualified_name} was not logged by a run, so it has no run "
                f"{scope[0]} to read {scope[1]!r} from.",
                hint="Log the version from a run (wandb.init() ... run.log_artifact), or gate on its metadata.")
        found = lookup(self.summary if scope[0] == "summary" else self.config, scope[1])
        return _MISSING if found is MISSING else found


def run_config_values(config: Mapping[str, Any]) -> dict[str, Any]:
    """A run's config as W&B stores it (``{"lr": {"value": 0.01, "desc": None}}``) read as values."""
    values: dict[str, Any] = {}
    for key, item in config.items():
        if key.startswith("_wandb"):
            continue
        values[key] = item["value"] if isinstance(item, Mapping) and "value" in item else item
    return values


@dataclass(frozen=True)
class Term:
    """One condition of a gate, decided: the values on both sides and why it passed or failed."""

    key: str
    op: str
    expected: Any  # as written in the gate
    threshold: Any  # what the candidate was compared with (None when not applied)
    candidate: Any
    passed: bool
    applied: bool = True
    holder: dict[str, Any] | None = None  # for a relative term: alias, version and its value
    note: str = ""
    missing_in: Subject | None = None  # the version lacking the key, when one does

    def describe(self) -> str:
        verb = "satisfies" if self.passed else "does not satisfy"
        return self.note or f"{self.key} = {_show(self.candidate)} {verb} {self.op} {_show(self.threshold)}"

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "op": self.op, "expected": _json(self.expected), "threshold": _json(self.threshold),
                "candidate": _json(self.candidate), "holder": _json(self.holder), "passed": self.passed,
                "applied": self.applied, "note": self.note}


@dataclass(frozen=True)
class GateReport:
    passed: bool
    terms: tuple[Term, ...]

    @property
    def failures(self) -> tuple[str, ...]:
        return tuple(term.describe() for term in self.terms if not term.passed)

    def describe(self) -> str:
        return "all conditions hold" if self.passed else "; ".join(self.failures)

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "terms": [t.to_dict() for t in self.terms],
                "failures": list(self.failures)}


def _json(value: Any) -> Any:
    """JSON-safe: exact numbers as floats (ints stay ints), containers recursively."""
    if value is _MISSING:
        return None
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and abs(value) < 2**53 else float(value)
    if isinstance(value, Mapping):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json(v) for v in value]
    return value


def _show(value: Any) -> str:
    return "missing" if value is _MISSING else repr(_json(value))


def decide(
    gate: Mapping[str, Mapping[str, Any]],
    candidate: Subject,
    holders: Mapping[str, Subject | None] | None = None,
    *,
    if_no_holder: str = "pass",
    on_missing: str = "fail",
) -> GateReport:
    """Decide every term of a validated gate (``conditions.validate_gate``) on ``candidate``.

    ``holders`` gives, for each alias the gate compares with, the version holding it (None: no
    version does). A key either side lacks raises ``MissingMetadataKeyError`` naming the keys it
    has (gates fail closed), or with ``on_missing="skip"`` fails its term; a null value fails its
    term. Mixed types (a number against text) raise ``InvalidValueError`` as in ``conditions``.
    """
    from .conditions import _holds, check_on_missing

    check_on_missing(on_missing)

    if if_no_holder not in IF_NO_HOLDER:
        raise InvalidValueError(f"if_no_holder must be one of {list(IF_NO_HOLDER)}, not {if_no_holder!r}.")
    holders = holders or {}
    terms: list[Term] = []
    for key, conditions in gate.items():
        value = candidate.value(key)
        for op, expected in conditions.items():
            ref = relative(key, op, expected)
            if ref is None:
                terms.append(_absolute(key, op, expected, value, candidate, _holds))
                continue
            alias, offset = ref
            if alias not in holders:
                raise InvalidValueError(f"require[{key!r}] compares with {alias!r}, whose holder was not read.")
            terms.append(_relative(key, op, expected, value, candidate, alias, offset, holders[alias], if_no_holder,
                                   _holds))
    if on_missing == "fail" and (lacking := [t for t in terms if t.missing_in is not None]):
        raise _missing_error(lacking)
    return GateReport(passed=all(t.passed for t in terms), terms=tuple(terms))


def _keys(subject: Subject, key: str) -> tuple[str, ...]:
    """The keys ``subject`` has where ``key`` looks (its metadata, or its run's summary or config)."""
    from .conditions import metadata_keys

    scope = run_term(key)
    if scope is None:
        return tuple(sorted(metadata_keys(subject.metadata)))
    values = subject.summary if scope[0] == "summary" else subject.config
    return tuple(sorted(f"run.{scope[0]}.{k}" for k in metadata_keys(values)))


def _missing_error(terms: list[Term]) -> InvalidValueError:
    import difflib

    from .errors import MissingMetadataKeyError

    parts: list[str] = []
    suggestions: dict[str, str] = {}
    available_all: list[str] = []
    for term in terms:
        assert term.missing_in is not None
        available = _keys(term.missing_in, term.key)
        available_all += available
        close = difflib.get_close_matches(term.key, available, n=1)
        if close:
            suggestions[term.key] = close[0]
        shown = ", ".join(repr(k) for k in available[:20]) + (", ..." if len(available) > 20 else "")
        parts.append(f"{term.missing_in.qualified_name} has no {term.key!r}"
                     + (f" (did you mean {close[0]!r}?)" if close else "") + f"; it has {shown or 'no keys'}")
    return MissingMetadataKeyError(
        "the gate names key(s) a version does not have: " + "; ".join(parts) + ".",
        missing=tuple(dict.fromkeys(t.key for t in terms)), available=tuple(dict.fromkeys(available_all)),
        suggestions=suggestions,
        hint="Fix the key in require= (dotted keys reach nested metadata, run.summary.* and run.config.* the "
             "run's values); on_missing='skip' counts a missing key as a condition that does not hold instead.")


def _absolute(key: str, op: str, expected: Any, value: Any, candidate: Subject, holds: Any) -> Term:
    if value is _MISSING or value is None:
        what = "has no" if value is _MISSING else "has a null"
        return Term(key, op, expected, expected, value, passed=False,
                    note=f"{candidate.qualified_name} {what} {key!r} (required {op} {_show(expected)})",
                    missing_in=candidate if value is _MISSING else None)
    return Term(key, op, expected, expected, value, passed=holds(key, op, value, expected))


def _relative(key: str, op: str, expected: Any, value: Any, candidate: Subject, alias: str, offset: Decimal,
              holder: Subject | None, if_no_holder: str, holds: Any) -> Term:
    wanted = f"{op} {alias} {'+' if offset >= 0 else '-'} {abs(offset)}"
    if holder is None:
        passed = if_no_holder == "pass"
        note = (f"no version holds {alias!r}: {key} {wanted} not applied (if_no_holder={if_no_holder!r})"
                + ("" if passed else ", so it fails"))
        return Term(key, op, expected, None, value, passed=passed, applied=False,
                    holder={"alias": alias, "version": None, "value": None}, note=note)
    if holder.id == candidate.id:
        return Term(key, op, expected, None, value, passed=True, applied=False,
                    holder={"alias": alias, "version": holder.version, "value": None},
                    note=f"{candidate.qualified_name} already holds {alias!r}: {key} {wanted} not applied")
    theirs = holder.value(key)
    described = {"alias": alias, "version": holder.version, "qualified_name": holder.qualified_name,
                 "value": theirs}
    if theirs is _MISSING or theirs is None or as_number(theirs) is None or not as_number(theirs).is_finite():  # type: ignore[union-attr]
        what = ("has no" if theirs is _MISSING else "has a null" if theirs is None
                else f"has a {key!r} that is not a finite number ({theirs!r}) for")
        return Term(key, op, expected, None, value, passed=False, holder=described,
                    note=f"{alias} ({holder.qualified_name}) {what} {key!r}, so {key} {wanted} cannot be decided",
                    missing_in=holder if theirs is _MISSING else None)
    threshold = as_number(theirs) + offset  # type: ignore[operator]
    if value is _MISSING or value is None:
        what = "has no" if value is _MISSING else "has a null"
        return Term(key, op, expected, threshold, value, passed=False, holder=described,
                    note=f"{candidate.qualified_name} {what} {key!r} (required {wanted} = {_show(threshold)})",
                    missing_in=candidate if value is _MISSING else None)
    passed = holds(key, op, value, threshold)
    return Term(key, op, expected, threshold, value, passed=passed, holder=described,
                note="" if passed else f"{key} = {_show(value)} does not satisfy {wanted} "
                                       f"({alias} {holder.version} has {_show(theirs)}, so {op} {_show(threshold)})")
