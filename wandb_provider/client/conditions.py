"""Declarative conditions on a version: the metadata gate (``require=``) and freshness checks.

Pure functions, shared by ``UpdateArtifactAliasesOperator``, ``VerifyArtifactOperator``,
``ArtifactVersionSensor`` and its trigger, and the CLI, so all decide the same way. A gate looks like::

    {"accuracy": {">=": 0.9}, "eval.split": {"==": "test"}, "framework": {"in": ["torch", "jax"]}}

Dotted keys reach nested metadata; every condition must hold. Terms on the producing run
(``run.summary.val_loss``) and relative to an alias's holder (``{">=": {"production": "+0.01"}}``)
are read and decided by ``gates`` (through ``WandbClient.evaluate_gate``).

Gates fail closed (README, "Safety"): a gate or a term's value that is empty (``None``, ``""``,
the text ``"None"``: what a template renders for a missing XCom) is an error before any write, and
a key the metadata lacks stops the gate with the keys that exist and a did-you-mean, unless the
caller opts in (``on_missing="skip"``; the operators' ``allow_empty=True`` drops what renders empty).

``evaluate_gate`` is the one evaluation: it returns a ``TermResult`` per condition (the key, the
operator, both values, whether it held), so new kinds of terms only add a way to find the two values.
"""

from __future__ import annotations

import datetime as dt
import difflib
import operator
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import InvalidValueError, MissingMetadataKeyError
from .rules import as_number, is_no_value

if TYPE_CHECKING:
    from .gates import GateReport
    from .models import ArtifactVersion

MISSING: Any = object()  # what ``lookup`` returns for a key the metadata lacks
OPERATORS = (">", ">=", "<", "<=", "==", "!=", "in")
_ORDERING: dict[str, Callable[[Any, Any], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}
_BOOL_TEXT = {"true": True, "false": False}
ON_MISSING = ("fail", "skip")


@dataclass(frozen=True)
class TermResult:
    """One condition decided: ``actual`` (the metadata's value; None when not ``found``) ``op`` ``expected``."""

    key: str
    op: str
    expected: Any
    actual: Any
    found: bool
    passed: bool

    def describe(self) -> str:
        if not self.found:
            return f"metadata has no {self.key!r} (required {self.op} {self.expected!r})"
        verb = "satisfies" if self.passed else "does not satisfy"
        return f"{self.key} = {self.actual!r} {verb} {self.op} {self.expected!r}"


@dataclass(frozen=True)
class GateResult:
    passed: bool
    failures: tuple[str, ...]
    terms: tuple[TermResult, ...] = ()

    def describe(self) -> str:
        return "all conditions hold" if self.passed else "; ".join(self.failures)

    @property
    def missing(self) -> tuple[str, ...]:
        """The gate's keys the metadata does not have."""
        return tuple(dict.fromkeys(term.key for term in self.terms if not term.found))


def _kind(value: Any) -> str:
    """How a value compares: ``number`` (numbers and text that reads as one), ``bool``, ``text``,
    ``none``, ``list`` or ``dict``."""
    if isinstance(value, bool):
        return "bool"
    if value is None:
        return "none"
    if as_number(value) is not None:
        return "number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, Mapping):
        return "dict"
    return type(value).__name__


def _describe(value: Any) -> str:
    kind = _kind(value)
    if kind == "number" and isinstance(value, str):
        return f"{value!r} (a number written as text)"
    article = {"number": "a number", "bool": "a boolean", "text": "text", "none": "null", "list": "a list",
               "dict": "a dict"}.get(kind, f"a {kind}")
    return f"{value!r} ({article})"


def _is_nan(value: Any) -> bool:
    number = as_number(value)
    return number is not None and number.is_nan()


def _mixed(key: str, op: str, value: Any, expected: Any) -> InvalidValueError:
    return InvalidValueError(
        f"require[{key!r}]: cannot compare metadata {_describe(value)} with {op} {_describe(expected)}: "
        "a gate compares numbers with numbers and text with text.",
        hint="Fix the gate's value, or the metadata, so both sides have the same type "
             "(numbers written as text, e.g. '0.9' from a template, count as numbers).",
    )


def _equal(key: str, op: str, value: Any, expected: Any) -> bool:
    """``value == expected`` for values of one kind; mixed kinds raise ``InvalidValueError``."""
    kinds = {_kind(value), _kind(expected)}
    if "none" in kinds:
        return value is None and expected is None
    if kinds == {"number"}:
        return as_number(value) == as_number(expected)
    if kinds == {"bool"}:
        return bool(value) is bool(expected)
    if kinds == {"bool", "text"}:
        text, flag = (value, expected) if isinstance(value, str) else (expected, value)
        if text.strip().lower() in _BOOL_TEXT:
            return _BOOL_TEXT[text.strip().lower()] is flag
        raise _mixed(key, op, value, expected)
    if len(kinds) == 1 and kinds <= {"text", "list", "dict"}:
        return bool(value == expected)
    raise _mixed(key, op, value, expected)


def _holds(key: str, op: str, value: Any, expected: Any) -> bool:
    """Whether one condition holds; NaN on either side never does."""
    if op == "in":
        options = list(expected)
        for option in options:  # check every option's type first: an error must not depend on order
            if not _is_nan(option) and not _is_nan(value):
                _equal(key, op, value, option)
        return not _is_nan(value) and any(not _is_nan(o) and _equal(key, op, value, o) for o in options)
    if _is_nan(value) or _is_nan(expected):
        return False
    if op in ("==", "!="):
        return _equal(key, op, value, expected) is (op == "==")
    kinds = (_kind(value), _kind(expected))
    if kinds == ("none", kinds[1]):
        return False  # a null metadata value is no value: the condition does not hold
    if kinds == ("number", "number"):
        return _ORDERING[op](as_number(value), as_number(expected))
    if kinds == ("text", "text"):
        return _ORDERING[op](value, expected)
    raise _mixed(key, op, value, expected)


def _check_expected(key: str, op: str, expected: Any) -> Any:
    """The gate's own value for one operator, checked and normalised (an ``in`` list as a list)."""
    where = f"require[{key!r}][{op!r}]"
    if is_no_value(expected):
        raise InvalidValueError(
            f"{where}: your expected value is empty ({expected!r}); a gate term must say what it requires "
            "(did a template render None, e.g. an xcom_pull of a task id that does not exist?).",
            hint="Fix the template or the value. The operators' allow_empty=True drops a term whose template "
                 "renders empty instead.",
        )
    if op == "in":
        if isinstance(expected, str):
            raise InvalidValueError(f"{where}: 'in' needs a list of allowed values, not the text {expected!r}.",
                                    hint="Pass a list, e.g. ['torch', 'jax'].")
        if not isinstance(expected, (list, tuple, set, frozenset)):
            raise InvalidValueError(f"{where}: 'in' needs a list of allowed values, not {type(expected).__name__}.")
        if not expected:
            raise InvalidValueError(f"{where}: the list of allowed values is empty, so nothing could pass.")
        for option in expected:
            _check_expected(key, "==", option)
        return list(expected)
    if _is_nan(expected):
        raise InvalidValueError(f"{where}: NaN is not a value a condition can require (nothing equals NaN).")
    from .gates import relative

    if relative(key, op, expected) is not None:  # {"production": "+0.01"}: see gates
        return dict(expected)
    if op in _ORDERING:
        kind = _kind(expected)
        if kind not in ("number", "text"):
            raise InvalidValueError(f"{where}: {op} needs a number (or text), not {_describe(expected)}.")
        if kind == "text" and not expected.strip():
            raise InvalidValueError(f"{where}: the value is empty (did a template render nothing?).")
    return expected


def validate_gate(require: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """Check a gate's shape before anything is asked of W&B; return it normalised.

    A gate is a dict (text a template rendered is read by the Airflow layer, ``wandb_provider._values.gate``);
    ``None`` is no gate. A term whose value is no value (``None``, ``""``, ``"None"``) is an error.
    """
    if require is None:
        return {}
    if not isinstance(require, Mapping):
        shown = f"the text {require[:100]!r}" if isinstance(require, str) else type(require).__name__
        raise InvalidValueError(f"require must be a dict of key -> {{operator: value}}, not {shown}.")
    gate: dict[str, dict[str, Any]] = {}
    for key, conditions in require.items():
        if not isinstance(key, str) or not key or any(not part for part in key.split(".")):
            raise InvalidValueError(f"require: {key!r} is not a metadata key (use dotted keys like 'eval.acc').")
        if not isinstance(conditions, Mapping) or not conditions:
            raise InvalidValueError(
                f"require[{key!r}] must be a dict like {{'>=': 0.9}}; operators: {sorted(OPERATORS)}."
            )
        normalised: dict[str, Any] = {}
        for op, expected in conditions.items():
            if op not in OPERATORS:
                raise InvalidValueError(f"require[{key!r}]: unknown operator {op!r}; use one of {sorted(OPERATORS)}.")
            normalised[op] = _check_expected(key, op, expected)
        gate[key] = normalised
    return gate


def lookup(metadata: Mapping[str, Any], dotted: str) -> Any:
    """``metadata["a"]["b"]`` for ``"a.b"`` (a literal key with dots wins), or a missing marker."""
    if dotted in metadata:
        return metadata[dotted]
    value: Any = metadata
    for part in dotted.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return MISSING
        value = value[part]
    return value


def metadata_keys(metadata: Mapping[str, Any], prefix: str = "") -> Iterator[str]:
    """Every dotted key of ``metadata`` (``eval``, ``eval.accuracy``, ...), to name in an error."""
    for key, value in metadata.items():
        dotted = f"{prefix}{key}"
        yield dotted
        if isinstance(value, Mapping):
            yield from metadata_keys(value, f"{dotted}.")


def check_on_missing(value: Any) -> str:
    if value not in ON_MISSING:
        raise InvalidValueError(f"on_missing must be one of {ON_MISSING}, not {value!r}.",
                                hint="'fail' (default) stops on a key the metadata lacks; 'skip' counts it as "
                                     "a condition that does not hold.")
    return str(value)


def missing_key_error(terms: tuple[TermResult, ...], metadata: Mapping[str, Any],
                      subject: str = "the version") -> MissingMetadataKeyError:
    """The error for gate keys the metadata lacks: each key, the keys that exist, a did-you-mean."""
    missing = tuple(dict.fromkeys(term.key for term in terms if not term.found))
    available = tuple(sorted(metadata_keys(metadata)))
    suggestions = {key: close[0] for key in missing if (close := difflib.get_close_matches(key, available, n=1))}
    described = ", ".join(f"{key!r}" + (f" (did you mean {suggestions[key]!r}?)" if key in suggestions else "")
                          for key in missing)
    shown = ", ".join(repr(key) for key in available[:30]) + (", ..." if len(available) > 30 else "")
    return MissingMetadataKeyError(
        f"the gate names metadata key(s) {subject} does not have: {described}; its metadata has "
        f"{shown or 'no keys'}.",
        missing=missing, available=available, suggestions=suggestions,
        hint="Fix the key in require= (dotted keys reach nested metadata); on_missing='skip' counts a "
             "missing key as a condition that does not hold instead.",
    )


def evaluate_gate(metadata: Mapping[str, Any], require: Mapping[str, Any] | None, *,
                  on_missing: str = "fail", subject: str = "the version") -> GateResult:
    """Check every condition of ``require`` against ``metadata``; name each one that fails.

    Numbers compare as numbers, whichever side is text that reads as one (``'200' >= '1000'`` is
    false); text compares with text. A number against text that is not one, or a boolean against
    a number, is an ``InvalidValueError``: such a gate cannot be decided. NaN never passes. A key the
    metadata lacks raises ``MissingMetadataKeyError`` unless ``on_missing="skip"`` (then it is a
    failed condition).
    """
    from .gates import reads

    check_on_missing(on_missing)
    gate = validate_gate(require)
    if reads(gate).any:
        raise InvalidValueError(
            "this gate reads the producing run or another version (run.* or relative terms); "
            "decide it with WandbClient.evaluate_gate, which reads them.")
    terms: list[TermResult] = []
    for key, conditions in gate.items():
        value = lookup(metadata, key)
        for op, expected in conditions.items():
            found = value is not MISSING
            passed = found and _holds(key, op, value, expected)
            terms.append(TermResult(key, op, expected, value if found else None, found, passed))
    result = tuple(terms)
    if on_missing == "fail" and any(not term.found for term in result):
        raise missing_key_error(result, metadata, subject)
    failures = tuple(term.describe() for term in result if not term.passed)
    return GateResult(passed=not failures, failures=failures, terms=result)


@dataclass(frozen=True)
class Verdict:
    """Is a resolved version what the caller waits for? ``reason`` says why not."""

    ready: bool
    reason: str


_DIGEST = re.compile(r"^[0-9a-f]{32}$")


def newer_than_index(reference: str) -> int | None:
    """The version index named by ``v7`` or ``entity/project/name:v7``; None for a digest."""
    tail = reference.rsplit(":", 1)[-1]
    match = re.fullmatch(r"v(\d+)", tail)
    return int(match.group(1)) if match else None


def validate_newer_than(reference: str | None) -> None:
    if reference in (None, ""):
        return
    assert reference is not None
    if newer_than_index(reference) is None and not _DIGEST.match(reference):
        raise InvalidValueError(
            f"newer_than={reference!r} is neither a version ('v3', 'entity/project/name:v3') nor a digest."
        )


def evaluate_version(
    version: ArtifactVersion | None,
    *,
    newer_than: str | None = None,
    require: Mapping[str, Any] | None = None,
    created_after: dt.datetime | None = None,
    on_missing: str = "fail",
    gate: GateResult | GateReport | None = None,
) -> Verdict:
    """Decide whether ``version`` (None: not found) is COMMITTED and meets every condition.

    ``gate`` is ``require`` already decided by ``WandbClient.evaluate_gate`` (needed when it has
    run or relative terms)."""
    if version is None:
        return Verdict(False, "no such version yet")
    if version.state != "COMMITTED":
        return Verdict(False, f"{version.qualified_name} is {version.state}")
    if newer_than:
        index = newer_than_index(newer_than)
        if index is not None and version.version_index <= index:
            return Verdict(False, f"{version.qualified_name} is not newer than v{index}")
        if index is None and version.digest == newer_than:
            return Verdict(False, f"{version.qualified_name} still has digest {newer_than}")
    if created_after is not None and version.created_at is not None and version.created_at <= created_after:
        return Verdict(False, f"{version.qualified_name} was created at {version.created_at.isoformat()}, "
                              f"not after {created_after.isoformat()}")
    gate = gate if gate is not None else evaluate_gate(version.metadata, require, on_missing=on_missing,
                                                       subject=version.qualified_name)
    if not gate.passed:
        return Verdict(False, f"{version.qualified_name}: {gate.describe()}")
    return Verdict(True, f"{version.qualified_name} is ready")
