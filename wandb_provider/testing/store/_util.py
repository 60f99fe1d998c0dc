"""Small helpers shared by the store's parts: clock, names, JSON values, SQL fragments."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from typing import Any

from ..errors import InvalidInput

MAX_NAME = 128
_VERSION_ALIAS = re.compile(r"^v\d+$")
_TAG = re.compile(r"^[-\w]+( +[-\w]+)*$")
_PROJECT_FORBIDDEN = set("/\\#?%:\r\n")
LIVE = "a.state != 'DELETED'"  # SQL: the version aliased ``a`` is not deleted


def now() -> str:
    """The current time as W&B-style ISO 8601 text (UTC)."""
    return seconds_ago(0)


def seconds_ago(seconds: float) -> str:
    """The time ``seconds`` ago, in the text form of ``now()`` (so the two compare as strings)."""
    moment = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def is_version_alias(alias: str) -> bool:
    return bool(_VERSION_ALIAS.match(alias))


def _check_size(what: str, value: str | None) -> str:
    """Refuse an empty value or one longer than ``MAX_NAME``; ``what`` names it in the message."""
    if not value:
        raise InvalidInput(f"invalid {what}: it must not be empty")
    if len(value) > MAX_NAME:
        raise InvalidInput(f"invalid {what} {value[:40]!r}...: longer than {MAX_NAME} characters")
    return value


def check_name(kind: str, name: str | None) -> str:
    """Validate an artifact, collection, type or entity name."""
    name = _check_size(f"{kind} name", name)
    if "/" in name or ":" in name:
        raise InvalidInput(f"invalid {kind} name {name!r}: it must not contain '/' or ':'")
    return name


def check_project_name(name: str | None) -> str:
    name = _check_size("project name", name)
    bad = sorted(set(name) & _PROJECT_FORBIDDEN)
    if bad:
        raise InvalidInput(f"invalid project name {name!r}: it must not contain any of {''.join(bad)!r}")
    return name


def check_alias(alias: str) -> str:
    """Validate an alias a client asks to add or remove."""
    alias = _check_size("alias", alias)
    if "/" in alias or ":" in alias:
        raise InvalidInput(f"invalid alias {alias!r}: aliases must not contain '/' or ':'")
    if is_version_alias(alias):
        raise InvalidInput(
            f"invalid alias {alias!r}: version aliases (vN) are managed by W&B and cannot be added or removed"
        )
    return alias


def check_tag(tag: str) -> str:
    if len(tag) > MAX_NAME or not _TAG.match(tag):
        raise InvalidInput(
            f"invalid tag {tag!r}: tags are at most {MAX_NAME} characters of letters, digits, '-', '_' "
            "and single spaces"
        )
    return tag


def parse_metadata(text: str | None) -> str | None:
    """Validate a metadata JSONString (an object, at most 100 keys, finite numbers) and normalise it."""
    if text is None:
        return None
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except ValueError as exc:
        raise InvalidInput(f"invalid metadata: {exc}") from None
    if not isinstance(value, dict):
        raise InvalidInput("invalid metadata: it must be a JSON object")
    if len(value) > 100:
        raise InvalidInput(f"invalid metadata: {len(value)} top-level keys, at most 100 are allowed")
    _reject_non_finite(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a valid JSON value")


def _reject_non_finite(value: Any) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidInput("invalid metadata: NaN and Infinity are not allowed")
    if isinstance(value, dict):
        for item in value.values():
            _reject_non_finite(item)
    elif isinstance(value, list):
        for item in value:
            _reject_non_finite(item)


def json_object(text: str | None, what: str) -> dict[str, Any]:
    """Parse an optional JSONString argument that must hold an object (filters, config)."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise InvalidInput(f"invalid {what}: {exc}") from None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput(f"invalid {what}: it must be a JSON object")
    return value


def dumps(value: Any) -> str:
    """Compact JSON, as stored in text columns."""
    return json.dumps(value, separators=(",", ":"))


def order_clause(order: str | None, columns: dict[str, str], default: str) -> str:
    """SQL ``ORDER BY`` text for a W&B ``order`` argument (``name``, ``-createdAt``, ...)."""
    if not order:
        return default
    descending = order.startswith("-")
    column = columns.get(order.lstrip("-+"))
    if column is None:
        raise InvalidInput(f"invalid order {order!r}: use one of {sorted(columns)} with an optional '-'")
    return f"{column} {'DESC' if descending else 'ASC'}"
