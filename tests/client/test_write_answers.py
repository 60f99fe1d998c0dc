"""A server that answers the write methods with JSON that is not W&B's shape gets
``MalformedResponseError`` (transient, names the operation), never a raw KeyError or TypeError."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from wandb_provider.client import ArtifactVersion, MalformedResponseError, WandbClient

VERSION = ArtifactVersion(
    id="QXJ0aWZhY3Q6MQ==", entity="e", project="p", name="c", type="model", version="v1", source_version="v1",
    aliases=("latest",), digest="a" * 32, state="COMMITTED", size=1, file_count=1, description=None,
    metadata={}, tags=(), created_at=None, updated_at=None, collection_kind="sequence", url="http://x",
)
_PROJECT = {"name": "p", "entity": {"name": "e"}}
_NODE = {"__typename": "ArtifactSequence", "id": "c1", "name": "c", "project": _PROJECT}
ARTIFACT = {
    "id": VERSION.id, "versionIndex": 1, "digest": "a" * 32, "state": "COMMITTED", "size": 1, "fileCount": 1,
    "description": None, "metadata": "{}", "createdAt": None, "updatedAt": None, "artifactType": {"name": "model"},
    "tags": [], "artifactSequence": _NODE,
}
MEMBERSHIP = {"versionIndex": 1, "aliases": [], "artifactCollection": _NODE, "artifact": ARTIFACT}


class _Stub(BaseHTTPRequestHandler):
    answers: dict[str, Any] = {}

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        payload = json.dumps(self.answers.get(body.get("operationName"), {"data": {}})).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def stub() -> Iterator[tuple[WandbClient, dict[str, Any]]]:
    answers: dict[str, Any] = {}
    handler = type("Handler", (_Stub,), {"answers": answers})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    client = WandbClient(f"http://127.0.0.1:{server.server_address[1]}", "k" * 40, entity="e", project="p",
                         max_retries=0)
    try:
        yield client, answers
    finally:
        client.close()
        server.shutdown()
        server.server_close()


def _holders(h0: Any, membership: Any = MEMBERSHIP) -> dict[str, Any]:
    return {"data": {"project": {"artifactCollectionMembership": membership, "artifactCollection": {"h0": h0}}}}


CASES = [
    pytest.param("update_aliases", {"ArtifactWithAliasHolders": _holders(None, {"artifact": {"id": "x"}})},
                 id="membership-without-fields"),
    pytest.param("update_aliases", {"ArtifactWithAliasHolders": _holders({"versionIndex": "7", "artifact": {}})},
                 id="holder-index-not-a-number"),
    pytest.param("update_aliases", {"ArtifactWithAliasHolders": _holders(
        None, {**MEMBERSHIP, "artifact": {**ARTIFACT, "versionIndex": None}})}, id="version-index-null"),
    pytest.param("link", {"LinkArtifact": {"data": {"linkArtifact": None}}}, id="link-null"),
    pytest.param("link", {"LinkArtifact": {"data": {"linkArtifact": {"artifactMembership": None}}}},
                 id="link-without-membership"),
    pytest.param("update", {"ArtifactByID": {"data": {"artifact": {**ARTIFACT, "metadata": "{not json"}}}},
                 id="metadata-not-json"),
    pytest.param("update", {"ArtifactByID": {"data": {"artifact": {"id": "x"}}}}, id="artifact-without-fields"),
    pytest.param("delete_if_unclaimed", {"ArtifactClaims": {"data": {"artifact": {"state": "COMMITTED"}}}},
                 id="claims-without-memberships"),
    pytest.param("update_collection", {"CollectionByName": {"data": {"project": {"artifactCollection": {
        "name": "c"}}}}}, id="collection-without-tags"),
    pytest.param("unlink", {"CollectionByName": {"data": {"project": {"artifactCollection": {"name": "c"}}}}},
                 id="collection-without-id"),
]


@pytest.mark.parametrize(("method", "answers"), CASES)
def test_malformed_answers_are_typed(stub, method: str, answers: dict[str, Any]) -> None:
    client, canned = stub
    canned.update(answers)
    calls = {
        "update_aliases": lambda: client.update_aliases(VERSION, add=["production"]),
        "link": lambda: client.link(VERSION, "p/shortlist"),
        "update": lambda: client.update(VERSION, metadata={"a": 1}),
        "delete_if_unclaimed": lambda: client.delete_if_unclaimed(VERSION),
        "update_collection": lambda: client.update_collection("e/p/c", description="d"),
        "unlink": lambda: client.unlink(dataclasses.replace(VERSION, collection_kind="portfolio")),
    }
    with pytest.raises(MalformedResponseError) as info:
        calls[method]()
    assert info.value.transient and "W&B's answer" in str(info.value)
