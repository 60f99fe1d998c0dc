"""Access control: API keys, entity membership, view-only seats and signed storage URLs.

W&B answers a missing or unknown key with HTTP 401 and an ``errors`` body; other entities'
objects read as ``null``; view-only members may look but not download or change anything
(W&B docs: view-only seats cannot download artifacts); signed URLs are refused with 403 once
expired or altered.
"""

from __future__ import annotations

import base64
import hashlib
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests

from wandb_provider.testing import LocalWandbServer, ServerConfig, TeamSpec, UserSpec

from ._http import FILE_URLS, MANIFEST_URL, TIMEOUT, artifact, data, error_messages, file_urls, gql, snapshot

DEMO_KEY, EVE_KEY, VIC_KEY = "d" * 40, "e" * 40, "v" * 40
USERS = [f"demo:{DEMO_KEY}", f"eve:{EVE_KEY}", f"vic:{VIC_KEY}"]
TEAMS = ["acme:vic:viewer"]  # eve belongs to nothing but her own entity
# --seed demo: team acme (demo: admin), org acme-corp (entity acme-corp-org), project acme/churn.
ACCOUNTS = pytest.mark.wandb_server(seed="demo", users=USERS, teams=TEAMS)
CREATE = "mutation C($input: CreateArtifactInput!) { createArtifact(input: $input) { artifact { id } } }"
LINK = "mutation L($input: LinkArtifactInput!) { result: linkArtifact(input: $input) { versionIndex } }"
ALIASES = "mutation AddAliases($input: AddAliasesInput!) { result: addAliases(input: $input) { success } }"
SEQUENCE_ID = """query Seq { project(name: "churn", entityName: "acme") {
  artifactCollection(name: "churn-model") { id } } }"""


@pytest.fixture(scope="module")
def shared() -> Iterator[LocalWandbServer]:
    """One server for the tables whose every case must leave the state unchanged (checked per case)."""
    config = ServerConfig(seed="demo", users=tuple(UserSpec.parse(u) for u in USERS),
                          teams=tuple(TeamSpec.parse(t) for t in TEAMS))
    with LocalWandbServer(config) as server:
        _run_in(server, "acme", "churn", DEMO_KEY)
        yield server


def _ids(server: LocalWandbServer) -> dict[str, str]:
    """Ids the tables refer to: ``@v1`` (churn-model:v1, holds `production`) and ``@seq`` (its sequence)."""
    seq = data(gql(server, SEQUENCE_ID, key=DEMO_KEY))["project"]["artifactCollection"]["id"]
    return {"@v1": artifact(server, "acme", "churn", "churn-model:v1", key=DEMO_KEY)["id"], "@seq": seq}


def _fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return ids.get(value, value)
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    return value


def _alias(name: str, entity: str = "acme", project: str = "churn") -> dict[str, str]:
    return {"alias": name, "artifactCollectionName": "churn-model", "entityName": entity, "projectName": project}


def _create(entity: str, project: str) -> dict[str, Any]:
    return {"input": {"entityName": entity, "projectName": project, "artifactCollectionName": "ds",
                      "artifactTypeName": "dataset", "digest": "0" * 32}}


def _run_in(server: LocalWandbServer, entity: str, project: str, key: str) -> None:
    reply = gql(server, "mutation U($input: UpsertBucketInput!) { upsertBucket(input: $input) { inserted } }",
                {"input": {"name": "run-1", "modelName": project, "entityName": entity}}, key=key)
    assert data(reply)["upsertBucket"]["inserted"] is True


# Every write a client can attempt against acme's objects: (document, variables).
WRITES = {
    "add-alias": (ALIASES, {"input": {"artifactID": "@v1", "aliases": [_alias("staging")]}}),
    "delete-alias": ("mutation D($input: DeleteAliasesInput!) { result: deleteAliases(input: $input) { success } }",
                     {"input": {"artifactID": "@v1", "aliases": [_alias("production")]}}),
    "update-artifact": ("mutation U($input: UpdateArtifactInput!) { result: updateArtifact(input: $input) "
                        "{ artifact { id } } }", {"input": {"artifactID": "@v1", "description": "mine now"}}),
    "delete-artifact": ("mutation D($input: DeleteArtifactInput!) { result: deleteArtifact(input: $input) "
                        "{ artifact { id } } }", {"input": {"artifactID": "@v1", "deleteAliases": True}}),
    "create-artifact": (CREATE, _create("acme", "churn")),
    "create-project": (CREATE, _create("acme", "brand-new")),
    "link-into-team": (LINK, {"input": {"artifactID": "@v1", "artifactPortfolioName": "promoted", "entityName": "acme",
                                  "projectName": "churn"}}),
    "link-into-registry": (LINK, {"input": {"artifactID": "@v1", "artifactPortfolioName": "churn",
                                      "entityName": "acme-corp-org", "projectName": "wandb-registry-model"}}),
    "rename-collection": ("mutation R($input: UpdateArtifactSequenceInput!) { result: updateArtifactSequence("
                          "input: $input) { artifactCollection { name } } }",
                          {"input": {"artifactSequenceID": "@seq", "name": "renamed", "description": "x"}}),
    "tag-collection": ("mutation T($input: CreateArtifactCollectionTagAssignmentsInput!) { result: "
                       "createArtifactCollectionTagAssignments(input: $input) { tags { name } } }",
                       {"input": {"entityName": "acme", "projectName": "churn", "artifactCollectionName": "churn-model",
                                  "tags": [{"tagName": "mine"}]}}),
    "delete-collection": ("mutation D($id: ID!) { result: deleteArtifactSequence(input: {artifactSequenceID: $id}) "
                          "{ artifactCollection { state } } }", {"id": "@seq"}),
    "upsert-run": ("mutation U($input: UpsertBucketInput!) { upsertBucket(input: $input) { inserted } }",
                   {"input": {"name": "run-2", "modelName": "churn", "entityName": "acme"}}),
    "use-artifact": ("mutation U($input: UseArtifactInput!) { useArtifact(input: $input) { artifact { id } } }",
                     {"input": {"entityName": "acme", "projectName": "churn", "runName": "run-1",
                                "artifactID": "@v1"}}),
    "run-file-upload": ("mutation F($input: CreateRunFilesInput!) { createRunFiles(input: $input) "
                        "{ files { uploadUrl } } }",
                        {"input": {"entityName": "acme", "projectName": "churn", "runName": "run-1",
                                   "files": ["output.log"]}}),
}


# --- authentication ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(None, id="no-header"),
        pytest.param("Basic " + base64.b64encode(b"api:" + b"x" * 40).decode(), id="unknown-key"),
        pytest.param("Basic " + base64.b64encode(b"api:").decode(), id="empty-key"),
        pytest.param("Basic !!not-base64!!", id="garbled-basic"),
        pytest.param("Bearer " + "x" * 40, id="unknown-bearer"),
        pytest.param("Token " + DEMO_KEY, id="unknown-scheme"),
    ],
)
@pytest.mark.parametrize(
    ("method", "path"),
    [
        pytest.param("POST", "/graphql", id="graphql"),
        pytest.param("GET", "/artifacts/demo/" + "0" * 32, id="fallback-v1"),
        pytest.param("GET", f"/artifactsV2/default/acme/churn/churn-model/x/{'0' * 32}/model.json",
                     id="fallback-v2"),
        pytest.param("POST", "/files/acme/churn/run-1/file_stream", id="file-stream"),
    ],
)
def test_missing_or_unknown_key_is_401(
    shared: LocalWandbServer, authorization: str | None, method: str, path: str
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    reply = requests.request(method, shared.base_url + path, headers=headers, timeout=TIMEOUT,
                             json={"query": "query Viewer { viewer { username } }"})
    assert reply.status_code == 401, reply.text
    assert reply.headers["content-type"].startswith("application/json")
    (message,) = error_messages(reply)
    assert "API key" in message
    assert reply.json()["data"] is None


def test_known_key_works_as_basic_or_bearer(shared: LocalWandbServer) -> None:
    query = {"query": "query Viewer { viewer { username } }"}
    for headers in ({"Authorization": "Bearer " + VIC_KEY},
                    {"Authorization": "Basic " + base64.b64encode(f"api:{VIC_KEY}".encode()).decode()}):
        reply = requests.post(f"{shared.base_url}/graphql", json=query, headers=headers, timeout=TIMEOUT)
        assert reply.json() == {"data": {"viewer": {"username": "vic"}}}


# --- other users' entities -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "variables", "path"),
    [
        pytest.param('{ project(name: "churn", entityName: "acme") { id } }', None, ["project"], id="project"),
        pytest.param('{ entity(name: "acme") { id } }', None, ["entity"], id="team-entity"),
        pytest.param('{ entity(name: "demo") { id } }', None, ["entity"], id="personal-entity"),
        pytest.param('{ organization(name: "acme-corp") { id } }', None, ["organization"], id="organization"),
        pytest.param("query A($id: ID!) { artifact(id: $id) { id digest } }", {"id": "@v1"}, ["artifact"],
                     id="artifact-by-id"),
        pytest.param("query C($id: ID!) { artifactCollection(id: $id) { name } }", {"id": "@seq"},
                     ["artifactCollection"], id="collection-by-id"),
        pytest.param(FILE_URLS, {"entity": "acme", "project": "churn", "collection": "churn-model", "alias": "v1"},
                     ["project"], id="file-urls"),
        pytest.param('{ project(name: "wandb-registry-model", entityName: "acme-corp-org") { id } }', None,
                     ["project"], id="org-registry"),
    ],
)
def test_other_entities_read_as_null(
    shared: LocalWandbServer, query: str, variables: dict[str, Any] | None, path: list[str]
) -> None:
    ids = _ids(shared)
    assert data(gql(shared, query, _fill(variables, ids), key=DEMO_KEY))[path[0]] is not None  # control
    reply = gql(shared, query, _fill(variables, ids), key=EVE_KEY)
    assert data(reply)[path[0]] is None


def test_outsider_sees_no_teams_or_organizations(shared: LocalWandbServer) -> None:
    query = "query V { viewer { username teams { edges { node { name } } } organizations { name } } }"
    assert data(gql(shared, query, key=EVE_KEY))["viewer"] == {
        "username": "eve", "teams": {"edges": []}, "organizations": []
    }
    assert data(gql(shared, query, key=VIC_KEY))["viewer"]["teams"] == {"edges": [{"node": {"name": "acme"}}]}


@pytest.mark.parametrize(("query", "variables"), [pytest.param(*v, id=k) for k, v in WRITES.items()])
def test_outsider_cannot_write_to_other_entities(
    shared: LocalWandbServer, query: str, variables: dict[str, Any]
) -> None:
    ids = _ids(shared)
    before = snapshot(shared.store)
    reply = gql(shared, query, _fill(variables, ids), key=EVE_KEY)
    assert reply.status_code == 200, reply.text
    message = " | ".join(error_messages(reply))
    assert "not found" in message
    assert "Churn model" not in reply.text and "accuracy" not in reply.text  # nothing of acme's leaks
    assert snapshot(shared.store) == before


@ACCOUNTS
def test_outsider_cannot_link_or_use_others_artifacts_in_own_entity(wandb_server: LocalWandbServer) -> None:
    """Eve's own project is writable, but acme's version stays out of reach (it would leak through)."""
    _run_in(wandb_server, "eve", "mine", EVE_KEY)
    ids = _ids(wandb_server)
    before = snapshot(wandb_server.store)
    link = ("mutation L($input: LinkArtifactInput!) { linkArtifact(input: $input) { versionIndex "
            "artifactMembership { artifact { digest description } } } }")
    use = "mutation U($input: UseArtifactInput!) { useArtifact(input: $input) { artifact { digest description } } }"
    for query, variables in [
        (link, {"input": {"artifactID": ids["@v1"], "artifactPortfolioName": "stolen", "entityName": "eve",
                          "projectName": "mine"}}),
        (use, {"input": {"entityName": "eve", "projectName": "mine", "runName": "run-1", "artifactID": ids["@v1"]}}),
    ]:
        reply = gql(wandb_server, query, variables, key=EVE_KEY)
        assert "not found" in " ".join(error_messages(reply))
        assert "Churn model" not in reply.text
    assert snapshot(wandb_server.store) == before


@ACCOUNTS
def test_fallback_url_needs_membership_and_a_file_of_that_entity(wandb_server: LocalWandbServer) -> None:
    model = wandb_server.seed_artifact("own", {"own.txt": b"eve's file"}, project="mine", user="eve", entity="eve")
    assert model.state == "COMMITTED"
    acme_md5 = hashlib.md5(
        requests.get(file_urls(wandb_server, "acme", "churn", "churn-model", "v1", key=DEMO_KEY)["model.json"],
                     timeout=TIMEOUT).content
    ).hexdigest()
    own_md5 = hashlib.md5(b"eve's file").hexdigest()
    base = wandb_server.base_url

    def get(path: str, key: str) -> requests.Response:
        return requests.get(base + path, auth=("api", key), timeout=TIMEOUT)

    assert get(f"/artifacts/acme/{acme_md5}", DEMO_KEY).status_code == 200  # control: a member
    assert get(f"/artifactsV2/default/acme/churn/churn-model/x/{acme_md5}/model.json", DEMO_KEY).status_code == 200
    assert get(f"/artifacts/eve/{own_md5}", EVE_KEY).content == b"eve's file"
    refused = get(f"/artifacts/acme/{acme_md5}", EVE_KEY)
    assert refused.status_code == 404 and "'acme'" in error_messages(refused)[0]
    # Naming her own entity does not open acme's blobs either.
    refused = get(f"/artifacts/eve/{acme_md5}", EVE_KEY)
    assert refused.status_code == 404 and acme_md5 in error_messages(refused)[0]


# --- view-only members ---------------------------------------------------------------------


def test_viewer_can_look(shared: LocalWandbServer) -> None:
    seen = artifact(shared, "acme", "churn", "churn-model:production", key=VIC_KEY)
    assert seen["versionIndex"] == 1
    assert {"alias": "production"} in seen["aliases"]


@pytest.mark.parametrize(
    ("query", "variables", "null_path"),
    [
        pytest.param(FILE_URLS, {"entity": "acme", "project": "churn", "collection": "churn-model", "alias": "v1"},
                     ["project", "artifactCollection", "artifactMembership", "files"], id="membership-files"),
        pytest.param(MANIFEST_URL, {"id": "@v1"}, ["artifact", "currentManifest"], id="current-manifest"),
    ],
)
def test_viewer_gets_no_download_urls(
    shared: LocalWandbServer, query: str, variables: dict[str, Any], null_path: list[str]
) -> None:
    variables = _fill(variables, _ids(shared))
    assert "http" in gql(shared, query, variables, key=DEMO_KEY).text  # control: a member gets URLs
    reply = gql(shared, query, variables, key=VIC_KEY)
    assert reply.status_code == 200
    message = error_messages(reply)[0]
    assert "viewer" in message and "download" in message
    assert "/storage/" not in reply.text
    value = reply.json()["data"]
    for key in null_path[:-1]:
        value = value[key]
    assert value[null_path[-1]] is None


def test_viewer_cannot_use_fallback_download(shared: LocalWandbServer) -> None:
    url = file_urls(shared, "acme", "churn", "churn-model", "v1", key=DEMO_KEY)["model.json"]
    md5_hex = urlsplit(url).path.split("/")[3]
    path = f"/artifactsV2/default/acme/churn/churn-model/x/{md5_hex}/model.json"
    assert requests.get(shared.base_url + path, auth=("api", DEMO_KEY), timeout=TIMEOUT).status_code == 200
    reply = requests.get(shared.base_url + path, auth=("api", VIC_KEY), timeout=TIMEOUT)
    assert reply.status_code == 403
    assert "viewer" in error_messages(reply)[0]


@pytest.mark.parametrize(("query", "variables"), [pytest.param(*v, id=k) for k, v in WRITES.items()])
def test_viewer_cannot_change_anything(shared: LocalWandbServer, query: str, variables: dict[str, Any]) -> None:
    ids = _ids(shared)
    before = snapshot(shared.store)
    reply = gql(shared, query, _fill(variables, ids), key=VIC_KEY)
    assert reply.status_code == 200, reply.text
    message = " | ".join(error_messages(reply))
    assert "permission denied" in message and "viewer" in message
    assert snapshot(shared.store) == before


@ACCOUNTS
def test_member_can_make_the_same_writes(wandb_server: LocalWandbServer) -> None:
    """Control for the two tables above: the writes are valid, only the caller's role stops them."""
    _run_in(wandb_server, "acme", "churn", DEMO_KEY)
    ids = _ids(wandb_server)
    for name in ("add-alias", "update-artifact", "link-into-team", "link-into-registry", "tag-collection",
                 "use-artifact", "run-file-upload", "create-artifact", "upsert-run", "rename-collection"):
        query, variables = WRITES[name]
        reply = gql(wandb_server, query, _fill(variables, ids), key=DEMO_KEY)
        assert reply.status_code == 200 and "errors" not in reply.json(), (name, reply.text)


# --- signed URLs ---------------------------------------------------------------------------


def _with_query(url: str, **changes: str | None) -> str:
    parts = urlsplit(url)
    query = dict(item.split("=", 1) for item in parts.query.split("&"))
    for key, value in changes.items():
        if value is None:
            query.pop(key)
        else:
            query[key] = value
    return urlunsplit(parts._replace(query="&".join(f"{k}={v}" for k, v in query.items())))


def _tamper(urls: dict[str, str], how: str) -> str:
    url = urls["model.json"]
    sig = dict(item.split("=", 1) for item in urlsplit(url).query.split("&"))["sig"]
    exp = dict(item.split("=", 1) for item in urlsplit(url).query.split("&"))["exp"]
    if how == "signature":
        return _with_query(url, sig=("0" if sig[0] != "0" else "1") + sig[1:])
    if how == "expiry":
        return _with_query(url, exp=str(int(exp) + 86400))
    if how == "unsigned":
        return _with_query(url, sig=None, exp=None)
    # "path": another file's path under this file's signature
    other = urlsplit(urls["training/config.json"])
    return urlunsplit(other._replace(query=urlsplit(url).query))


@pytest.mark.parametrize(
    ("how", "words"),
    [
        pytest.param("signature", ["signature does not match"], id="signature"),
        pytest.param("expiry", ["signature does not match"], id="expiry-extended"),
        pytest.param("path", ["signature does not match"], id="other-file"),
        pytest.param("unsigned", ["not signed"], id="unsigned"),
    ],
)
def test_tampered_signed_url_is_403(shared: LocalWandbServer, how: str, words: list[str]) -> None:
    urls = file_urls(shared, "acme", "churn", "churn-model", "v1", key=DEMO_KEY)
    assert requests.get(urls["model.json"], timeout=TIMEOUT).status_code == 200  # control
    reply = requests.get(_tamper(urls, how), timeout=TIMEOUT)
    assert reply.status_code == 403
    message = error_messages(reply)[0]
    assert all(word in message for word in words), message


@ACCOUNTS
def test_expired_signed_url_is_403_and_a_fresh_one_works(wandb_server: LocalWandbServer) -> None:
    admin = f"{wandb_server.base_url}/_admin/signed-urls"
    assert requests.post(admin, json={"ttl_seconds": -5}, timeout=TIMEOUT).json() == {"ttl_seconds": -5.0}
    stale = file_urls(wandb_server, "acme", "churn", "churn-model", "v1", key=DEMO_KEY)["model.json"]
    manifest = data(gql(wandb_server, MANIFEST_URL, _fill({"id": "@v1"}, _ids(wandb_server)), key=DEMO_KEY))
    for url in (stale, manifest["artifact"]["currentManifest"]["file"]["directUrl"]):
        reply = requests.get(url, timeout=TIMEOUT)
        assert reply.status_code == 403
        assert "expired" in error_messages(reply)[0]
    requests.post(admin, json={"ttl_seconds": 600}, timeout=TIMEOUT).raise_for_status()
    fresh = file_urls(wandb_server, "acme", "churn", "churn-model", "v1", key=DEMO_KEY)["model.json"]
    assert requests.get(fresh, timeout=TIMEOUT).json()["kind"] == "linear"


@pytest.mark.parametrize(
    "body",
    [pytest.param(b"{}", id="missing"), pytest.param(b'{"ttl_seconds": "soon"}', id="string"),
     pytest.param(b"nope", id="not-json"), pytest.param(b'{"ttl_seconds": true}', id="boolean")],
)
def test_signed_url_ttl_rejects_bad_input(wandb_server: LocalWandbServer, body: bytes) -> None:
    reply = requests.post(f"{wandb_server.base_url}/_admin/signed-urls", data=body, timeout=TIMEOUT,
                          headers={"Content-Type": "application/json"})
    assert reply.status_code == 400
    assert "ttl_seconds" in error_messages(reply)[0] or "JSON" in error_messages(reply)[0]
    assert wandb_server.signer.ttl_seconds == 3600


def test_tampered_upload_url_is_403_and_stores_nothing(wandb_server: LocalWandbServer) -> None:
    body = b"never stored"
    md5_hex = hashlib.md5(body).hexdigest()
    gid = base64.b64encode(b"Artifact:1").decode()
    signed = wandb_server.signer.sign(f"/storage/uploads/{gid}/{md5_hex}")
    url = _with_query(wandb_server.base_url + signed, sig="0" * 32)
    reply = requests.put(url, data=body, timeout=TIMEOUT)
    assert reply.status_code == 403
    assert "signature" in error_messages(reply)[0]
    assert not wandb_server.store.blobs.has(md5_hex)


# --- the control plane ---------------------------------------------------------------------


def _outward_address() -> str | None:
    """A non-loopback address of this machine, if it has one."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("10.255.255.255", 9))  # no packet is sent: this only picks a route
        address: str = probe.getsockname()[0]
    except OSError:
        return None
    finally:
        probe.close()
    return None if address.startswith("127.") or address == "0.0.0.0" else address


def test_admin_routes_answer_only_on_loopback() -> None:
    address = _outward_address()
    if address is None:
        pytest.skip("this machine has no non-loopback address to call from")
    with LocalWandbServer(ServerConfig(host="0.0.0.0", users=(UserSpec("alice", "a" * 40),))) as server:
        port = urlsplit(server.base_url).port
        outside = f"http://{address}:{port}"
        assert requests.get(f"{outside}/healthz", timeout=TIMEOUT).status_code == 200  # reachable
        for method, path in [("GET", "stats"), ("POST", "stats/reset"), ("POST", "faults"),
                             ("POST", "signed-urls")]:
            reply = requests.request(method, f"{outside}/_admin/{path}", json={"ttl_seconds": -1}, timeout=TIMEOUT)
            assert reply.status_code == 403, path
            assert "loopback" in error_messages(reply)[0]
        assert server.signer.ttl_seconds == 3600
        assert requests.get(f"http://127.0.0.1:{port}/_admin/stats", timeout=TIMEOUT).status_code == 200
