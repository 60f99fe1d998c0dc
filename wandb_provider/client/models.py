"""What the client returns: frozen dataclasses built from GraphQL nodes, JSON-safe via ``to_dict()``."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

from .paths import is_version

# W&B's timestamps: ISO 8601 in UTC, with or without a zone ("2024-05-01T12:00:00", "...00.123456Z").
_ISO_8601 = re.compile(r"(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?")


def _timestamp(value: str | None) -> datetime | None:
    """An aware ``datetime`` (UTC when W&B names no zone). The standard library's, not pendulum's:
    a fresh process that reads one version should not pay ~70 ms to import a date library."""
    if not value:
        return None
    found = _ISO_8601.fullmatch(value.strip())
    if found is None:
        raise ValueError(f"not an ISO 8601 timestamp: {value[:40]!r}")
    day, clock, fraction, zone = found.groups()
    micro = (fraction or "")[:6].ljust(6, "0")
    offset = "+00:00" if zone in (None, "Z") else f"{zone[:3]}:{zone[-2:]}"
    return datetime.fromisoformat(f"{day}T{clock}.{micro}{offset}")


def _metadata(value: Any) -> dict[str, Any]:
    if not value:
        return {}
    if isinstance(value, dict):
        return value
    loaded = json.loads(value)
    return loaded if isinstance(loaded, dict) else {}


def _malformed(exc: Exception) -> Exception:
    """A node without the fields W&B always sends: ``MalformedResponseError``, never a raw ``KeyError``."""
    from .errors import MalformedResponseError, WandbError

    if isinstance(exc, WandbError):
        return exc
    return MalformedResponseError(
        f"read an artifact version: W&B's answer lacks or mistypes a field ({type(exc).__name__}: {str(exc)[:200]}).",
        hint="A proxy or an incompatible server may be answering; try again later.",
    )


def web_url(base_url: str, entity: str, project: str, type_name: str, name: str, version: str) -> str:
    """The W&B web page of a version (``api.`` hosts serve the app without that prefix)."""
    app = base_url.replace("://api.", "://", 1)
    return f"{app}/{quote(entity)}/{quote(project)}/artifacts/{quote(type_name)}/{quote(name)}/{quote(version)}"


@dataclass(frozen=True)
class ArtifactVersion:
    """One artifact version as seen through one collection (its sequence or a linked portfolio).

    ``name`` is the collection, ``version`` the index there (``vN``) and ``source_version`` the
    index in the sequence it was logged into. ``aliases`` are this collection's aliases, ``latest``
    included and ``vN`` excluded.
    """

    id: str
    entity: str
    project: str
    name: str
    type: str
    version: str
    source_version: str
    aliases: tuple[str, ...]
    digest: str
    state: str
    size: int
    file_count: int
    description: str | None
    metadata: dict[str, Any] = field(hash=False)
    tags: tuple[str, ...]
    created_at: datetime | None
    updated_at: datetime | None
    collection_kind: str  # "sequence" or "portfolio"
    url: str
    source_entity: str = ""
    source_project: str = ""
    source_name: str = ""

    @property
    def qualified_name(self) -> str:
        return f"{self.entity}/{self.project}/{self.name}:{self.version}"

    @property
    def version_index(self) -> int:
        return int(self.version[1:])

    @property
    def is_link(self) -> bool:
        return self.collection_kind == "portfolio"

    @classmethod
    def from_graphql(
        cls,
        artifact: dict[str, Any],
        *,
        base_url: str,
        collection: dict[str, Any] | None = None,
        version_index: int | None = None,
        aliases: list[dict[str, Any]] | None = None,
    ) -> ArtifactVersion:
        """Build from an ``Artifact`` node, seen through ``collection`` (default: its sequence).

        A node without the fields W&B always sends is ``MalformedResponseError``, never a raw
        ``KeyError``/``TypeError``.
        """
        try:
            return cls._from_graphql(artifact, base_url, collection, version_index, aliases)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            raise _malformed(exc) from None

    @classmethod
    def _from_graphql(
        cls,
        artifact: dict[str, Any],
        base_url: str,
        collection: dict[str, Any] | None,
        version_index: int | None,
        aliases: list[dict[str, Any]] | None,
    ) -> ArtifactVersion:
        sequence = artifact["artifactSequence"]
        seen = collection or sequence
        project = seen["project"]
        source_index = artifact["versionIndex"]
        index = source_index if version_index is None else version_index
        if not all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in (source_index, index)):
            raise TypeError(f"versionIndex {source_index!r} / {index!r} is not a version index")
        if aliases is None:
            aliases = [
                a for a in artifact.get("aliases") or []
                if (a.get("artifactCollection") or {}).get("name") == seen["name"]
                and ((a.get("artifactCollection") or {}).get("project") or {}).get("name") == project["name"]
            ]
        names = tuple(sorted({a["alias"] for a in aliases if not is_version(a["alias"])}))
        entity = project["entity"]["name"]
        type_name = artifact["artifactType"]["name"]
        version = f"v{index}"
        return cls(
            id=artifact["id"],
            entity=entity,
            project=project["name"],
            name=seen["name"],
            type=type_name,
            version=version,
            source_version=f"v{source_index}",
            aliases=names,
            digest=artifact["digest"],
            state=artifact["state"],
            size=int(artifact.get("size") or 0),
            file_count=int(artifact.get("fileCount") or 0),
            description=artifact.get("description"),
            metadata=_metadata(artifact.get("metadata")),
            tags=tuple(sorted(t["name"] for t in artifact.get("tags") or [])),
            created_at=_timestamp(artifact.get("createdAt")),
            updated_at=_timestamp(artifact.get("updatedAt")),
            collection_kind="portfolio" if seen.get("__typename") == "ArtifactPortfolio" else "sequence",
            url=web_url(base_url, entity, project["name"], type_name, seen["name"], version),
            source_entity=sequence["project"]["entity"]["name"],
            source_project=sequence["project"]["name"],
            source_name=sequence["name"],
        )

    @classmethod
    def from_membership(cls, membership: dict[str, Any], *, base_url: str) -> ArtifactVersion:
        """Build from a ``MembershipFields`` node: the version as seen in that collection."""
        try:
            collection, index = membership["artifactCollection"], membership["versionIndex"]
            if not isinstance(collection, dict) or not isinstance(index, int) or isinstance(index, bool):
                raise TypeError(f"artifactCollection {collection!r}, versionIndex {index!r}")
            artifact, aliases = membership["artifact"], membership["aliases"]
        except (KeyError, TypeError) as exc:
            raise _malformed(exc) from None
        return cls.from_graphql(artifact, base_url=base_url, collection=collection, version_index=index,
                                aliases=aliases)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (for XCom): ISO timestamps, lists instead of tuples."""
        return {
            "id": self.id,
            "entity": self.entity,
            "project": self.project,
            "name": self.name,
            "type": self.type,
            "version": self.version,
            "source_version": self.source_version,
            "qualified_name": self.qualified_name,
            "aliases": list(self.aliases),
            "digest": self.digest,
            "state": self.state,
            "size": self.size,
            "file_count": self.file_count,
            "description": self.description,
            "metadata": json.loads(json.dumps(self.metadata)),
            "tags": list(self.tags),
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
            "collection_kind": self.collection_kind,
            "url": self.url,
        }


@dataclass(frozen=True)
class Viewer:
    """Who the API key belongs to."""

    id: str
    username: str
    entity: str
    email: str | None
    teams: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "username": self.username, "entity": self.entity, "email": self.email,
                "teams": list(self.teams)}


@dataclass(frozen=True)
class FileUrl:
    """Where to download one stored file of a version (a signed URL, fetched without auth)."""

    name: str
    url: str


@dataclass(frozen=True)
class DownloadResult:
    """What ``download()`` did: the files it covers, and where their bytes came from."""

    root: str
    files: tuple[str, ...]
    bytes_downloaded: int
    bytes_from_cache: int
    skipped_existing: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe, without the file list (it can be long; XCom is not for file lists)."""
        return {"root": self.root, "file_count": len(self.files), "bytes_downloaded": self.bytes_downloaded,
                "bytes_from_cache": self.bytes_from_cache, "skipped_existing": self.skipped_existing,
                "seconds": self.seconds}


@dataclass(frozen=True)
class VerifyReport:
    """How a folder differs from a version's manifest."""

    root: str
    checked: int
    missing: tuple[str, ...]
    mismatched: tuple[str, ...]
    unexpected: tuple[str, ...]
    unverifiable: tuple[str, ...] = ()  # references no recorded checksum covers (size alone proves nothing)
    unverifiable_allowed: bool = False

    @property
    def ok(self) -> bool:
        """True when every manifest file is present and intact (unexpected files are allowed); a
        reference that cannot be verified counts against it unless that was explicitly allowed."""
        return not self.missing and not self.mismatched and (self.unverifiable_allowed or not self.unverifiable)


@dataclass(frozen=True)
class ProgressUpdate:
    files_done: int
    files_total: int
    bytes_done: int
    bytes_total: int
    mb_per_second: float
    eta_seconds: float | None
    action: str = "downloaded"  # or "uploaded"

    def describe(self) -> str:
        eta = f"{self.eta_seconds:.0f}s" if self.eta_seconds is not None else "?"
        return (f"{self.action} {self.files_done}/{self.files_total} files, {self.bytes_done / 1e6:.1f}/"
                f"{self.bytes_total / 1e6:.1f} MB at {self.mb_per_second:.1f} MB/s, ETA {eta}")


@dataclass(frozen=True)
class AliasChange:
    """What ``update_aliases`` found and did: each alias's holder before and after (``vN`` or None)."""

    artifact: ArtifactVersion
    added: tuple[str, ...]
    removed: tuple[str, ...]
    before: dict[str, str | None] = field(hash=False)
    after: dict[str, str | None] = field(hash=False)
    changed: bool

    def to_dict(self) -> dict[str, Any]:
        return {"artifact": self.artifact.to_dict(), "added": list(self.added), "removed": list(self.removed),
                "before": dict(self.before), "after": dict(self.after), "changed": self.changed}


TTL_INHERIT = "inherit"
TTL = int | str | None  # seconds (> 0), None (no TTL) or TTL_INHERIT (the team's default)


@dataclass(frozen=True)
class TTLChange:
    """What ``set_ttl`` found and did: the TTL ``before`` and ``after`` (seconds, None for no TTL,
    ``"inherit"`` for the team's default)."""

    artifact: ArtifactVersion
    before: TTL
    after: TTL
    changed: bool

    def to_dict(self) -> dict[str, Any]:
        return {"artifact": self.artifact.to_dict(), "before": self.before, "after": self.after,
                "changed": self.changed}


@dataclass(frozen=True)
class DeleteOutcome:
    """What ``delete_if_unclaimed`` did with one version: ``deleted``, ``unlinked``, ``kept`` (and why),
    ``gone`` (someone else removed it first), or in a dry run ``would_delete``/``would_unlink``."""

    version: str
    action: str
    reason: str

    @property
    def removed(self) -> bool:
        return self.action in ("deleted", "unlinked")

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "action": self.action, "reason": self.reason}


@dataclass(frozen=True)
class WandbRun:
    """A W&B run (what ``upsert_run`` makes): where it lives and its id (``run_id``, W&B's run "name")."""

    entity: str
    project: str
    run_id: str
    id: str = ""  # W&B's GraphQL id
    display_name: str | None = None
    state: str | None = None
    job_type: str | None = None
    group: str | None = None
    url: str = ""

    @property
    def path(self) -> str:
        return f"{self.entity}/{self.project}/{self.run_id}"

    @classmethod
    def from_graphql(cls, node: dict[str, Any], *, base_url: str) -> WandbRun:
        """Build from a ``Run`` node (``RunFields``); a node without them is ``MalformedResponseError``."""
        try:
            project = node["project"]
            entity, name, run_id = project["entity"]["name"], project["name"], node["name"]
            return cls(entity=entity, project=name, run_id=run_id, id=str(node.get("id") or ""),
                       display_name=node.get("displayName"), state=node.get("state"), job_type=node.get("jobType"),
                       group=node.get("group"), url=run_web_url(base_url, entity, name, run_id))
        except (KeyError, TypeError) as exc:
            raise _malformed(exc) from None

    def to_dict(self) -> dict[str, Any]:
        return {"entity": self.entity, "project": self.project, "run_id": self.run_id, "id": self.id,
                "path": self.path, "display_name": self.display_name, "state": self.state,
                "job_type": self.job_type, "group": self.group, "url": self.url}


def run_web_url(base_url: str, entity: str, project: str, run_id: str) -> str:
    """The run's page in the W&B app (``api.`` hosts serve the app without that prefix)."""
    app = base_url.replace("://api.", "://", 1)
    return f"{app}/{quote(entity)}/{quote(project)}/runs/{quote(run_id)}"
