"""Plain-HTTP helpers for the emulator's own tests: GraphQL posts, file URLs, state snapshots."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import requests

from wandb_provider.testing.store import Store

TIMEOUT = 60

# The SDK's download query, trimmed to what the tests read.
FILE_URLS = """
query GetArtifactMembershipFileUrls($entity: String!, $project: String!, $collection: String!,
                                    $alias: String!, $cursor: String, $perPage: Int) {
  project(name: $project, entityName: $entity) {
    artifactCollection(name: $collection) {
      artifactMembership(aliasName: $alias) {
        files(after: $cursor, first: $perPage) { edges { node { name directUrl sizeBytes md5 } } }
      }
    }
  }
}
"""

ADD_ALIASES = "mutation AddAliases($input: AddAliasesInput!) { result: addAliases(input: $input) { success } }"

MANIFEST_URL = """
query FetchArtifactManifest($id: ID!) {
  artifact(id: $id) { currentManifest { file { directUrl } } }
}
"""

ARTIFACT = """
query ProjectArtifact($entity: String!, $project: String!, $name: String!) {
  project(name: $project, entityName: $entity) {
    artifact(name: $name) { id versionIndex digest aliases { alias } }
  }
}
"""


def gql(
    server: Any,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    key: str | None = None,
    operation_name: str | None = "",
) -> requests.Response:
    """POST one GraphQL document the way wandb 0.31 does (``operationName`` "" for Python documents)."""
    body: dict[str, Any] = {"query": query, "operationName": operation_name}
    if variables is not None:
        body["variables"] = variables
    return requests.post(
        f"{server.base_url}/graphql", json=body, auth=("api", key or server.api_key), timeout=TIMEOUT
    )


def data(reply: requests.Response) -> dict[str, Any]:
    """The ``data`` of a successful GraphQL reply (fails the test on errors)."""
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]
    return result


def artifact(server: Any, entity: str, project: str, name: str, key: str | None = None) -> dict[str, Any]:
    found: dict[str, Any] = data(gql(server, ARTIFACT, {"entity": entity, "project": project, "name": name},
                                     key=key))["project"]["artifact"]
    return found


def file_urls(
    server: Any, entity: str, project: str, collection: str, alias: str, key: str | None = None
) -> dict[str, str]:
    """``{file name: signed directUrl}`` of one version, through the SDK's download query."""
    variables = {"entity": entity, "project": project, "collection": collection, "alias": alias,
                 "cursor": None, "perPage": 5000}
    membership = data(gql(server, FILE_URLS, variables, key=key))["project"]["artifactCollection"][
        "artifactMembership"
    ]
    return {edge["node"]["name"]: edge["node"]["directUrl"] for edge in membership["files"]["edges"]}


def snapshot(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table: two equal snapshots mean nothing changed."""
    tables = [row[0] for row in store.db.all("SELECT name FROM sqlite_master WHERE type = 'table'")]
    return {table: [tuple(row) for row in store.db.all(f"SELECT * FROM {table} ORDER BY rowid")]
            for table in sorted(tables)}


def error_messages(reply: requests.Response) -> list[str]:
    """The messages of a W&B-shaped error body: ``{"errors": [{"message": ...}, ...]}``."""
    body = reply.json()
    assert isinstance(body.get("errors"), list) and body["errors"], body
    messages = []
    for error in body["errors"]:
        assert isinstance(error, dict) and isinstance(error.get("message"), str), body
        messages.append(error["message"])
    return messages


@dataclass
class Upload:
    """One version being logged over HTTP as wandb-core does, step by step."""

    server: Any
    entity: str
    project: str
    files: dict[str, bytes]
    listed: list[str]  # the paths the manifest will hold
    artifact_id: str
    slots: dict[str, dict[str, Any]]  # path -> createArtifactFiles node (uploadUrl, uploadHeaders, artifact)

    def md5(self, path: str) -> str:
        return base64.b64encode(hashlib.md5(self.files[path]).digest()).decode()

    def put(self, path: str) -> None:
        """PUT one file to its upload URL (nothing when the server holds the content already)."""
        node = self.slots[path]
        if node["uploadUrl"]:
            requests.put(node["uploadUrl"], data=self.files[path], headers=_headers(node["uploadHeaders"]),
                         timeout=TIMEOUT).raise_for_status()

    def manifest(self) -> bytes:
        contents = {path: {"digest": self.md5(path), "size": len(self.files[path]),
                           "birthArtifactID": self.slots[path]["artifact"]["id"]} for path in sorted(self.listed)}
        return json.dumps({"version": 1, "storagePolicy": "wandb-storage-policy-v1",
                           "storagePolicyConfig": {"storageLayout": "V2"}, "contents": contents},
                          separators=(",", ":")).encode()

    def put_manifest(self, manifest: bytes | None = None) -> None:
        manifest = self.manifest() if manifest is None else manifest
        variables = {**self._manifest_vars(), "digest": base64.b64encode(hashlib.md5(manifest).digest()).decode(),
                     "includeUpload": True}
        upload = data(gql(self.server, _MANIFEST, variables))["createArtifactManifest"]["artifactManifest"]["file"]
        requests.put(upload["uploadUrl"], data=manifest, headers=_headers(upload["uploadHeaders"]),
                     timeout=TIMEOUT).raise_for_status()

    def commit(self) -> str:
        committed = data(gql(self.server, _COMMIT, {"artifactID": self.artifact_id}))
        assert committed["commitArtifact"]["artifact"]["state"] == "COMMITTED"
        return self.artifact_id

    def _manifest_vars(self) -> dict[str, Any]:
        return {"artifactID": self.artifact_id, "name": "wandb_manifest.json", "digest": "",
                "entityName": self.entity, "projectName": self.project, "runName": "", "includeUpload": False}


def manifest_digest(files: dict[str, bytes], paths: list[str] | None = None) -> str:
    """W&B's artifact digest: MD5 over the manifest header and the sorted ``path:md5`` lines."""
    md5s = {path: base64.b64encode(hashlib.md5(body).digest()).decode() for path, body in files.items()}
    lines = "".join(f"{path}:{md5s[path]}\n" for path in sorted(paths if paths is not None else files))
    return hashlib.md5(b"wandb-artifact-manifest-v1\n" + lines.encode()).hexdigest()


def begin_upload(server: Any, entity: str, project: str, name: str, files: dict[str, bytes],
                 type_name: str = "dataset", listed: list[str] | None = None, client_id: str | None = None) -> Upload:
    """``createArtifact``, the first ``createArtifactManifest`` and ``createArtifactFiles`` for ``files``.

    ``listed`` (default: every file) are the paths the manifest, and so the digest, will hold;
    ``client_id`` is the ``clientID`` wandb-core sends (the same on a retried request).
    """
    listed = list(files) if listed is None else listed
    created = data(gql(server, _CREATE, {"input": {
        "entityName": entity, "projectName": project, "artifactCollectionName": name, "artifactTypeName": type_name,
        "digest": manifest_digest(files, listed), "digestAlgorithm": "MANIFEST_MD5", "clientID": client_id,
        "enableDigestDeduplication": True, "aliases": [{"alias": "latest", "artifactCollectionName": name}]}}))
    upload = Upload(server, entity, project, files, listed, created["createArtifact"]["artifact"]["id"], {})
    data(gql(server, _MANIFEST, upload._manifest_vars()))
    slots = data(gql(server, _FILES, {"input": {"artifactFiles": [
        {"artifactID": upload.artifact_id, "name": path, "md5": upload.md5(path)} for path in files]}}))
    for path, edge in zip(files, slots["createArtifactFiles"]["files"]["edges"], strict=True):
        upload.slots[path] = edge["node"]
    return upload


def log_artifact(server: Any, entity: str, project: str, name: str, files: dict[str, bytes],
                 type_name: str = "dataset") -> str:
    """Log a version over HTTP as wandb-core does; returns its id."""
    upload = begin_upload(server, entity, project, name, files, type_name)
    for path in files:
        upload.put(path)
    upload.put_manifest()
    return upload.commit()


def _headers(pairs: list[str]) -> dict[str, str]:
    return {name: value.strip() for name, _, value in (pair.partition(":") for pair in pairs)}


_CREATE = """mutation CreateArtifact($input: CreateArtifactInput!) {
  createArtifact(input: $input) { artifact { id state } } }"""
_MANIFEST = """mutation CreateArtifactManifest($artifactID: ID!, $name: String!, $digest: String!,
    $entityName: String!, $projectName: String!, $runName: String!, $includeUpload: Boolean!) {
  createArtifactManifest(input: {artifactID: $artifactID, name: $name, digest: $digest, entityName: $entityName,
      projectName: $projectName, runName: $runName, type: FULL}) {
    artifactManifest {
      id file { id uploadUrl @include(if: $includeUpload) uploadHeaders @include(if: $includeUpload) }
    }
  }
}"""
_FILES = """mutation CreateArtifactFiles($input: CreateArtifactFilesInput!) {
  createArtifactFiles(input: $input) { files { edges { node { uploadUrl uploadHeaders artifact { id } } } } } }"""
_COMMIT = """mutation CommitArtifact($artifactID: ID!) {
  commitArtifact(input: {artifactID: $artifactID}) { artifact { id state digest } } }"""
