"""Values as users write them: numbers and lists that arrive as text from Jinja. Pure; no I/O.

Airflow renders templated fields to strings unless the DAG sets ``render_template_as_native_obj``:
``{{ params.min_accuracy }}`` arrives as ``"0.9"`` and ``{{ params.aliases }}`` as ``"['qa', 'eu']"``.
These helpers read such text back as the number or list it stands for, and refuse what is neither.
"""

from __future__ import annotations

import ast
import json
import math
import numbers
import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from .errors import InvalidValueError

MAX_LITERAL_CHARS = 100_000
_NUMBER_TEXT = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$|^[+-]?(?:nan|inf|infinity)$", re.IGNORECASE)


def as_number(value: Any) -> Decimal | None:
    """``value`` as an exact number when it is one or is text that reads as one; None otherwise.

    Booleans are not numbers here (``True`` is not ``1`` in a gate). Floats convert through their
    shortest repr, so ``0.9`` and ``"0.9"`` are the same number.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        return Decimal(repr(number)) if math.isfinite(number) else Decimal(str(number))
    if isinstance(value, str) and _NUMBER_TEXT.match(value.strip()):
        try:
            return Decimal(value.strip())
        except InvalidOperation:  # pragma: no cover - the pattern admits only what Decimal reads
            return None
    return None


def parse_literal(text: str, what: str) -> Any:
    """Read a rendered JSON or Python literal (``"['a', 'b']"``, ``'{"k": 1}'``) without running code."""
    if len(text) > MAX_LITERAL_CHARS:
        raise InvalidValueError(f"{what}: the value is longer than {MAX_LITERAL_CHARS} characters.")
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise InvalidValueError(
            f"{what}: {text[:200]!r} is not a list or dict literal.",
            hint="Write it as JSON or a Python literal, e.g. ['qa', 'eu'], or pass a real list.",
        ) from None


def looks_like_list(text: str) -> bool:
    stripped = text.strip()
    return (stripped.startswith("[") and stripped.endswith("]")) or (
        stripped.startswith("(") and stripped.endswith(")")
    )


def as_str_list(value: str | Iterable[str] | None, what: str) -> list[str]:
    """A list of names from a list, one name, or a rendered list literal; duplicates removed, order kept.

    ``None`` and ``""`` give ``[]``; ``"production"`` gives ``["production"]`` (never its letters).
    """
    if value is None:
        return []
    if isinstance(value, str):
        if not value.strip():
            return []
        if not looks_like_list(value):
            return [value]
        value = parse_literal(value, what)
        if not isinstance(value, (list, tuple)):  # pragma: no cover - looks_like_list admits only these
            raise InvalidValueError(f"{what}: expected a list of names, got {type(value).__name__}.")
    if isinstance(value, (bytes, dict)) or not isinstance(value, Iterable):
        raise InvalidValueError(f"{what}: expected a list of names, not {type(value).__name__}.")
    names = list(value)
    bad = [item for item in names if not isinstance(item, str)]
    if bad:
        raise InvalidValueError(f"{what}: every item must be a string, not {bad[0]!r}.")
    return list(dict.fromkeys(names))
