"""Planning an alias change: validation, the compare-and-set guard and the minimal diff. Pure."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from .errors import AliasConflictError, BadRequestError
from .models import AliasChange, ArtifactVersion
from .paths import check_alias, is_version


@dataclass(frozen=True)
class AliasRequest:
    """A validated request: what to add and remove, and which holders the guard expects."""

    add: tuple[str, ...]
    remove: tuple[str, ...]
    guard: dict[str, str | None]

    @classmethod
    def of(cls, add: Sequence[str], remove: Sequence[str], guard: dict[str, str | None] | None) -> AliasRequest:
        """Validate before any request: alias names, guard values, no alias both added and removed."""
        request = cls(tuple(dict.fromkeys(add)), tuple(dict.fromkeys(remove)), dict(guard or {}))
        for alias in (*request.add, *request.remove, *request.guard):
            check_alias(alias, allow_version=False)
        for expected in request.guard.values():
            if expected is not None and not is_version(expected):
                raise BadRequestError(f"only_if_current values are versions like 'v3' or None, not {expected!r}.")
        both = set(request.add) & set(request.remove)
        if both:
            raise BadRequestError(f"aliases {sorted(both)} are both added and removed.")
        return request

    @property
    def watched(self) -> tuple[str, ...]:
        """Every alias whose current holder the plan needs to know."""
        return tuple(dict.fromkeys((*self.add, *self.remove, *self.guard)))


def plan(request: AliasRequest, version: ArtifactVersion, holders: dict[str, str | None]) -> AliasChange:
    """The minimal change (nothing for an alias already where it should be), or ``AliasConflictError``.

    A guard holds when the alias sits where it expects, or already on the target version: a
    re-run after success is then a no-op instead of a conflict.
    """
    conflicts = {
        alias: holders[alias] for alias, expected in request.guard.items()
        if holders[alias] != expected and holders[alias] != version.version
    }
    if conflicts:
        raise AliasConflictError(
            f"not moving aliases on {version.qualified_name}: "
            + ", ".join(f"{a!r} is on {conflicts[a] or 'no version'}, expected {request.guard[a] or 'no version'}"
                        for a in conflicts) + ".",
            hint="Another run moved it first; re-resolve and decide again.",
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
