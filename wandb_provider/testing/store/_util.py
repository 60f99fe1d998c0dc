"""Small helpers shared by the store modules: clock, names, JSON values."""

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


def now() -> str:
    """The current time as W&B-style ISO 8601 text (UTC)."""
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def is_version_alias(alias: str) -> bool:
    return bool(_VERSION_ALIAS.match(alias))


def check_name(kind: str, name: str | None) -> str:
    """Validate an artifact, collection, type or entity name."""
    if not name:
        raise InvalidInput(f"invalid {kind} name: it must not be empty")
    if len(name) > MAX_NAME:
        raise InvalidInput(f"invalid {kind} name {name[:40]!r}...: longer than {MAX_NAME} characters")
    if "/" in name or ":" in name:
        raise InvalidInput(f"invalid {kind} name {name!r}: it must not contain '/' or ':'")
    return name


def check_project_name(name: str | None) -> str:
    if not name:
        raise InvalidInput("invalid project name: it must not be empty")
    if len(name) > MAX_NAME:
        raise InvalidInput(f"invalid project name {name[:40]!r}...: longer than {MAX_NAME} characters")
    bad = sorted(set(name) & _PROJECT_FORBIDDEN)
    if bad:
        raise InvalidInput(f"invalid project name {name!r}: it must not contain any of {''.join(bad)!r}")
    return name


def check_alias(alias: str) -> str:
    """Validate an alias a client asks to add or remove."""
    if not alias:
        raise InvalidInput("invalid alias: it must not be empty")
    if len(alias) > MAX_NAME:
        raise InvalidInput(f"invalid alias {alias[:40]!r}...: longer than {MAX_NAME} characters")
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
