"""The values ``update()`` sends: metadata and tags checked, metadata merged deeply, the read-back judged."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import InvalidValueError
from .models import ArtifactVersion
from .values import as_str_list, parse_literal

MAX_METADATA_KEYS = 100
_TAG = re.compile(r"^[-\w]+( +[-\w]+)*$")


def check_metadata(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON object of at most 100 top-level keys with finite numbers only; returned as a plain dict."""
    if not isinstance(metadata, Mapping):
        raise InvalidValueError(f"metadata must be a dict, not {type(metadata).__name__}.")
    if len(metadata) > MAX_METADATA_KEYS:
        raise InvalidValueError(
            f"metadata has {len(metadata)} top-level keys; W&B allows at most {MAX_METADATA_KEYS}.",
            hint="Nest related values under fewer keys.",
        )
    try:
        text = json.dumps(dict(metadata), allow_nan=False)
    except RecursionError:
        raise InvalidValueError("metadata is nested too deeply to be stored as JSON.") from None
    except ValueError as exc:
        if "circular" in str(exc).lower():
            raise InvalidValueError("metadata contains itself (a circular reference).") from None
        raise InvalidValueError("metadata contains NaN or Infinity, which JSON (and W&B) cannot store.",
                                hint="Replace them with None or a string.") from None
    except TypeError as exc:
        raise InvalidValueError(f"metadata is not JSON-serializable: {exc}.",
                                hint="Convert values to str, int, float, bool, list or dict.") from None
    value: dict[str, Any] = json.loads(text)
    _reject_non_finite(value)
    return value


def _reject_non_finite(value: Any) -> None:  # pragma: no cover - json.dumps(allow_nan=False) catches these
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidValueError("metadata contains NaN or Infinity.")


def check_tags(tags: str | Iterable[str] | None, what: str = "tags") -> list[str]:
    """Tags by W&B's rule; one string is one tag (never its letters), a rendered list literal a list."""
    result = []
    for tag in as_str_list(tags, what):
        if len(tag) > 128 or not _TAG.match(tag):
            raise InvalidValueError(
                f"invalid tag {tag!r}: tags are letters, digits, '-' and '_' words separated by single spaces "
                "(at most 128 characters)."
            )
        result.append(tag)
    return result


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
    def of(cls, description: str | None, metadata: Mapping[str, Any] | str | None, metadata_mode: str,
           tags_add: str | Iterable[str] | None, tags_remove: str | Iterable[str] | None) -> UpdateRequest:
        if metadata_mode not in ("merge", "replace"):
            raise InvalidValueError(f"metadata_mode must be 'merge' or 'replace', not {metadata_mode!r}.")
        if description is not None and not isinstance(description, str):
            raise InvalidValueError(f"description must be text, not {type(description).__name__}.")
        if isinstance(metadata, str):
            metadata = parse_literal(metadata, "metadata") if metadata.strip() else None
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
