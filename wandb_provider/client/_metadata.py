"""The values ``update()`` sends: metadata and tags checked (``rules``), metadata merged deeply, read back."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import InvalidValueError
from .models import ArtifactVersion
from .rules import MAX_METADATA_KEYS, check_metadata, check_tags

__all__ = ["MAX_METADATA_KEYS", "UpdateRequest", "check_metadata", "check_tags", "deep_merge"]

def deep_merge(base: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``patch`` merged in: nested dicts merge key by key, any other value replaces."""
    merged = dict(base)
    for key, value in patch.items():
        current = merged.get(key)
        if isinstance(value, Mapping) and isinstance(current, Mapping):
            merged[key] = deep_merge(current, value)
        else:
            merged[key] = value
    return merged


def _leaves(patch: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every value ``patch`` sets, by its key path (a nested dict sets its own leaves, not itself)."""
    for key, value in patch.items():
        if isinstance(value, Mapping) and value:
            yield from _leaves(value, (*prefix, key))
        else:
            yield (*prefix, key), value


_ABSENT = object()


def _at(metadata: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(metadata, Mapping) or key not in metadata:
            return _ABSENT
        metadata = metadata[key]
    return metadata


LOST, CONFLICT = "lost", "conflict"


@dataclass(frozen=True)
class UpdateRequest:
    """A validated ``update()``: checked before any request, diffed against the current version."""

    description: str | None
    metadata: dict[str, Any] | None
    metadata_mode: str
    tags_add: tuple[str, ...]
    tags_remove: tuple[str, ...]

    @classmethod
    def of(cls, description: str | None, metadata: Mapping[str, Any] | None, metadata_mode: str,
           tags_add: str | Iterable[str] | None, tags_remove: str | Iterable[str] | None) -> UpdateRequest:
        if metadata_mode not in ("merge", "replace"):
            raise InvalidValueError(f"metadata_mode must be 'merge' or 'replace', not {metadata_mode!r}.")
        if description is not None and not isinstance(description, str):
            raise InvalidValueError(f"description must be text, not {type(description).__name__}.")
        return cls(description, check_metadata(metadata) if metadata is not None else None, metadata_mode,
                   tuple(check_tags(tags_add, "tags_add")), tuple(check_tags(tags_remove, "tags_remove")))

    def merged(self, current: Mapping[str, Any]) -> dict[str, Any] | None:
        """The metadata to write over ``current`` (None: metadata is not part of this update)."""
        if self.metadata is None:
            return None
        return deep_merge(current, self.metadata) if self.metadata_mode == "merge" else self.metadata

    def changes_for(self, version: ArtifactVersion) -> dict[str, Any]:
        """The ``UpdateArtifactInput`` fields that would change ``version`` (empty: nothing to do)."""
        changes: dict[str, Any] = {}
        if self.description is not None and self.description != version.description:
            changes["description"] = self.description
        merged = self.merged(version.metadata)
        if merged is not None:
            check_metadata(merged)
            if merged != version.metadata:
                changes["metadata"] = json.dumps(merged, separators=(",", ":"), sort_keys=True)
        if new_tags := [t for t in self.tags_add if t not in version.tags]:
            changes["tagsToAdd"] = [{"tagName": t} for t in new_tags]
        if old_tags := [t for t in self.tags_remove if t in version.tags]:
            changes["tagsToDelete"] = [{"tagName": t} for t in old_tags]
        return changes

    def lost(self, before: Mapping[str, Any], now: Mapping[str, Any]) -> tuple[str, list[str]] | None:
        """How the metadata read back after our write contradicts it, or None when ours is all there.

        ``(LOST, keys)``: a concurrent merge that read before our write put old values back (or
        dropped our keys): merging again fixes it. ``(CONFLICT, keys)``: another writer set some of
        our keys to values of its own (or replaced the whole dict): merging again would undo theirs.
        """
        if self.metadata is None:
            return None
        if self.metadata_mode == "replace":
            return None if dict(now) == self.metadata else (CONFLICT, sorted(set(now) ^ set(self.metadata)))
        lost: list[str] = []
        taken: list[str] = []
        for path, value in _leaves(self.metadata):
            seen = _at(now, path)
            if seen is not _ABSENT and seen == value:
                continue
            old = _at(before, path)
            (lost if seen is _ABSENT or (old is not _ABSENT and seen == old) else taken).append(".".join(path))
        if taken:
            return CONFLICT, taken
        return (LOST, lost) if lost else None
