"""W&B's time-to-live of a version: the values ``set_ttl`` accepts and how W&B's API spells them.

W&B's ``ttlDurationSeconds`` is seconds (> 0), -1 for "inherits the team's default" (with
``ttlIsInherited``) or -2 for "no TTL", as the official SDK sends them (``Artifact.ttl``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import InvalidValueError
from .models import TTL, TTL_INHERIT

_TTL_INHERIT_WIRE = -1  # W&B's ttlDurationSeconds for "inherits the team default"
_TTL_DISABLED_WIRE = -2  # and for "no TTL"
MAX_TTL_SECONDS = 100 * 365 * 24 * 3600


def check_ttl(ttl: Any) -> TTL:
    """A TTL value ``set_ttl`` accepts: whole seconds > 0 (within 100 years), None, or ``"inherit"``."""
    if ttl is None or ttl == TTL_INHERIT:
        return ttl  # type: ignore[no-any-return]
    if isinstance(ttl, float) and ttl.is_integer():
        ttl = int(ttl)
    if isinstance(ttl, bool) or not isinstance(ttl, int) or not 0 < ttl <= MAX_TTL_SECONDS:
        raise InvalidValueError(
            f"ttl must be whole seconds from 1 to {MAX_TTL_SECONDS}, None (no TTL) or {TTL_INHERIT!r}, not {ttl!r}.")
    return ttl


def ttl_to_wire(ttl: TTL) -> int:
    if ttl is None:
        return _TTL_DISABLED_WIRE
    if ttl == TTL_INHERIT:
        return _TTL_INHERIT_WIRE
    assert isinstance(ttl, int)
    return ttl


def ttl_from_wire(node: Mapping[str, Any]) -> TTL:
    if node["ttlIsInherited"]:
        return TTL_INHERIT
    seconds = node["ttlDurationSeconds"]
    if isinstance(seconds, bool) or not isinstance(seconds, int):
        raise TypeError(f"ttlDurationSeconds is {seconds!r}")
    return seconds if seconds > 0 else None
