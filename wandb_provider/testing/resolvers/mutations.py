"""Artifact mutations: logging, aliases, edits, links and collections (as the wandb 0.31.0 SDK sends them)."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLResolveInfo

from .. import ids
from ..blobs import b64_to_hex
from ..errors import NotFound
from ._common import Resolver, ctx, decode_id


def _artifact_id(value: str) -> int:
    return decode_id(value, "Artifact")


# --- logging ---------------------------------------------------------------------------------


def resolve_create_artifact(_: Any, info: GraphQLResolveInfo, input: dict[str, Any]) -> dict[str, Any]:
    return {"artifact": ctx(info).store.uploads.create_artifact(ctx(info).user, input)}


def _manifest_payload(info: GraphQLResolveInfo, artifact_id: int) -> dict[str, Any]:
    gid = ids.encode("Artifact", artifact_id)
    version = ctx(info).store.versions.live_version(artifact_id)
    # As W&B signs the declared MD5 into the URL, the upload must send it back (and match it).
    headers = ["Content-Type:application/json"]
    if version.manifest_expected:
        headers.append(f"Content-MD5:{version.manifest_expected}")
    return {
        "artifactManifest": {
            "id": ids.encode("ArtifactManifest", artifact_id),
            "type": version.manifest_type,
            "file": {
                "id": ids.encode("File", -artifact_id),
                "name": "wandb_manifest.json",
                "displayName": "wandb_manifest.json",
                "directUrl": "",
                "sizeBytes": 0,
                "uploadUrl": ctx(info).urls.manifest_upload(gid),
                "uploadHeaders": headers,
            },
        }
    }


def resolve_create_artifact_manifest(_: Any, info: GraphQLResolveInfo, input: dict[str, Any]) -> dict[str, Any]:
    artifact_id = _artifact_id(input["artifactID"])
    ctx(info).store.uploads.upsert_manifest(ctx(info).user, artifact_id, input.get("digest"), input.get("type"))
    return _manifest_payload(info, artifact_id)


def resolve_update_artifact_manifest(_: Any, info: GraphQLResolveInfo, input: dict[str, Any]) -> dict[str, Any]:
    artifact_id = decode_id(input["artifactManifestID"], "ArtifactManifest")
    ctx(info).store.uploads.upsert_manifest(ctx(info).user, artifact_id, input.get("digest"), None)
    return _manifest_payload(info, artifact_id)


def resolve_create_artifact_files(_: Any, info: GraphQLResolveInfo, input: dict[str, Any]) -> dict[str, Any]:
    slots = ctx(info).store.uploads.create_files(ctx(info).user, input["artifactFiles"])
    edges: list[dict[str, Any]] = []
    births: dict[int, Any] = {}
    for slot in slots:
        birth = slot.file.birth_artifact_id or slot.file.artifact_id
        if birth not in births:
            births[birth] = ctx(info).store.versions.find_version(birth)
        md5_hex = b64_to_hex(slot.file.md5 or "")
        node = {
            "id": ids.encode("File", slot.file.id),
            "name": slot.file.name,
            "displayName": slot.file.name,
            "directUrl": "",
            "sizeBytes": slot.file.size,
            "storagePath": f"wandb_artifacts/{md5_hex}",
            "uploadUrl": None,
            "uploadHeaders": [],
            "uploadMultipartUrls": None,
            "artifact": births[birth],
        }
        if slot.needs_upload and slot.parts:
            upload = ctx(info).store.multipart.start(slot.file.artifact_id, slot.file.name, slot.parts)
            node["storagePath"] = upload.storage_path
            node["uploadHeaders"] = ["Content-Type:application/octet-stream"]
            node["uploadMultipartUrls"] = {"uploadID": upload.upload_id, "uploadUrlParts": [
                {"partNumber": n, "uploadUrl": ctx(info).urls.part_upload(upload.upload_id, n)}
                for n in sorted(slot.parts)]}
        elif slot.needs_upload:
            node["uploadUrl"] = ctx(info).urls.file_upload(ids.encode("Artifact", slot.file.artifact_id), md5_hex)
            node["uploadHeaders"] = [f"Content-MD5:{slot.file.md5}"]
        edges.append({"node": node, "cursor": str(len(edges))})
    return {"files": {"totalCount": len(edges), "edges": edges, "pageInfo": {"hasNextPage": False,
                                                                            "hasPreviousPage": False}}}


def resolve_complete_multipart(_: Any, info: GraphQLResolveInfo, input: dict[str, Any]) -> dict[str, Any]:
    if input["completeMultipartAction"] != "Complete":
        from ..errors import InvalidInput

        raise InvalidInput(f"unsupported completeMultipartAction {input['completeMultipartAction']!r}")
    digest = ctx(info).store.uploads.complete_multipart(
        ctx(info).user, _artifact_id(input["artifactID"]), input["storagePath"], input["uploadID"],
        input["completedParts"],
    )
    return {"digest": digest}


def resolve_commit_artifact(_: Any, info: GraphQLResolveInfo, input: dict[str, Any]) -> dict[str, Any]:
    return {"artifact": ctx(info).store.uploads.commit(ctx(info).user, _artifact_id(input["artifactID"]))}


# --- aliases and edits -----------------------------------------------------------------------


def resolve_add_aliases(_: Any, info: GraphQLResolveInfo, input: dict[str, Any]) -> dict[str, Any]:
    ctx(info).store.versions.change_aliases(
        ctx(info).user, _artifact_id(input["artifactID"]), input["aliases"], add=True
    )
    return {"success": True}


def resolve_delete_aliases(_: Any, info: GraphQLResolveInfo, input: dict[str, Any]) -> dict[str, Any]:
    ctx(info).store.versions.change_aliases(
        ctx(info).user, _artifact_id(input["artifactID"]), input["aliases"], add=False
    )
    return {"success": True}


def resolve_update_artifact(_: Any, info: GraphQLResolveInfo, input: dict[str, Any]) -> dict[str, Any]:
    version = ctx(info).store.versions.update_version(ctx(info).user, _artifact_id(input["artifactID"]), input)
    return {"artifact": version}


def resolve_delete_artifact(_: Any, info: GraphQLResolveInfo, input: dict[str, Any]) -> dict[str, Any]:
    version = ctx(info).store.versions.delete_version(
        ctx(info).user, _artifact_id(input["artifactID"]), bool(input.get("deleteAliases"))
    )
    return {"artifact": version}


# --- links -----------------------------------------------------------------------------------


def resolve_link_artifact(_: Any, info: GraphQLResolveInfo, input: dict[str, Any]) -> dict[str, Any]:
    store = ctx(info).store
    if input.get("artifactID"):
        version = store.versions.live_version(_artifact_id(input["artifactID"]))
    elif input.get("clientID"):
        found = store.versions.version_by_client_id(input["clientID"])
        if found is None:
            raise NotFound(f"no artifact was logged with client id {input['clientID']!r}")
        version = found
    else:
        raise NotFound("linkArtifact needs artifactID or clientID")
    if store.versions.visible_version(ctx(info).user, version.id) is None:
        # Only a version the caller can see may be linked (it would leak through the link).
        raise NotFound(f"artifact {input.get('artifactID') or input.get('clientID')!r} not found")
    portfolio_id = None
    if input.get("artifactPortfolioID"):
        portfolio_id = decode_id(input["artifactPortfolioID"], "ArtifactPortfolio")
    membership = store.memberships.link(
        ctx(info).user, version, input.get("entityName"), input.get("projectName"),
        input.get("artifactPortfolioName"), portfolio_id, input.get("aliases") or [],
    )
    return {"versionIndex": membership.version_index, "artifactMembership": membership}


def resolve_unlink_artifact(_: Any, info: GraphQLResolveInfo, input: dict[str, Any]) -> dict[str, Any]:
    ctx(info).store.memberships.unlink(
        ctx(info).user, _artifact_id(input["artifactID"]), decode_id(input["artifactPortfolioID"], "ArtifactPortfolio")
    )
    return {"success": True}


# --- collections -----------------------------------------------------------------------------


def _update_collection(kind: str, id_key: str) -> Resolver:
    def resolve(_: Any, info: GraphQLResolveInfo, input: dict[str, Any]) -> dict[str, Any]:
        collection_id = decode_id(input[id_key], "ArtifactSequence" if kind == "SEQUENCE" else "ArtifactPortfolio")
        collection = ctx(info).store.collections.update_collection(
            ctx(info).user, collection_id, kind, input.get("name"), input.get("description")
        )
        return {"artifactCollection": collection}

    return resolve


def resolve_move_sequence(_: Any, info: GraphQLResolveInfo, input: dict[str, Any]) -> dict[str, Any]:
    collection_id = decode_id(input["artifactSequenceID"], "ArtifactSequence")
    collection = ctx(info).store.collections.move_sequence(
        ctx(info).user, collection_id, input["destinationArtifactTypeName"]
    )
    return {"artifactCollection": collection}


def _tag_collection(add: bool) -> Resolver:
    def resolve(_: Any, info: GraphQLResolveInfo, input: dict[str, Any]) -> dict[str, Any]:
        tags = ctx(info).store.collections.tag_collection(
            ctx(info).user, input["entityName"], input["projectName"], input["artifactCollectionName"],
            [t["tagName"] for t in input["tags"]], add,
        )
        return {"tags": tags} if add else {"success": True}

    return resolve


def _delete_collection(kind: str, id_key: str) -> Resolver:
    def resolve(_: Any, info: GraphQLResolveInfo, input: dict[str, Any]) -> dict[str, Any]:
        collection_id = decode_id(input[id_key], "ArtifactSequence" if kind == "SEQUENCE" else "ArtifactPortfolio")
        deleted = ctx(info).store.memberships.delete_collection(ctx(info).user, collection_id, kind)
        return {"artifactCollection": deleted}

    return resolve


RESOLVERS: dict[str, dict[str, Resolver]] = {
    "Mutation": {
        "createArtifact": resolve_create_artifact,
        "createArtifactManifest": resolve_create_artifact_manifest,
        "updateArtifactManifest": resolve_update_artifact_manifest,
        "createArtifactFiles": resolve_create_artifact_files,
        "completeMultipartUploadArtifact": resolve_complete_multipart,
        "commitArtifact": resolve_commit_artifact,
        "addAliases": resolve_add_aliases,
        "deleteAliases": resolve_delete_aliases,
        "updateArtifact": resolve_update_artifact,
        "deleteArtifact": resolve_delete_artifact,
        "linkArtifact": resolve_link_artifact,
        "unlinkArtifact": resolve_unlink_artifact,
        "updateArtifactSequence": _update_collection("SEQUENCE", "artifactSequenceID"),
        "updateArtifactPortfolio": _update_collection("PORTFOLIO", "artifactPortfolioID"),
        "moveArtifactSequence": resolve_move_sequence,
        "createArtifactCollectionTagAssignments": _tag_collection(add=True),
        "deleteArtifactCollectionTagAssignments": _tag_collection(add=False),
        "deleteArtifactSequence": _delete_collection("SEQUENCE", "artifactSequenceID"),
        "deleteArtifactPortfolio": _delete_collection("PORTFOLIO", "artifactPortfolioID"),
    },
}
