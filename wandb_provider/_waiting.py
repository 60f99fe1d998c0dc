"""The one "is the version there yet?" decision, shared by the sensor (poke) and the trigger.

``WaitSpec.of`` reads the sensor's arguments as users write them (``_values``) and refuses bad ones
before any request. ``check()`` makes exactly one client call (one GraphQL request once the entity is known)
and maps its outcome: ready, not yet (not found, PENDING, a condition not met, a transient server
error), or a permanent failure that must end the wait at once (auth, permission, bad input). The
deferred sensor reads the same version from the triggerer's batched poll instead and decides it
with the same ``judge()`` and ``failure()``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from ._values import created_after_text, gate, optional_text, required_text
from .client.conditions import evaluate_version
from .client.errors import ArtifactNotFoundError, NotFoundError, WandbError

READY, WAITING, FAILED = "ready", "waiting", "failed"


@dataclass(frozen=True)
class WaitSpec:
    """What to wait for; JSON-safe via ``to_dict()`` so the trigger can be serialized."""

    artifact: str
    newer_than: str | None = None
    require: dict[str, Any] | None = None
    created_after: str | None = None  # ISO 8601 with a zone
    on_missing: str = "fail"  # a gate key the version's metadata lacks: "fail" at once, or "skip" (keep waiting)

    @classmethod
    def of(cls, artifact: Any, newer_than: Any = None, require: Any = None, created_after: Any = None,
           on_missing: Any = "fail") -> WaitSpec:
        """A checked spec from rendered arguments; raises ``WandbError`` (not transient) before any request."""
        from .client.conditions import check_on_missing, validate_gate, validate_newer_than
        from .client.paths import ArtifactPath

        path = required_text("artifact", artifact)
        ArtifactPath.parse(path, default_entity="entity", default_project="project")
        newer = optional_text("newer_than", newer_than)
        validate_newer_than(newer)
        checked = validate_gate(gate("require", require))
        return cls(path, newer, checked or None, created_after_text(created_after), check_on_missing(on_missing))

    def to_dict(self) -> dict[str, Any]:
        return {"artifact": self.artifact, "newer_than": self.newer_than, "require": self.require,
                "created_after": self.created_after, "on_missing": self.on_missing}

    def watched(self) -> tuple[str, str]:
        """The collection (the path without ``:alias``) and the alias or ``vN`` it names (``latest`` if none):
        what ``WandbClient.artifact`` resolves, and what the batched poll reads for the deferred sensor."""
        collection, _, name = self.artifact.partition(":")
        return collection, name or "latest"

    def created_after_time(self) -> dt.datetime | None:
        if self.created_after is None:
            return None
        return dt.datetime.fromisoformat(self.created_after)


@dataclass(frozen=True)
class Outcome:
    status: str  # READY, WAITING or FAILED
    message: str
    version: dict[str, Any] | None = None
    not_found: bool = False  # waiting because nothing answers to the path (yet)


def check(client: Any, spec: WaitSpec) -> Outcome:
    """Resolve once and decide."""
    from .client.gates import reads

    try:
        version = client.artifact(spec.artifact)
        gate = None
        if spec.require and reads(spec.require).any and version.state == "COMMITTED":  # run, relative terms
            gate = client.evaluate_gate(version, spec.require, on_missing=spec.on_missing)
    except WandbError as exc:
        return failure(exc)
    return judge(version, spec, gate)


def failure(exc: WandbError) -> Outcome:
    """What an error reading the version means: not found or transient is "not yet", the rest fails."""
    if isinstance(exc, (ArtifactNotFoundError, NotFoundError)):
        return Outcome(WAITING, f"not found yet: {exc}", not_found=True)
    if exc.transient:
        return Outcome(WAITING, f"W&B is failing for now, will try again: {exc}")
    return Outcome(FAILED, str(exc))


def missing_collection(client: Any, spec: WaitSpec) -> str | None:
    """Why the collection ``spec`` waits in does not exist (or this key cannot see it), or None when it
    does: one request. A collection that is not there will not get the alias by waiting, most often
    (a typo), so the sensor fails instead of waiting out its timeout."""
    collection, _ = spec.watched()
    try:
        next(iter(client.versions(collection)), None)
    except NotFoundError as exc:
        return str(exc)
    return None


def judge(version: Any, spec: WaitSpec, gate: Any = None) -> Outcome:
    """Whether the resolved ``version`` (an ``ArtifactVersion``) is what ``spec`` waits for
    (``gate``: ``spec.require`` already decided by the client, see ``check``)."""
    from ._airflow import version_xcom

    try:
        verdict = evaluate_version(version, newer_than=spec.newer_than, require=spec.require,
                                   created_after=spec.created_after_time(), on_missing=spec.on_missing,
                                   gate=gate)
    except WandbError as exc:  # e.g. a gate comparing a number with text: waiting will not change that
        return Outcome(FAILED, str(exc))
    if not verdict.ready:
        return Outcome(WAITING, verdict.reason)
    return Outcome(READY, verdict.reason, version_xcom(version))
