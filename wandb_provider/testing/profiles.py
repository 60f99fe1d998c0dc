"""Server profiles: which W&B Server the local server pretends to be.

* ``latest`` (default): today's W&B, every optional feature the SDK negotiates is on.
* ``legacy``: the oldest W&B Server the wandb 0.31 SDK still supports. W&B's SDK release notes
  end compatibility with servers older than 0.70.0 (SDK 0.28.1, which also dropped the SDK's
  fallbacks for servers without ``artifactCollectionMembership`` and membership ``files``: both
  stay). The artifact features the SDK negotiates and W&B added later are reported off, and the
  schema fields they bring are gone. The official SDK works on both: it negotiates these
  features itself.

Pick one with ``--server-profile``, ``ServerConfig(profile=...)``, the pytest marker
``wandb_server(profile=...)`` or the environment variable ``WANDB_PROVIDER_SERVER_PROFILE``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

PROFILE_ENV = "WANDB_PROVIDER_SERVER_PROFILE"


@dataclass(frozen=True)
class Profile:
    name: str
    disabled_features: frozenset[str]
    # Schema fields the profile's server lacks: (type or input type, field).
    missing_fields: frozenset[tuple[str, str]]


LATEST = Profile("latest", frozenset(), frozenset())
LEGACY = Profile(  # W&B Server 0.70.0
    "legacy",
    disabled_features=frozenset({
        "ARTIFACT_DIGEST_ALGORITHM",  # per-file digests and digestAlgorithm on file creation
        "ARTIFACT_MEMBERSHIP_IN_LINK_ARTIFACT_RESPONSE",  # linkArtifact answers only versionIndex
    }),
    missing_fields=frozenset({
        ("LinkArtifactPayload", "artifactMembership"),
        ("CreateArtifactFileSpecInput", "digest"),
        ("CreateArtifactFilesInput", "digestAlgorithm"),
    }),
)
PROFILES = {p.name: p for p in (LATEST, LEGACY)}


def profile_named(name: str | None) -> Profile:
    """The profile ``name``, else the one ``WANDB_PROVIDER_SERVER_PROFILE`` names, else ``latest``."""
    chosen = (name or os.environ.get(PROFILE_ENV) or "latest").strip().lower()
    if chosen not in PROFILES:
        raise ValueError(f"unknown server profile {chosen!r}; choose one of {', '.join(PROFILES)}")
    return PROFILES[chosen]
