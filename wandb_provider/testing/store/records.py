"""Plain records the store hands to the resolvers; W&B nouns, one per table."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class User:
    id: int
    username: str
    api_key: str
    email: str
    created_at: str


@dataclass(frozen=True)
class Entity:
    id: int
    name: str
    kind: str  # "user" (personal), "team" or "org" (an organization's entity)
    user_id: int | None
    org_id: int | None


@dataclass(frozen=True)
class Organization:
    id: int
    name: str
    entity_id: int


@dataclass(frozen=True)
class Project:
    id: int
    entity_id: int
    name: str
    created_at: str
    read_only: int
    entity_name: str = ""

    @property
    def is_registry(self) -> bool:
        return self.name.startswith("wandb-registry-")

    @property
    def is_legacy_model_registry(self) -> bool:
        return self.name == "model-registry"


@dataclass(frozen=True)
class ArtifactType:
    id: int
    project_id: int
    name: str
    description: str | None
    created_at: str


@dataclass(frozen=True)
class Collection:
    id: int
    project_id: int
    type_id: int
    name: str
    kind: str  # "SEQUENCE" or "PORTFOLIO"
    description: str | None
    state: str
    digest_algorithm: str | None
    next_index: int
    created_at: str
    updated_at: str

    @property
    def typename(self) -> str:
        return "ArtifactSequence" if self.kind == "SEQUENCE" else "ArtifactPortfolio"


@dataclass(frozen=True)
class Version:
    """An artifact version (W&B's ``Artifact``): the content and its source-sequence index."""

    id: int
    sequence_id: int
    version_index: int
    digest: str
    digest_algorithm: str
    state: str
    size: int
    file_count: int
    description: str | None
    metadata: str | None
    ttl_seconds: int
    history_step: int | None
    commit_hash: str | None
    storage_region: str | None
    manifest_md5: str | None
    manifest_expected: str | None
    manifest_type: str
    pending_aliases: str
    client_id: str | None
    sequence_client_id: str | None
    run_id: int | None
    user_id: int | None
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class Membership:
    id: int
    collection_id: int
    artifact_id: int
    version_index: int
    created_at: str


@dataclass(frozen=True)
class Alias:
    id: int
    collection_id: int
    alias: str
    artifact_id: int


@dataclass(frozen=True)
class Tag:
    id: int
    name: str


@dataclass(frozen=True)
class FileEntry:
    id: int
    artifact_id: int
    name: str
    md5: str | None
    digest: str
    size: int
    ref: str | None
    birth_artifact_id: int | None


@dataclass(frozen=True)
class Run:
    id: int
    project_id: int
    name: str
    display_name: str | None
    state: str | None
    config: str | None
    summary: str | None
    user_id: int | None
    created_at: str
    group_name: str | None = None
    job_type: str | None = None


@dataclass(frozen=True)
class ManifestRecord:
    """The manifest file of one artifact version (one per version in this emulator)."""

    artifact_id: int
    manifest_type: str
    md5: str | None
