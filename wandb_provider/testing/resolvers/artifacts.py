"""Projects, types, collections, memberships, versions and files (as the wandb 0.31.0 SDK reads them)."""

from __future__ import annotations

import posixpath
from typing import Any

from graphql import GraphQLResolveInfo

from .. import ids
from ..blobs import b64_to_hex
from ..store.records import (
    Alias,
    ArtifactType,
    Collection,
    FileEntry,
    ManifestRecord,
    Membership,
    Project,
    Run,
    User,
    Version,
)
from ._common import Resolver, attr, connection, ctx, gid

# --- root fields -----------------------------------------------------------------------------


def resolve_project(
    _: Any, info: GraphQLResolveInfo, name: str | None = None, entityName: str | None = None
) -> Project | None:
    return ctx(info).store.accounts.find_project(ctx(info).user, entityName, name)


def resolve_artifact(_: Any, info: GraphQLResolveInfo, id: str) -> Version | None:
    number = ids.decode(id, "Artifact")
    return None if number is None else ctx(info).store.versions.visible_version(ctx(info).user, number)


def resolve_artifact_collection(_: Any, info: GraphQLResolveInfo, id: str) -> Collection | None:
    number = ids.decode(id, "ArtifactSequence", "ArtifactPortfolio", "ArtifactCollection")
    store = ctx(info).store
    collection = None if number is None else store.collections.find_collection(number)
    if collection is None:
        return None
    project = store.accounts.project(collection.project_id)
    return collection if store.accounts.can_read(ctx(info).user, store.accounts.entity(project.entity_id)) else None


def resolve_client_id_mapping(_: Any, info: GraphQLResolveInfo, clientID: str) -> Version | None:
    return ctx(info).store.versions.version_by_client_id(clientID)


# --- Project ---------------------------------------------------------------------------------


def _project_collection(project: Project, info: GraphQLResolveInfo, name: str) -> Collection | None:
    return ctx(info).store.collections.collection_by_name(project.id, name)


def _project_membership(project: Project, info: GraphQLResolveInfo, name: str) -> Membership | None:
    found = ctx(info).store.memberships.resolve_name(project, name)
    return found[1] if found else None


def _project_artifact(project: Project, info: GraphQLResolveInfo, name: str) -> Version | None:
    found = ctx(info).store.memberships.resolve_name(project, name)
    return ctx(info).store.versions.find_version(found[1].artifact_id) if found else None


def _project_collections(
    project: Project, info: GraphQLResolveInfo, after: str | None = None, first: int | None = None,
    filters: str | None = None, order: str | None = None,
) -> dict[str, Any]:
    items = ctx(info).store.collections.collections_in(project.id, None, filters, order)
    return connection(items, after, first)


def _project_run(project: Project, info: GraphQLResolveInfo, name: str, **_: Any) -> Run | None:
    return ctx(info).store.runs.run_by_name(project.id, name)


# --- ArtifactType ----------------------------------------------------------------------------


def _type_collection(artifact_type: ArtifactType, info: GraphQLResolveInfo, name: str) -> Collection | None:
    return ctx(info).store.collections.collection_by_name(artifact_type.project_id, name, artifact_type.id)


def _type_collections(
    artifact_type: ArtifactType, info: GraphQLResolveInfo, after: str | None = None, first: int | None = None,
    filters: str | None = None, order: str | None = None,
) -> dict[str, Any]:
    items = ctx(info).store.collections.collections_in(artifact_type.project_id, artifact_type.id, filters, order)
    return connection(items, after, first)


# --- ArtifactCollection ----------------------------------------------------------------------


def _collection_id(collection: Collection, info: GraphQLResolveInfo) -> str:
    return ids.encode(collection.typename, collection.id)


def _collection_aliases(
    collection: Collection, info: GraphQLResolveInfo, after: str | None = None, first: int | None = None
) -> dict[str, Any]:
    # Collection alias lists hold `latest` and custom aliases, never vN.
    return connection(ctx(info).store.aliases.collection_aliases(collection.id), after, first, default_page=1000)


def _collection_artifacts(
    collection: Collection, info: GraphQLResolveInfo, after: str | None = None, first: int | None = None,
    order: str | None = None, filters: str | None = None,
) -> dict[str, Any]:
    store = ctx(info).store
    members = store.memberships.members(collection, filters, order)

    def edge(member: Membership) -> dict[str, Any]:
        return {"node": store.versions.find_version(member.artifact_id), "version": f"v{member.version_index}"}

    return connection(members, after, first, edge)


def _collection_membership(collection: Collection, info: GraphQLResolveInfo, aliasName: str) -> Membership | None:
    return ctx(info).store.memberships.resolve_membership(collection, aliasName)


def _latest_artifact(collection: Collection, info: GraphQLResolveInfo) -> Version | None:
    member = ctx(info).store.memberships.resolve_membership(collection, "latest")
    return ctx(info).store.versions.find_version(member.artifact_id) if member else None


# --- Membership, Alias -----------------------------------------------------------------------


def _membership_files(
    membership: Membership, info: GraphQLResolveInfo, names: list[str] | None = None,
    after: str | None = None, first: int | None = None,
) -> dict[str, Any]:
    return _files(ctx(info).store.versions.find_version(membership.artifact_id), info, names, after, first)


# --- Artifact --------------------------------------------------------------------------------


def _aliases_everywhere(version: Version, info: GraphQLResolveInfo) -> list[Alias]:
    """The version's aliases in every collection, plus one ``vN`` alias per live membership.

    The SDK takes an artifact's ``version`` from the single ``vN`` alias of the collection it
    was fetched through, else from the *source* ``versionIndex``:
    without the ``vN`` aliases, listing a portfolio (``ProjectArtifacts``) would report source
    versions. Collection alias lists still exclude ``vN`` (§13.10).
    """
    store = ctx(info).store
    aliases = store.aliases.all_aliases_of(version.id)
    for member in store.memberships.live_memberships_of(version.id):
        aliases.append(Alias(id=-member.id, collection_id=member.collection_id,
                             alias=f"v{member.version_index}", artifact_id=version.id))
    return aliases


def _current_manifest(version: Version, info: GraphQLResolveInfo) -> ManifestRecord | None:
    if not version.manifest_md5:
        return None
    return ManifestRecord(artifact_id=version.id, manifest_type=version.manifest_type, md5=version.manifest_md5)


def _files(
    version: Version | None, info: GraphQLResolveInfo, names: list[str] | None = None,
    after: str | None = None, first: int | None = None,
) -> dict[str, Any]:
    if version is None:
        return connection([], after, first)
    store = ctx(info).store
    store.accounts.require_download(ctx(info).user, store.versions.version_project(version))
    return connection(store.versions.files_of(version.id, names), after, first)


def _created_by(version: Version, info: GraphQLResolveInfo) -> Run | User | None:
    store = ctx(info).store
    if version.run_id is not None:
        return store.runs.run(version.run_id)
    return store.accounts.user(version.user_id) if version.user_id else None


def _used_by(version: Version, info: GraphQLResolveInfo) -> Any:
    """Unpaged, as W&B answers the SDK's ArtifactUsedBy: every run that used the version."""
    return {"edges": [{"node": run} for run in ctx(info).store.runs.runs_using(version.id)]}


def _artifact_memberships(version: Version, info: GraphQLResolveInfo) -> Any:
    """Unpaged, as W&B answers the SDK's FetchLinkedArtifacts: every live membership."""
    return {"edges": [{"node": member} for member in ctx(info).store.memberships.live_memberships_of(version.id)]}


# --- Manifest and File -----------------------------------------------------------------------


def _manifest_file(manifest: ManifestRecord, info: GraphQLResolveInfo) -> dict[str, Any]:
    store = ctx(info).store
    version = store.versions.find_version(manifest.artifact_id)
    assert version is not None and manifest.md5 is not None
    store.accounts.require_download(ctx(info).user, store.versions.version_project(version))
    return {
        "id": ids.encode("File", -manifest.artifact_id),
        "name": "wandb_manifest.json",
        "directUrl": ctx(info).urls.download(manifest.md5, "wandb_manifest.json"),
        "sizeBytes": store.blobs.size(manifest.md5),
        "md5": None,
        "uploadUrl": None,
        "uploadHeaders": [],
    }


def _file_direct_url(entry: FileEntry, info: GraphQLResolveInfo) -> str:
    if entry.ref is not None or entry.md5 is None:
        # Deviation (open point 5 of the sheet): reference entries are listed so that the SDK's
        # download() materialises them; their directUrl is the reference itself.
        return entry.ref or ""
    return str(ctx(info).urls.download(b64_to_hex(entry.md5), posixpath.basename(entry.name)))


def _file_storage_path(entry: FileEntry, info: GraphQLResolveInfo) -> str | None:
    return None if entry.md5 is None else f"wandb_artifacts/{b64_to_hex(entry.md5)}"


def _file_artifact(entry: FileEntry, info: GraphQLResolveInfo) -> Version | None:
    return ctx(info).store.versions.find_version(entry.birth_artifact_id or entry.artifact_id)


RESOLVERS: dict[str, dict[str, Resolver]] = {
    "Query": {
        "project": resolve_project,
        "model": resolve_project,
        "artifact": resolve_artifact,
        "artifactCollection": resolve_artifact_collection,
        "clientIDMapping": resolve_client_id_mapping,
    },
    "Project": {
        "id": gid("Project"),
        "internalId": lambda p, info: str(p.id),
        "name": attr("name"),
        "entityName": attr("entity_name"),
        "entity": lambda p, info: ctx(info).store.accounts.entity(p.entity_id),
        "createdAt": attr("created_at"),
        "readOnly": lambda p, info: bool(p.read_only),
        "isBenchmark": lambda p, info: False,
        "user": lambda p, info: None,
        "artifactType": lambda p, info, name: ctx(info).store.collections.type_by_name(p.id, name),
        "artifactTypes": lambda p, info, after=None, first=None: connection(
            ctx(info).store.collections.types_in(p.id), after, first
        ),
        "artifact": _project_artifact,
        "artifactCollection": _project_collection,
        "artifactCollections": _project_collections,
        "artifactCollectionMembership": _project_membership,
        "run": _project_run,
        "bucket": _project_run,
    },
    "ArtifactType": {
        "id": gid("ArtifactType"),
        "name": attr("name"),
        "description": attr("description"),
        "createdAt": attr("created_at"),
        "artifactCollection": _type_collection,
        "artifactCollections": _type_collections,
    },
    "ArtifactCollection": {},
    "ArtifactSequence": {
        "latestArtifact": _latest_artifact,
        "digestAlgorithm": lambda c, info: c.digest_algorithm or "MANIFEST_MD5",
    },
    "ArtifactPortfolio": {},
    "ArtifactCollectionMembership": {
        "id": gid("ArtifactCollectionMembership"),
        "versionIndex": attr("version_index"),
        "createdAt": attr("created_at"),
        "aliases": lambda m, info: ctx(info).store.aliases.aliases_of(m.collection_id, m.artifact_id),
        "artifactCollection": lambda m, info: ctx(info).store.collections.collection(m.collection_id),
        "artifact": lambda m, info: ctx(info).store.versions.find_version(m.artifact_id),
        "files": _membership_files,
    },
    "ArtifactAlias": {
        "id": gid("ArtifactAlias"),
        "alias": attr("alias"),
        "artifactCollection": lambda a, info: ctx(info).store.collections.collection(a.collection_id),
    },
    "Tag": {"id": gid("Tag"), "name": attr("name")},
    "Artifact": {
        "id": gid("Artifact"),
        "artifactSequence": lambda v, info: ctx(info).store.collections.collection(v.sequence_id),
        "versionIndex": attr("version_index"),
        "artifactType": lambda v, info: ctx(info).store.collections.artifact_type(
            ctx(info).store.collections.collection(v.sequence_id).type_id
        ),
        "description": attr("description"),
        "metadata": lambda v, info: v.metadata or "{}",
        "ttlDurationSeconds": lambda v, info: v.ttl_seconds,
        "ttlIsInherited": lambda v, info: v.ttl_seconds == -1,
        "tags": lambda v, info: ctx(info).store.versions.version_tags(v.id),
        "historyStep": attr("history_step"),
        "state": attr("state"),
        "size": attr("size"),
        "digest": attr("digest"),
        "digestAlgorithm": attr("digest_algorithm"),
        "commitHash": attr("commit_hash"),
        "fileCount": attr("file_count"),
        "createdAt": attr("created_at"),
        "updatedAt": attr("updated_at"),
        "aliases": _aliases_everywhere,
        "currentManifest": _current_manifest,
        "createdBy": _created_by,
        "usedBy": _used_by,
        "artifactMemberships": _artifact_memberships,
    },
    "ArtifactManifest": {
        "id": lambda m, info: ids.encode("ArtifactManifest", m.artifact_id),
        "file": _manifest_file,
    },
    "File": {
        "id": gid("File"),
        "name": attr("name"),
        "displayName": attr("name"),
        "url": _file_direct_url,
        "sizeBytes": attr("size"),
        "storagePath": _file_storage_path,
        "mimetype": lambda f, info: None,
        "updatedAt": lambda f, info: None,
        "digest": attr("digest"),
        "md5": attr("md5"),
        "directUrl": _file_direct_url,
        "uploadUrl": lambda f, info: None,
        "uploadHeaders": lambda f, info: [],
        "uploadMultipartUrls": lambda f, info: None,
        "artifact": _file_artifact,
    },
}

_COLLECTION_FIELDS: dict[str, Resolver] = {
    "id": _collection_id,
    "name": attr("name"),
    "description": attr("description"),
    "createdAt": attr("created_at"),
    "updatedAt": attr("updated_at"),
    "state": attr("state"),
    "project": lambda c, info: ctx(info).store.accounts.project(c.project_id),
    "defaultArtifactType": lambda c, info: ctx(info).store.collections.artifact_type(c.type_id),
    "tags": lambda c, info: {"edges": [{"node": t} for t in ctx(info).store.collections.collection_tags(c.id)]},
    "aliases": _collection_aliases,
    "artifacts": _collection_artifacts,
    "artifactMembership": _collection_membership,
}
for _name in ("ArtifactSequence", "ArtifactPortfolio"):
    RESOLVERS[_name].update(_COLLECTION_FIELDS)
