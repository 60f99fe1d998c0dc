"""A version's description, metadata and tags written: read, merge, write, read back, retried.

The checks and the merge (pure) are ``_metadata``; this module sends the requests. W&B has no
compare-and-set, so a concurrent merge that undid ours is merged again, up to ``METADATA_RETRIES`` times.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from . import _queries as q
from .errors import ArtifactNotFoundError
from .models import ArtifactVersion

if TYPE_CHECKING:
    from ._reads import ArtifactRef, Reads

METADATA_RETRIES = 3  # read-merge-write again after a concurrent merge undid ours (see update())


def update(
    reads: Reads,
    artifact: ArtifactRef,
    *,
    description: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    metadata_mode: str = "merge",
    tags_add: str | Sequence[str] = (),
    tags_remove: str | Sequence[str] = (),
) -> ArtifactVersion:
    """``WandbClient.update``: read, merge, write, read back; merge again when a concurrent write undid ours."""
    import logging
    import time

    from ._metadata import CONFLICT, UpdateRequest
    from ._writes import settle
    from .errors import MetadataConflictError

    request = UpdateRequest.of(description, metadata, metadata_mode, tags_add, tags_remove)
    started = time.monotonic()
    view = reads.version(artifact)
    current = reread(reads, view) if isinstance(artifact, ArtifactVersion) else view
    attempts = 1 + METADATA_RETRIES
    for attempt in range(1, attempts + 1):
        changes = request.changes_for(current)
        if not changes:
            return current
        written = write_version(reads, current, changes)
        if request.metadata is None:
            return written
        settle(time.monotonic() - started)
        now = reread(reads, view)
        problem = request.lost(current.metadata, now.metadata)
        if problem is None:
            return now
        kind, keys = problem
        if kind == CONFLICT:
            raise MetadataConflictError(
                f"update {view.qualified_name}: another writer changed the metadata at the same time and "
                f"set {keys} to values of its own; its values were kept.",
                hint="W&B has no compare-and-set; re-run to write these values again.",
            )
        if attempt < attempts:
            logging.getLogger("wandb_provider.client.writes").warning(
                "update %s: a concurrent metadata write undid %s; merging again (attempt %d of %d)",
                view.qualified_name, keys, attempt + 1, attempts)
        started = time.monotonic()
        current = now
    raise MetadataConflictError(
        f"update {view.qualified_name}: concurrent metadata writes undid this merge {attempts} times in a row.",
        hint="Another process keeps rewriting this version's metadata; re-run later.",
    )


def reread(reads: Reads, view: ArtifactVersion) -> ArtifactVersion:
    """``view`` with its description, metadata, tags and state read fresh (one request, by id)."""
    from ._writes import strict_answer

    what = f"read {view.qualified_name}"
    data = reads.graphql.execute(q.ARTIFACT_BY_ID, {"id": view.id}, what=what)
    with strict_answer(what, q.ARTIFACT_BY_ID.name):
        node = data.get("artifact")
        if node is None:
            raise ArtifactNotFoundError(f"{what}: the version no longer exists.", operation=q.ARTIFACT_BY_ID.name)
        fresh = ArtifactVersion.from_graphql(node, base_url=reads.config.base_url, aliases=[])
    return dataclasses.replace(view, description=fresh.description, metadata=fresh.metadata, tags=fresh.tags,
                               state=fresh.state, updated_at=fresh.updated_at)


def write_version(reads: Reads, version: ArtifactVersion, changes: dict[str, Any]) -> ArtifactVersion:
    """Send ``changes`` (``UpdateArtifactInput`` fields) and return ``version`` as W&B answered it."""
    from ._writes import strict_answer

    what = f"update {version.qualified_name}"
    data = reads.graphql.execute(q.UPDATE_ARTIFACT, {"input": {"artifactID": version.id, **changes}}, what=what)
    with strict_answer(what, q.UPDATE_ARTIFACT.name):
        node = data["updateArtifact"]["artifact"]
        fresh = ArtifactVersion.from_graphql(node, base_url=reads.config.base_url, aliases=[])
    return dataclasses.replace(version, description=fresh.description, metadata=fresh.metadata,
                               tags=fresh.tags, updated_at=fresh.updated_at)
