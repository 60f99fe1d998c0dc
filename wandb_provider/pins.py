"""``materialize(pin)``: the bytes of a pinned version on whatever worker runs the task.

A task's XCom crosses machines; a local path in it does not. ``UseArtifactOperator`` and
``ArtifactVersionSensor`` return the version's immutable identity (``id`` and ``digest``) with
their result: that is the pin. ``materialize`` fetches the version by id, refuses it if its
digest is no longer the pinned one, and downloads it (verified in-stream, through this worker's
cache) into a folder of this worker: the same bytes on every worker, and a re-run costs one read.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._airflow import _part, download_base, translate_errors
from ._values import InvalidValueError

if TYPE_CHECKING:
    from .client import ArtifactVersion, WandbClient

PINNED_FOLDER = "pinned"


def pin_of(value: Any) -> tuple[str, str]:
    """``(id, digest)`` of a pin: the XCom dict of ``UseArtifactOperator``/``ArtifactVersionSensor``
    (or any mapping with text ``id`` and ``digest``), or an asset event about a version (its
    ``extra``, a watcher's ``payload`` included); anything else is refused before any request."""
    from .assets import event_version

    value = event_version(value) or value
    if not isinstance(value, Mapping):
        raise InvalidValueError(
            f"a pin must be the XCom dict of UseArtifactOperator or ArtifactVersionSensor, not "
            f"{type(value).__name__} {str(value)[:100]!r}.",
            hint="Pass the upstream task's .output (or xcom_pull of it), not its path.")
    pinned = []
    for key in ("id", "digest"):
        item = value.get(key)
        if not isinstance(item, str) or not item.strip():
            raise InvalidValueError(f"the pin has no {key!r} (it has {sorted(map(str, value))}).",
                                    hint="Pass the XCom of UseArtifactOperator or ArtifactVersionSensor.")
        pinned.append(item.strip())
    return pinned[0], pinned[1]


def pinned_version(client: WandbClient, pin: Any, purpose: str) -> ArtifactVersion:
    """The version a pin names, read by id; ``ArtifactIntegrityError`` if its digest is no longer the
    pinned one (``purpose`` says what the bytes were wanted for, in the message)."""
    from .client.errors import ArtifactIntegrityError

    artifact_id, digest = pin_of(pin)
    version = client.artifact_by_id(artifact_id)
    if version.digest != digest:
        raise ArtifactIntegrityError(
            f"{purpose}: {version.qualified_name} (id {artifact_id}) now has digest {version.digest}, not the "
            f"pinned {digest}; refusing to use other bytes.",
            hint="Re-run the upstream task to pin the version that is there now.")
    return version


def _patterns(value: str | Sequence[str] | None) -> list[str] | None:
    """One pattern or a list of them (a lone string is one pattern, never its characters)."""
    if value is None:
        return None
    return [value] if isinstance(value, str) else list(value)


def materialize(
    pin: Any,
    root: str | os.PathLike[str] | None = None,
    *,
    wandb_conn_id: str = "wandb_default",
    include: str | Sequence[str] | None = None,
    exclude: str | Sequence[str] = (),
    verify: bool = True,
    cache: bool = True,
    max_workers: int | None = None,
) -> Path:
    """Download the pinned version into ``root`` on this worker and return that folder.

    :param pin: The XCom of ``UseArtifactOperator`` or ``ArtifactVersionSensor`` (its ``id`` and
        ``digest``; a ``path`` in it, written by another worker, is ignored), or an asset event about
        a version (``triggering_asset_events``; ``wandb_provider.assets.event_version``).
    :param root: Target folder. Default: ``<download base>/pinned/<entity>/<project>/<collection>/<vN>-<digest>``
        under ``[wandb] download_root`` (or ``WANDB_PROVIDER_DOWNLOAD_ROOT``, else a private temp folder).
    :param include: Only these files, globs or folders; ``exclude``: skip these.
    :param verify: Re-hash files already in ``root`` before trusting them (new bytes are always checked).
    :param cache: Use this worker's content-addressed cache.
    :raises AirflowFailException: the pin is malformed, the version is gone or its digest changed,
        or any other error a retry cannot fix; a transient error is raised as such for Airflow's retries.
    """
    from .hooks.wandb import WandbHook

    with translate_errors("materialize"):
        pin_of(pin)  # a malformed pin is refused before the connection is even looked up
        with WandbHook(wandb_conn_id=wandb_conn_id).get_client() as client:
            version = pinned_version(client, pin, "materialize")
            if root is None:
                parts = (version.entity, version.project, version.name, f"{version.version}-{version.digest}")
                root = download_base().joinpath(PINNED_FOLDER, *(_part(p) for p in parts))
            result = client.download(version, root, include=_patterns(include), exclude=_patterns(exclude) or [],
                                     mode="merge", verify=verify, cache=cache, max_workers=max_workers)
    return Path(result.root)
