"""Declarative conditions on a version: the metadata gate (``require=``) and freshness checks.

Pure functions, shared by ``UpdateArtifactAliasesOperator``, ``ArtifactVersionSensor`` and its
trigger, so all three decide the same way. A gate looks like::

    {"accuracy": {">=": 0.9}, "eval.split": {"==": "test"}, "framework": {"in": ["torch", "jax"]}}

Dotted keys reach nested metadata; every condition must hold. Terms on the producing run
(``run.summary.val_loss``) and relative to an alias's holder (``{">=": {"production": "+0.01"}}``)
are read and decided by ``gates`` (through ``WandbClient.evaluate_gate``).
"""

from __future__ import annotations

import datetime as dt
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import BadRequestError
from .values import as_number, looks_like_list, parse_literal

if TYPE_CHECKING:
    from .gates import GateReport
    from .models import ArtifactVersion

_MISSING = object()
OPERATORS = (">", ">=", "<", "<=", "==", "!=", "in")
_ORDERING: dict[str, Callable[[Any, Any], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}
_BOOL_TEXT = {"true": True, "false": False}


@dataclass(frozen=True)
class GateResult:
    passed: bool
    failures: tuple[str, ...]

    def describe(self) -> str:
        return "all conditions hold" if self.passed else "; ".join(self.failures)


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


def _mixed(key: str, op: str, value: Any, expected: Any) -> BadRequestError:
    return BadRequestError(
        f"require[{key!r}]: cannot compare metadata {_describe(value)} with {op} {_describe(expected)}: "
        "a gate compares numbers with numbers and text with text.",
        hint="Fix the gate's value, or the metadata, so both sides have the same type "
             "(numbers written as text, e.g. '0.9' from a template, count as numbers).",
    )


def _equal(key: str, op: str, value: Any, expected: Any) -> bool:
    """``value == expected`` for values of one kind; mixed kinds raise ``BadRequestError``."""
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


def _literal(value: Any, what: str) -> Any:
    """A rendered template (text) read back as the dict or list it stands for."""
    if isinstance(value, str):
        if not value.strip() or value.strip() in ("None", "null"):
            raise BadRequestError(f"{what} rendered empty ({value!r}); a gate must say what it requires.",
                                  hint="Pass None (not a template that renders empty) for no gate.")
        return parse_literal(value, what)
    return value


def _check_expected(key: str, op: str, expected: Any) -> Any:
    """The gate's own value for one operator, checked and normalised (list literals parsed)."""
    where = f"require[{key!r}][{op!r}]"
    if op == "in":
        if isinstance(expected, str):
            if not looks_like_list(expected):
                raise BadRequestError(f"{where}: 'in' needs a list of allowed values, not {expected!r}.",
                                      hint="Write it as a list, e.g. ['torch', 'jax'].")
            expected = parse_literal(expected, where)
        if not isinstance(expected, (list, tuple, set, frozenset)):
            raise BadRequestError(f"{where}: 'in' needs a list of allowed values, not {type(expected).__name__}.")
        if not expected:
            raise BadRequestError(f"{where}: the list of allowed values is empty, so nothing could pass.")
        for option in expected:
            _check_expected(key, "==", option)
        return list(expected)
    if _is_nan(expected):
        raise BadRequestError(f"{where}: NaN is not a value a condition can require (nothing equals NaN).")
    from .gates import relative

    if relative(key, op, expected) is not None:  # {"production": "+0.01"}: see gates
        return dict(expected)
    if op in _ORDERING:
        kind = _kind(expected)
        if kind not in ("number", "text"):
            raise BadRequestError(f"{where}: {op} needs a number (or text), not {_describe(expected)}.")
        if kind == "text" and not expected.strip():
            raise BadRequestError(f"{where}: the value is empty (did a template render nothing?).")
    return expected


def validate_gate(require: Mapping[str, Any] | str | None) -> dict[str, dict[str, Any]]:
    """Check a gate's shape before anything is asked of W&B; return it normalised.

    A gate rendered as text (``"{'accuracy': {'>=': 0.9}}"``) is read as the dict it stands for;
    list literals of ``in`` likewise.
    """
    if require is None:
        return {}
    require = _literal(require, "require")
    if not isinstance(require, Mapping):
        raise BadRequestError(f"require must be a dict of key -> {{operator: value}}, not {type(require).__name__}.")
    gate: dict[str, dict[str, Any]] = {}
    for key, conditions in require.items():
        if not isinstance(key, str) or not key or any(not part for part in key.split(".")):
            raise BadRequestError(f"require: {key!r} is not a metadata key (use dotted keys like 'eval.acc').")
        conditions = _literal(conditions, f"require[{key!r}]")
        if not isinstance(conditions, Mapping) or not conditions:
            raise BadRequestError(
                f"require[{key!r}] must be a dict like {{'>=': 0.9}}; operators: {sorted(OPERATORS)}."
            )
        normalised: dict[str, Any] = {}
        for op, expected in conditions.items():
            if op not in OPERATORS:
                raise BadRequestError(f"require[{key!r}]: unknown operator {op!r}; use one of {sorted(OPERATORS)}.")
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
            return _MISSING
        value = value[part]
    return value


def evaluate_gate(metadata: Mapping[str, Any], require: Mapping[str, Any] | str | None) -> GateResult:
    """Check every condition of ``require`` against ``metadata``; name each one that fails.

    Numbers compare as numbers, whichever side is text that reads as one (``'200' >= '1000'`` is
    false); text compares with text. A number against text that is not one, or a boolean against
    a number, is a ``BadRequestError``: such a gate cannot be decided. NaN never passes.
    """
    from .gates import reads

    gate = validate_gate(require)
    if reads(gate).any:
        raise BadRequestError(
            "this gate reads the producing run or another version (run.* or relative terms); "
            "decide it with WandbClient.evaluate_gate, which reads them.")
    failures = []
    for key, conditions in gate.items():
        value = lookup(metadata, key)
        for op, expected in conditions.items():
            if value is _MISSING:
                failures.append(f"metadata has no {key!r} (required {op} {expected!r})")
                continue
            if not _holds(key, op, value, expected):
                failures.append(f"{key} = {value!r} does not satisfy {op} {expected!r}")
    return GateResult(passed=not failures, failures=tuple(failures))


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
        raise BadRequestError(
            f"newer_than={reference!r} is neither a version ('v3', 'entity/project/name:v3') nor a digest."
        )


def evaluate_version(
    version: ArtifactVersion | None,
    *,
    newer_than: str | None = None,
    require: Mapping[str, Any] | None = None,
    created_after: dt.datetime | None = None,
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
    gate = gate if gate is not None else evaluate_gate(version.metadata, require)
    if not gate.passed:
        return Verdict(False, f"{version.qualified_name}: {gate.describe()}")
    return Verdict(True, f"{version.qualified_name} is ready")
