"""Validation of the values ``update()`` sends: metadata and tags (wandb-protocol.md §11.6)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import BadRequestError
from .models import ArtifactVersion

MAX_METADATA_KEYS = 100
_TAG = re.compile(r"^[-\w]+( +[-\w]+)*$")


def check_metadata(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON object of at most 100 top-level keys with finite numbers only; returned as a plain dict."""
    if not isinstance(metadata, Mapping):
        raise BadRequestError(f"metadata must be a dict, not {type(metadata).__name__}.")
    if len(metadata) > MAX_METADATA_KEYS:
        raise BadRequestError(
            f"metadata has {len(metadata)} top-level keys; W&B allows at most {MAX_METADATA_KEYS}.",
            hint="Nest related values under fewer keys.",
        )
    try:
        text = json.dumps(dict(metadata), allow_nan=False)
    except ValueError:
        raise BadRequestError("metadata contains NaN or Infinity, which JSON (and W&B) cannot store.",
                              hint="Replace them with None or a string.") from None
    except TypeError as exc:
        raise BadRequestError(f"metadata is not JSON-serializable: {exc}.",
                              hint="Convert values to str, int, float, bool, list or dict.") from None
    value: dict[str, Any] = json.loads(text)
    _reject_non_finite(value)
    return value


def _reject_non_finite(value: Any) -> None:  # pragma: no cover - json.dumps(allow_nan=False) catches these
    if isinstance(value, float) and not math.isfinite(value):
        raise BadRequestError("metadata contains NaN or Infinity.")


def check_tags(tags: Iterable[str]) -> list[str]:
    result = []
    for tag in tags:
        if not isinstance(tag, str) or len(tag) > 128 or not _TAG.match(tag):
            raise BadRequestError(
                f"invalid tag {tag!r}: tags are letters, digits, '-' and '_' words separated by single spaces "
                "(at most 128 characters)."
            )
        result.append(tag)
    return result


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
           tags_add: Sequence[str], tags_remove: Sequence[str]) -> UpdateRequest:
        if metadata_mode not in ("merge", "replace"):
            raise BadRequestError(f"metadata_mode must be 'merge' or 'replace', not {metadata_mode!r}.")
        return cls(description, check_metadata(metadata) if metadata is not None else None, metadata_mode,
                   tuple(check_tags(tags_add)), tuple(check_tags(tags_remove)))

    def changes_for(self, version: ArtifactVersion) -> dict[str, Any]:
        """The ``UpdateArtifactInput`` fields that would change ``version`` (empty: nothing to do)."""
        changes: dict[str, Any] = {}
        if self.description is not None and self.description != version.description:
            changes["description"] = self.description
        if self.metadata is not None:
            merged = {**version.metadata, **self.metadata} if self.metadata_mode == "merge" else self.metadata
            check_metadata(merged)
            if merged != version.metadata:
                changes["metadata"] = json.dumps(merged, separators=(",", ":"), sort_keys=True)
        if new_tags := [t for t in self.tags_add if t not in version.tags]:
            changes["tagsToAdd"] = [{"tagName": t} for t in new_tags]
        if old_tags := [t for t in self.tags_remove if t in version.tags]:
            changes["tagsToDelete"] = [{"tagName": t} for t in old_tags]
        return changes
