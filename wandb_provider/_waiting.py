"""The one "is the version there yet?" decision, shared by the sensor (poke) and the trigger.

``check()`` makes exactly one client call (one GraphQL request once the entity is known) and maps
its outcome: ready, not yet (not found, PENDING, a condition not met, a transient server error),
or a permanent failure that must end the wait at once (auth, permission, bad input).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from .client.conditions import evaluate_version
from .client.errors import ArtifactNotFoundError, NotFoundError, WandbError

READY, WAITING, FAILED = "ready", "waiting", "failed"


@dataclass(frozen=True)
class WaitSpec:
    """What to wait for; JSON-safe via ``to_dict()`` so the trigger can be serialized."""

    artifact: str
    newer_than: str | None = None
    require: dict[str, Any] | None = None
    created_after: str | None = None  # ISO 8601

    def to_dict(self) -> dict[str, Any]:
        return {"artifact": self.artifact, "newer_than": self.newer_than, "require": self.require,
                "created_after": self.created_after}

    def created_after_time(self) -> dt.datetime | None:
        if not self.created_after:
            return None
        import pendulum

        parsed = pendulum.parse(self.created_after)
        assert isinstance(parsed, dt.datetime)
        return parsed


@dataclass(frozen=True)
class Outcome:
    status: str  # READY, WAITING or FAILED
    message: str
    version: dict[str, Any] | None = None


def check(client: Any, spec: WaitSpec) -> Outcome:
    """Resolve once and decide."""
    from ._airflow import version_xcom

    try:
        version = client.artifact(spec.artifact)
    except (ArtifactNotFoundError, NotFoundError) as exc:
        return Outcome(WAITING, f"not found yet: {exc}")
    except WandbError as exc:
        if exc.transient:
            return Outcome(WAITING, f"W&B is failing for now, will try again: {exc}")
        return Outcome(FAILED, str(exc))
    try:
        verdict = evaluate_version(version, newer_than=spec.newer_than, require=spec.require,
                                   created_after=spec.created_after_time())
    except WandbError as exc:  # a gate that cannot be decided (e.g. a number against text) will not heal
        return Outcome(FAILED, str(exc))
    if not verdict.ready:
        return Outcome(WAITING, verdict.reason)
    return Outcome(READY, verdict.reason, version_xcom(version))
