"""The local server's multipart uploads, driven over plain HTTP as wandb-core drives them."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest
import requests

from wandb_provider.client import _queries as q

from ._http import TIMEOUT, data, error_messages, gql

PARTS = [b"a" * 1000, b"b" * 1000, b"c" * 10]
WHOLE = b"".join(PARTS)


def b64(raw: bytes) -> str:
    return base64.b64encode(hashlib.md5(raw).digest()).decode()


def start(server: Any, parts: list[bytes] = PARTS) -> tuple[str, dict[str, Any]]:
    """A PENDING version with one multipart file; returns its id and the file's upload slot."""
    whole = b"".join(parts)
    digest = hashlib.md5(f"wandb-artifact-manifest-v1\nbig.bin:{b64(whole)}\n".encode()).hexdigest()
    created = data(gql(server, q.CREATE_ARTIFACT.document, {"input": {
        "entityName": server.entity, "projectName": "p", "artifactCollectionName": "big",
        "artifactTypeName": "model", "digest": digest, "digestAlgorithm": "MANIFEST_MD5",
        "enableDigestDeduplication": True}}, operation_name="CreateArtifact"))
    artifact_id = created["createArtifact"]["artifact"]["id"]
    slots = data(gql(server, q.CREATE_ARTIFACT_FILES.document, {"input": {"storageLayout": "V2", "artifactFiles": [
        {"artifactID": artifact_id, "name": "big.bin", "md5": "", "uploadPartsInput": [
            {"partNumber": n, "hexMD5": hashlib.md5(p).hexdigest()} for n, p in enumerate(parts, 1)]}]}},
        operation_name="CreateArtifactFiles"))
    return artifact_id, slots["createArtifactFiles"]["files"]["edges"][0]["node"]


def put_parts(node: dict[str, Any], parts: list[bytes] = PARTS) -> dict[int, str]:
    etags = {}
    for url in node["uploadMultipartUrls"]["uploadUrlParts"]:
        body = parts[url["partNumber"] - 1]
        reply = requests.put(url["uploadUrl"], data=body, headers={"Content-MD5": b64(body)}, timeout=TIMEOUT)
        assert reply.status_code == 200, reply.text
        etags[url["partNumber"]] = reply.headers["ETag"]
    return etags


def complete(server: Any, artifact_id: str, node: dict[str, Any], parts: list[dict[str, Any]]) -> requests.Response:
    return gql(server, q.COMPLETE_MULTIPART_UPLOAD.document, {
        "completeMultipartAction": "Complete", "completedParts": parts, "artifactID": artifact_id,
        "storagePath": node["storagePath"], "uploadID": node["uploadMultipartUrls"]["uploadID"],
    }, operation_name="CompleteMultipartUploadArtifact")


def test_parts_are_joined_on_completion_and_a_retried_completion_agrees(wandb_server: Any) -> None:
    artifact_id, node = start(wandb_server)
    assert node["uploadUrl"] is None and len(node["uploadMultipartUrls"]["uploadUrlParts"]) == 3
    etags = put_parts(node)
    assert etags[1] == f'"{hashlib.md5(PARTS[0]).hexdigest()}"'
    listed = [{"partNumber": n, "hexMD5": etags[n]} for n in sorted(etags)]
    first = data(complete(wandb_server, artifact_id, node, listed))
    assert first["completeMultipartUploadArtifact"]["digest"] == b64(WHOLE)
    again = data(complete(wandb_server, artifact_id, node, listed))
    assert again == first
    assert wandb_server.stats()["upload_bytes"] == len(WHOLE)


@pytest.mark.parametrize("tamper", ["missing", "reordered", "wrong-etag", "extra"])
def test_a_completion_that_does_not_match_is_refused(wandb_server: Any, tamper: str) -> None:
    artifact_id, node = start(wandb_server)
    etags = put_parts(node)
    listed = [{"partNumber": n, "hexMD5": etags[n].strip('"')} for n in sorted(etags)]
    if tamper == "missing":
        listed = listed[:-1]
    elif tamper == "reordered":
        listed = listed[::-1]
    elif tamper == "wrong-etag":
        listed[1]["hexMD5"] = "0" * 32
    else:
        listed.append({"partNumber": 4, "hexMD5": "0" * 32})
    reply = complete(wandb_server, artifact_id, node, listed)
    assert error_messages(reply)
    commit = gql(wandb_server, q.COMMIT_ARTIFACT.document, {"artifactID": artifact_id}, operation_name="CommitArtifact")
    assert any("never uploaded" in m or "manifest" in m for m in error_messages(commit))


def test_a_part_with_the_wrong_bytes_is_refused(wandb_server: Any) -> None:
    _, node = start(wandb_server)
    url = node["uploadMultipartUrls"]["uploadUrlParts"][0]["uploadUrl"]
    reply = requests.put(url, data=b"x" * 1000, headers={"Content-MD5": b64(b"x" * 1000)}, timeout=TIMEOUT)
    assert reply.status_code == 400 and "declared" in reply.text
    reply = requests.put(url, data=PARTS[0], headers={"Content-MD5": b64(b"other")}, timeout=TIMEOUT)
    assert reply.status_code == 400
    assert wandb_server.stats()["upload_bytes"] == 0


def test_declared_parts_must_be_numbered_from_one(wandb_server: Any) -> None:
    created = data(gql(wandb_server, q.CREATE_ARTIFACT.document, {"input": {
        "entityName": wandb_server.entity, "projectName": "p", "artifactCollectionName": "big",
        "artifactTypeName": "model", "digest": "0" * 32}}, operation_name="CreateArtifact"))
    artifact_id = created["createArtifact"]["artifact"]["id"]
    reply = gql(wandb_server, q.CREATE_ARTIFACT_FILES.document, {"input": {"artifactFiles": [
        {"artifactID": artifact_id, "name": "big.bin", "md5": "", "uploadPartsInput": [
            {"partNumber": 2, "hexMD5": "0" * 32}]}]}}, operation_name="CreateArtifactFiles")
    assert any("numbered" in m for m in error_messages(reply))


def test_big_parts_are_hashed_apart_and_still_checked(wandb_server: Any) -> None:
    """Bodies of 8 MiB and more are hashed on a helper thread as they arrive: the same answers."""
    big = [bytes([n]) * (9 << 20) for n in (1, 2)] + [b"tail"]
    artifact_id, node = start(wandb_server, big)
    url = node["uploadMultipartUrls"]["uploadUrlParts"][0]["uploadUrl"]
    reply = requests.put(url, data=big[0], headers={"Content-MD5": b64(big[1])}, timeout=TIMEOUT)
    assert reply.status_code == 400 and wandb_server.stats()["upload_bytes"] == 0
    etags = put_parts(node, big)
    assert etags[1] == f'"{hashlib.md5(big[0]).hexdigest()}"'
    listed = [{"partNumber": n, "hexMD5": etags[n]} for n in sorted(etags)]
    done = data(complete(wandb_server, artifact_id, node, listed))
    assert done["completeMultipartUploadArtifact"]["digest"] == b64(b"".join(big))
