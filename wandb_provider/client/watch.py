"""Watch many collections with few requests: one GraphQL document reads many collections at once.

``poll_collections(client, watches)`` reads, for each watched collection, its newest ``WINDOW``
versions (unless no watcher of it needs them) and the version each watched alias or ``vN`` name
points to (exactly what ``WandbClient.artifact`` reads), in one request per ``BATCH`` collections
(GraphQL field aliases ``c0``, ``c1``... each with its own variables, so no value is ever spliced
into the document). A collection that does not exist (yet) reads as an empty snapshot; an error
that may concern one collection (a permission error, a 5xx) is isolated by reading that chunk
again in halves, so one bad watch never blinds the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._queries import _FRAGMENTS, _MEMBERSHIP_FRAGMENTS, Operation
from .errors import WandbError
from .models import ArtifactVersion
from .paths import ArtifactPath, check_alias

if TYPE_CHECKING:
    from .client import WandbClient

WINDOW = 50  # newest versions read per collection and poll: more new versions than this between polls are counted
BATCH = 25  # collections per request


@dataclass(frozen=True)
class CollectionWatch:
    """One collection (``entity/project/collection``, no alias) and the aliases watched in it.

    ``versions``: whether its ``WINDOW`` newest versions are read too (watchers of new versions need
    them; watchers of an alias and waiting sensors only need the holders)."""

    path: str
    aliases: tuple[str, ...] = ()
    versions: bool = True

    @classmethod
    def of(cls, collection: str, aliases: Sequence[str] = ()) -> CollectionWatch:
        """Checked: a collection path without alias or version, and valid alias names (no request)."""
        parsed = ArtifactPath.parse(collection, default_entity="entity", default_project="project")
        if parsed.alias is not None:
            from .errors import InvalidArtifactPathError

            raise InvalidArtifactPathError(
                f"{collection!r} names a version ({parsed.alias!r}); watch a collection, e.g. "
                "'acme/churn/churn-model', and pass the alias separately.")
        return cls(collection, tuple(sorted({check_alias(a, collection, allow_version=False) for a in aliases})))


@dataclass(frozen=True)
class CollectionSnapshot:
    """What one poll saw of a collection: newest versions first, and each watched alias's holder."""

    versions: tuple[ArtifactVersion, ...] = ()
    holders: dict[str, ArtifactVersion | None] = field(default_factory=dict)
    full: bool = False  # the window was full: older versions may exist that this poll did not read
    error: WandbError | None = None  # this collection could not be read (the others were)


def batch_document(count: int, aliases_per_collection: Sequence[int],
                   versions: Sequence[bool] | None = None) -> Operation:
    """The document for ``count`` collections; collection ``i`` asks for ``aliases_per_collection[i]`` holders
    and, if ``versions[i]`` (default: all), its newest versions."""
    slots: list[str] = []
    fields: list[str] = []
    for i in range(count):
        window = versions is None or versions[i]
        slots += [f"$e{i}: String!", f"$p{i}: String!"] + ([f"$n{i}: String!"] if window else [])
        holders = ""
        for j in range(aliases_per_collection[i]):
            slots.append(f"$a{i}_{j}: String!")
            holders += f"    a{j}: artifactCollectionMembership(name: $a{i}_{j}) {{ ...MembershipFields }}\n"
        newest = (
            f"    artifactCollection(name: $n{i}) {{\n"
            "      ...CollectionRef\n"
            f"      artifacts(first: {WINDOW}) {{\n"
            "        edges { version node { ...VersionFields\n"
            "          aliases { alias artifactCollection { ...CollectionRef } } } }\n"
            "      }\n"
            "    }\n"
        ) if window else ""
        fields.append(f"  c{i}: project(entityName: $e{i}, name: $p{i}) {{\n{newest}{holders}  }}\n")
    return Operation("WatchCollections", "query WatchCollections(" + ", ".join(slots) + ") {\n"
                     + "".join(fields) + "}\n" + (_MEMBERSHIP_FRAGMENTS if any(aliases_per_collection) else _FRAGMENTS))


def _snapshot(node: dict[str, Any] | None, watch: CollectionWatch, base_url: str) -> CollectionSnapshot:
    if node is None:  # no such project (yet)
        return CollectionSnapshot(holders=dict.fromkeys(watch.aliases))
    collection = node.get("artifactCollection")
    versions: list[ArtifactVersion] = []
    edges: list[dict[str, Any]] = []
    if collection is not None:
        edges = collection["artifacts"]["edges"]
        for edge in edges:
            versions.append(ArtifactVersion.from_graphql(edge["node"], base_url=base_url, collection=collection,
                                                         version_index=int(str(edge["version"])[1:])))
    holders: dict[str, ArtifactVersion | None] = {}
    for j, alias in enumerate(watch.aliases):
        membership = node.get(f"a{j}")
        holders[alias] = (ArtifactVersion.from_membership(membership, base_url=base_url)
                          if membership and membership.get("artifact") else None)
    versions.sort(key=lambda v: v.version_index, reverse=True)
    return CollectionSnapshot(tuple(versions), holders, full=len(edges) >= WINDOW)


def _read(client: WandbClient, watches: Sequence[CollectionWatch]) -> list[CollectionSnapshot]:
    """One request for ``watches``; raises what the request raised."""
    variables: dict[str, Any] = {}
    for i, watch in enumerate(watches):
        target = client.resolve_path(watch.path)
        variables.update({f"e{i}": target.entity, f"p{i}": target.project})
        if watch.versions:
            variables[f"n{i}"] = target.name
        for j, alias in enumerate(watch.aliases):
            variables[f"a{i}_{j}"] = f"{target.name}:{alias}"
    operation = batch_document(len(watches), [len(w.aliases) for w in watches], [w.versions for w in watches])
    data = client._graphql.execute(operation, variables, what=f"watch {len(watches)} artifact collection(s)")
    base_url = client.config.base_url
    return [_snapshot(data.get(f"c{i}"), watch, base_url) for i, watch in enumerate(watches)]


def _splits(exc: WandbError) -> bool:
    """Whether a failed batch is worth reading again in halves: W&B answered it with a 5xx (the batch,
    perhaps one collection in it, made the server fail). A timeout, a dropped connection or a 429
    hits every collection alike; reading more requests would only add load."""
    from .errors import ServerError

    status = exc.status if exc.status is not None else getattr(exc, "last_status", None)
    return isinstance(exc, ServerError) and status is not None and 500 <= status < 600


def _read_split(client: WandbClient, watches: Sequence[CollectionWatch]) -> list[CollectionSnapshot]:
    """Read ``watches`` in one request; when that fails for one of them (a permanent error) or with a
    5xx, read each half again, so an error stays with the collection(s) it belongs to."""
    try:
        return _read(client, watches)
    except WandbError as exc:
        if len(watches) == 1 and (not exc.transient or _splits(exc)):
            return [CollectionSnapshot(error=exc)]
        if exc.transient and not _splits(exc):
            raise
        middle = len(watches) // 2
        return _read_split(client, watches[:middle]) + _read_split(client, watches[middle:])


def poll_collections(client: WandbClient,
                     watches: Sequence[CollectionWatch]) -> dict[CollectionWatch, CollectionSnapshot]:
    """A snapshot of every watch, in ``ceil(len(watches) / BATCH)`` requests when all goes well.

    A failure of a chunk that hits every collection alike (a timeout, a dropped connection, a 429)
    is raised (the caller polls again later). A permanent error, or a 5xx, is narrowed down by
    reading the chunk again in halves: the collection(s) at fault get snapshots carrying the error
    (``error.transient`` says whether the next poll may do better), the others their snapshots."""
    result: dict[CollectionWatch, CollectionSnapshot] = {}
    unique = list(dict.fromkeys(watches))
    for start in range(0, len(unique), BATCH):
        chunk = unique[start:start + BATCH]
        result.update(zip(chunk, _read_split(client, chunk), strict=True))
    return result
