"""Declarative conditions on a version: the metadata gate (``require=``) and freshness checks.

Pure functions, shared by ``UpdateArtifactAliasesOperator``, ``ArtifactVersionSensor`` and its
trigger, so all three decide the same way. A gate looks like::

    {"accuracy": {">=": 0.9}, "eval.split": {"==": "test"}, "framework": {"in": ["torch", "jax"]}}

Dotted keys reach nested metadata; every condition must hold.
"""

from __future__ import annotations

import datetime as dt
import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import BadRequestError

if TYPE_CHECKING:
    from .models import ArtifactVersion

_MISSING = object()
OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
    "in": lambda value, options: value in options,
}


@dataclass(frozen=True)
class GateResult:
    passed: bool
    failures: tuple[str, ...]

    def describe(self) -> str:
        return "all conditions hold" if self.passed else "; ".join(self.failures)


def validate_gate(require: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """Check a gate's shape before anything is asked of W&B; return it normalised."""
    if require is None:
        return {}
    if not isinstance(require, Mapping):
        raise BadRequestError(f"require must be a dict of key -> {{operator: value}}, not {type(require).__name__}.")
    gate: dict[str, dict[str, Any]] = {}
    for key, conditions in require.items():
        if not isinstance(key, str) or not key or any(not part for part in key.split(".")):
            raise BadRequestError(f"require: {key!r} is not a metadata key (use dotted keys like 'eval.acc').")
        if not isinstance(conditions, Mapping) or not conditions:
            raise BadRequestError(
                f"require[{key!r}] must be a dict like {{'>=': 0.9}}; operators: {sorted(OPERATORS)}."
            )
        for op, expected in conditions.items():
            if op not in OPERATORS:
                raise BadRequestError(f"require[{key!r}]: unknown operator {op!r}; use one of {sorted(OPERATORS)}.")
            if op == "in" and not isinstance(expected, (list, tuple, set, frozenset)):
                raise BadRequestError(f"require[{key!r}]: 'in' needs a list of allowed values.")
        gate[key] = dict(conditions)
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


def _like(value: Any, expected: Any) -> Any:
    """Read a templated number (Jinja renders ``{{ params.x }}`` as text) as a number for numeric values."""
    numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
    if numeric and isinstance(expected, str):
        try:
            return float(expected)
        except ValueError:
            return expected
    if numeric and isinstance(expected, (list, tuple, set, frozenset)):
        return [_like(value, item) for item in expected]
    return expected


def evaluate_gate(metadata: Mapping[str, Any], require: Mapping[str, Any] | None) -> GateResult:
    """Check every condition of ``require`` against ``metadata``; name each one that fails."""
    failures = []
    for key, conditions in validate_gate(require).items():
        value = lookup(metadata, key)
        for op, expected in conditions.items():
            if value is _MISSING:
                failures.append(f"metadata has no {key!r} (required {op} {expected!r})")
                continue
            try:
                ok = OPERATORS[op](value, _like(value, expected))
                if isinstance(value, float) and math.isnan(value):
                    ok = False
            except TypeError:
                ok = False
            if not ok:
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
) -> Verdict:
    """Decide whether ``version`` (None: not found) is COMMITTED and meets every condition."""
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
    gate = evaluate_gate(version.metadata, require)
    if not gate.passed:
        return Verdict(False, f"{version.qualified_name}: {gate.describe()}")
    return Verdict(True, f"{version.qualified_name} is ready")
