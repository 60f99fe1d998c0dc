"""``materialize(pin)``: the bytes of a pinned version on whatever worker runs the task.

A task's XCom crosses machines; a local path in it does not. ``UseArtifactOperator`` and
``ArtifactVersionSensor`` return the version's immutable identity (``id``, ``digest`` and
``qualified_name``) with their result: that is the pin. ``materialize`` fetches the version by id
and honours the pin only when W&B agrees with all of it: that id has the pinned digest and is the
version the pinned qualified name names (and, for an asset event, that name is in the event's
collection). Anyone who can write an asset event (a task with an ``AssetAlias`` outlet, a REST API
user) can put another version's id and digest in its extra; a pin that is not whole is an
``ArtifactIntegrityError`` naming the mismatch (README, "Safety"). Then it downloads the version
(verified in-stream, through this worker's cache) into a folder of this worker: the same bytes on
every worker, and a re-run costs one read.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._airflow import _part, download_base, translate_errors
from ._values import InvalidValueError

if TYPE_CHECKING:
    from .client import ArtifactVersion, WandbClient

PINNED_FOLDER = "pinned"


_DIGEST = re.compile(r"^[0-9a-f]{32}$")
PIN_KEYS = ("id", "digest", "qualified_name")


@dataclass(frozen=True)
class Pin:
    """A version's identity as an XCom or an asset event gives it; ``collection`` is the event's
    ``wandb://`` asset (``entity/project/collection``) when the pin came from an event.

    A whole pin (``pin_of``) has ``id``, ``digest`` and ``qualified_name``; a verification's pin
    (``pin_of(..., whole=False)``) may name less: a digest, an id, a ``version`` (``vN``) or a
    qualified name, and each part it names is checked."""

    id: str | None
    digest: str | None
    qualified_name: str | None
    collection: str | None = None
    version: str | None = None

    def fields(self) -> dict[str, str]:
        """The parts this pin names (``digest``, ``id``, ``qualified_name``, ``version``)."""
        parts = {"digest": self.digest, "id": self.id, "qualified_name": self.qualified_name, "version": self.version}
        return {key: value for key, value in parts.items() if value is not None}


def _event_collection(event: Any) -> str | None:
    from .assets import SCHEME

    asset = getattr(event, "asset", None)
    uri = getattr(asset, "uri", None)
    prefix = f"{SCHEME}://"
    return uri[len(prefix):] if isinstance(uri, str) and uri.startswith(prefix) else None


def pin_of(value: Any, *, whole: bool = True, what: str = "pin") -> Pin:
    """The one reader of pins: the XCom dict of ``UseArtifactOperator``/``ArtifactVersionSensor`` (or
    any mapping with text ``id``, ``digest`` and ``qualified_name``), or an asset event about a
    version (its ``extra``, a watcher's ``payload`` included); anything else is refused before any
    request. ``whole=False`` (a verification's ``pin``, named ``what``) also takes a mapping with
    only a ``digest`` or an ``id`` (or one under ``artifact``: the XCom of an alias update or a TTL
    change), and text: a digest (32 hex digits), ``vN`` or ``entity/project/collection:vN``."""
    from .assets import event_version

    collection = _event_collection(value)
    value = event_version(value) or value
    if not whole:
        return _partial(value, what, collection)
    if not isinstance(value, Mapping):
        raise InvalidValueError(
            f"a pin must be the XCom dict of UseArtifactOperator or ArtifactVersionSensor, not "
            f"{type(value).__name__} {str(value)[:100]!r}.",
            hint="Pass the upstream task's .output (or xcom_pull of it), not its path.")
    pinned = []
    for key in ("id", "digest", "qualified_name"):
        item = value.get(key)
        if not isinstance(item, str) or not item.strip():
            raise InvalidValueError(f"the pin has no {key!r} (it has {sorted(map(str, value))}).",
                                    hint="Pass the XCom of UseArtifactOperator or ArtifactVersionSensor: a pin "
                                         "is honoured only whole (id, digest and qualified name).")
        pinned.append(item.strip())
    return Pin(pinned[0], pinned[1], pinned[2], collection)


def _partial(value: Any, what: str, collection: str | None) -> Pin:
    """A verification's pin: as much of a version's identity as the caller has (see ``pin_of``)."""
    from .client.paths import is_version

    if isinstance(value, Mapping):
        given: Mapping[Any, Any] = value
        if isinstance(given.get("artifact"), Mapping) and "digest" not in given:
            given = given["artifact"]  # the XCom of an alias update or a TTL change
        parts = {key: given[key].strip() for key in PIN_KEYS if isinstance(given.get(key), str) and given[key].strip()}
        if "digest" not in parts and "id" not in parts:
            raise InvalidValueError(
                f"{what} is a dict without 'digest' or 'id' (keys: {sorted(map(str, given))[:10]}).",
                hint="Pass the XCom of an upstream W&B task (e.g. UseArtifactOperator), a digest or a version.")
        if "digest" in parts and not _DIGEST.match(parts["digest"]):
            raise InvalidValueError(f"{what}['digest'] {parts['digest']!r} is not a W&B digest (32 hex digits).")
        return Pin(parts.get("id"), parts.get("digest"), parts.get("qualified_name"), collection)
    text = value.strip() if isinstance(value, str) else ""
    if _DIGEST.match(text.lower()):
        return Pin(None, text.lower(), None)
    if is_version(text):
        return Pin(None, None, None, version=text)
    name, _, version = text.rpartition(":")
    if len(name.split("/")) == 3 and all(name.split("/")) and is_version(version):
        return Pin(None, None, text)
    raise InvalidValueError(
        f"{what} {value!r} is neither a digest (32 hex digits), a version ('v3'), "
        "'entity/project/collection:v3', nor the XCom of an upstream W&B task.",
        hint="An alias such as 'production' can move; pin what an upstream task resolved instead.")


def pinned_version(client: WandbClient, pin: Any, purpose: str) -> ArtifactVersion:
    """The version a pin names, read by id, honoured only when W&B agrees with the whole pin: its
    digest is the pinned one, it is the version the pinned qualified name names, and that name is in
    the event's collection; otherwise ``ArtifactIntegrityError`` naming the mismatch (``purpose``
    says what the bytes were wanted for)."""
    from .client.errors import ArtifactIntegrityError, ArtifactNotFoundError, NotFoundError

    whole = pin_of(pin)
    assert whole.id is not None and whole.digest is not None and whole.qualified_name is not None
    hint = "Re-run the upstream task to pin the version that is there now; if nobody should have written " \
           "this pin, find who wrote the asset event or XCom."
    version = client.artifact_by_id(whole.id)
    if version.digest != whole.digest:
        raise ArtifactIntegrityError(
            f"{purpose}: {version.qualified_name} (id {whole.id}) now has digest {version.digest}, not the "
            f"pinned {whole.digest}; refusing to use other bytes.", hint=hint)
    if version.qualified_name != whole.qualified_name:
        try:  # the same version seen through another name (a registry link) is the same version
            named: ArtifactVersion | None = client.artifact(whole.qualified_name)
        except (ArtifactNotFoundError, NotFoundError):
            named = None
        if named is None or named.id != version.id or named.digest != version.digest:
            raise ArtifactIntegrityError(
                f"{purpose}: the pin names {whole.qualified_name}, but its id {whole.id} and digest {whole.digest} "
                f"are those of {version.qualified_name}"
                + (f" ({whole.qualified_name} is id {named.id}, digest {named.digest})" if named else
                   f" ({whole.qualified_name} does not exist)")
                + "; refusing a pin whose id, digest and name disagree.", hint=hint)
    if whole.collection is not None and whole.qualified_name.rpartition(":")[0] != whole.collection:
        raise ArtifactIntegrityError(
            f"{purpose}: the asset event is about {whole.collection}, but its extra pins {whole.qualified_name}; "
            "refusing a version from another collection.", hint=hint)
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
