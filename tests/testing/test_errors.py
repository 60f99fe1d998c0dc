"""Bad input gets a clear W&B-shaped error and changes nothing.

Request-level errors (syntax, validation, variables) are answered HTTP 400 with ``errors`` and
``data: null``; errors raised while resolving a field come back in an HTTP 200 with ``errors`` and
that field null. Unknown entities, projects, collections and aliases read as ``null`` (W&B's
answer; the SDK turns it into its own "not found"), and writes naming them fail with a message.
After every case the whole store, and what a client can query, is exactly as before.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from wandb_provider.testing import LocalWandbServer, ServerConfig

from ._http import ARTIFACT, TIMEOUT, artifact, error_messages, gql, snapshot

V1 = "@v1"  # placeholder for the id of acme/churn/churn-model:v1 (it holds `production`)
ADD_ALIASES = "mutation AddAliases($input: AddAliasesInput!) { result: addAliases(input: $input) { success } }"
CREATE = "mutation CreateArtifact($input: CreateArtifactInput!) { createArtifact(input: $input) { artifact { id } } }"
LINK = "mutation LinkArtifact($input: LinkArtifactInput!) { result: linkArtifact(input: $input) { versionIndex } }"
UPDATE = "mutation U($input: UpdateArtifactInput!) { result: updateArtifact(input: $input) { artifact { id } } }"
DELETE = "mutation D($input: DeleteArtifactInput!) { result: deleteArtifact(input: $input) { artifact { id } } }"
MEMBERSHIP = """query Membership($entity: String!, $project: String!, $collection: String!, $alias: String!) {
  project(name: $project, entityName: $entity) {
    artifactCollection(name: $collection) { artifactMembership(aliasName: $alias) { id versionIndex } }
  }
}"""
# What a client sees of the demo project: every collection, version and alias.
VISIBLE = """query Visible {
  project(name: "churn", entityName: "acme") {
    artifactCollections(first: 100) { edges { node { name __typename
      artifacts(first: 100) { edges { version node { id digest description metadata state aliases { alias } } } }
    } } }
  }
  viewer { teams { edges { node { name } } } }
}"""
LONG = "n" * 129


def alias(name: str, entity: str = "acme", project: str = "churn", collection: str = "churn-model") -> dict[str, str]:
    return {"alias": name, "artifactCollectionName": collection, "entityName": entity, "projectName": project}


def create_input(**changes: Any) -> dict[str, Any]:
    spec = {"entityName": "acme", "projectName": "fresh-project", "artifactCollectionName": "new-ds",
            "artifactTypeName": "dataset", "digest": "0" * 32, "digestAlgorithm": "MANIFEST_MD5",
            "aliases": [{"alias": "latest", "artifactCollectionName": "new-ds"}]}
    return {"input": {**spec, **changes}}


def link_input(**changes: Any) -> dict[str, Any]:
    spec = {"artifactID": V1, "artifactPortfolioName": "promoted", "entityName": "acme", "projectName": "churn",
            "aliases": [{"alias": "best", "artifactCollectionName": "promoted"}]}
    return {"input": {**spec, **changes}}


def error(status: int, *words: str) -> dict[str, Any]:
    """Expect an error answer with ``status`` whose message contains each of ``words``."""
    return {"status": status, "words": words}


def null_at(*path: str) -> dict[str, Any]:
    """Expect HTTP 200, no errors, and ``None`` at ``path`` in ``data`` (W&B's "not there")."""
    return {"status": 200, "null": path}


CASES = [
    # --- malformed requests ---------------------------------------------------------------
    pytest.param("mutation { addAliases(input: {", None, error(400, "Syntax Error"), id="graphql-syntax"),
    pytest.param("query Viewer { viewer { username favouriteColour } }", None,
                 error(400, "favouriteColour", "User"), id="unknown-field"),
    pytest.param("mutation Nope($input: AddAliasesInput!) { addAliasez(input: $input) { success } }",
                 {"input": {}}, error(400, "addAliasez", "Mutation"), id="unknown-mutation"),
    pytest.param(ADD_ALIASES, {"input": {"artifactID": V1, "aliases": [], "aliasez": []}},
                 error(400, "aliasez", "AddAliasesInput"), id="unknown-input-field"),
    pytest.param(ADD_ALIASES, {"input": {"artifactID": V1, "aliases": "prod"}},
                 error(400, "$input", "aliases", "ArtifactCollectionAliasInput"), id="variable-wrong-type-list"),
    pytest.param(DELETE, {"input": {"artifactID": V1, "deleteAliases": "yes"}},
                 error(400, "deleteAliases", "Boolean"), id="variable-wrong-type-boolean"),
    pytest.param(MEMBERSHIP, {"entity": "acme", "project": 7, "collection": "churn-model", "alias": "v0"},
                 error(400, "$project", "String"), id="variable-wrong-type-string"),
    pytest.param(ADD_ALIASES, {}, error(400, "$input", "AddAliasesInput!"), id="variable-missing"),
    pytest.param("query A { viewer { id } } query B { viewer { id } }", None,
                 error(400, "operation name"), id="several-operations-no-name"),
    # --- unknown things: reads answer null, writes name what is missing -------------------
    pytest.param(MEMBERSHIP, {"entity": "nobody", "project": "churn", "collection": "churn-model", "alias": "v0"},
                 null_at("project"), id="read-unknown-entity"),
    pytest.param(MEMBERSHIP, {"entity": "acme", "project": "nope", "collection": "churn-model", "alias": "v0"},
                 null_at("project"), id="read-unknown-project"),
    pytest.param(MEMBERSHIP, {"entity": "acme", "project": "churn", "collection": "nope", "alias": "v0"},
                 null_at("project", "artifactCollection"), id="read-unknown-collection"),
    pytest.param(MEMBERSHIP, {"entity": "acme", "project": "churn", "collection": "churn-model", "alias": "nope"},
                 null_at("project", "artifactCollection", "artifactMembership"), id="read-unknown-alias"),
    pytest.param(MEMBERSHIP, {"entity": "acme", "project": "churn", "collection": "churn-model", "alias": "v99"},
                 null_at("project", "artifactCollection", "artifactMembership"), id="read-unknown-version"),
    pytest.param(ARTIFACT, {"entity": "acme", "project": "churn", "name": "churn-model:nope"},
                 null_at("project", "artifact"), id="read-unknown-alias-by-name"),
    pytest.param(ADD_ALIASES, {"input": {"artifactID": V1, "aliases": [alias("prod", entity="nobody")]}},
                 error(200, "nobody"), id="write-unknown-entity"),
    pytest.param(ADD_ALIASES, {"input": {"artifactID": V1, "aliases": [alias("prod", project="nope")]}},
                 error(200, "'nope'", "acme"), id="write-unknown-project"),
    pytest.param(ADD_ALIASES, {"input": {"artifactID": V1, "aliases": [alias("prod", collection="nope")]}},
                 error(200, "collection 'nope'"), id="write-unknown-collection"),
    pytest.param(ADD_ALIASES, {"input": {"artifactID": "QXJ0aWZhY3Q6OTk5OQ==", "aliases": [alias("prod")]}},
                 error(200, "QXJ0aWZhY3Q6OTk5OQ==", "not found"), id="write-unknown-artifact"),
    pytest.param(UPDATE, {"input": {"artifactID": "not-an-id", "description": "x"}},
                 error(200, "not-an-id"), id="write-malformed-artifact-id"),
    # --- names over 128 characters --------------------------------------------------------
    pytest.param(CREATE, create_input(artifactCollectionName=LONG),
                 error(200, "artifact name", "128"), id="long-artifact-name"),
    pytest.param(CREATE, create_input(projectName="p" * 129), error(200, "project name", "128"),
                 id="long-project-name"),
    pytest.param(CREATE, create_input(artifactTypeName=LONG), error(200, "artifact type name", "128"),
                 id="long-type-name"),
    pytest.param(ADD_ALIASES, {"input": {"artifactID": V1, "aliases": [alias("a" * 129)]}},
                 error(200, "invalid alias", "128"), id="long-alias"),
    pytest.param(LINK, link_input(artifactPortfolioName=LONG, aliases=[]), error(200, "portfolio name", "128"),
                 id="long-portfolio-name"),
    # --- aliases W&B refuses --------------------------------------------------------------
    pytest.param(ADD_ALIASES, {"input": {"artifactID": V1, "aliases": [alias("a/b")]}},
                 error(200, "'a/b'"), id="alias-with-slash"),
    pytest.param(ADD_ALIASES, {"input": {"artifactID": V1, "aliases": [alias("x:y")]}},
                 error(200, "'x:y'"), id="alias-with-colon"),
    pytest.param(ADD_ALIASES, {"input": {"artifactID": V1, "aliases": [alias("v7")]}},
                 error(200, "'v7'", "version"), id="alias-version-like"),
    pytest.param(CREATE, create_input(aliases=[{"alias": "a/b", "artifactCollectionName": "new-ds"}]),
                 error(200, "'a/b'"), id="create-with-bad-alias"),
    pytest.param(LINK, link_input(aliases=[{"alias": "x:y", "artifactCollectionName": "promoted"}]),
                 error(200, "'x:y'"), id="link-with-bad-alias"),
    # --- a failure after earlier writes of the same request rolls them back ---------------
    pytest.param(ADD_ALIASES, {"input": {"artifactID": V1, "aliases": [alias("good"), alias("x:y")]}},
                 error(200, "'x:y'"), id="second-alias-bad"),
    pytest.param(
        "mutation Two($a: AddAliasesInput!, $b: AddAliasesInput!) {"
        " a: addAliases(input: $a) { success } b: addAliases(input: $b) { success } }",
        {"a": {"artifactID": V1, "aliases": [alias("good")]}, "b": {"artifactID": V1, "aliases": [alias("a/b")]}},
        error(200, "'a/b'"), id="second-mutation-field-bad"),
    pytest.param(UPDATE, {"input": {"artifactID": V1, "description": "changed", "metadata": "[1, 2]"}},
                 error(200, "metadata", "JSON object"), id="update-metadata-not-object"),
    pytest.param(DELETE, {"input": {"artifactID": V1, "deleteAliases": False}},
                 error(200, "production", "deleteAliases"), id="delete-aliased-version"),
]


@pytest.fixture(scope="module")
def server() -> Iterator[LocalWandbServer]:
    """One demo server for the whole table: every case must leave it exactly as it found it."""
    with LocalWandbServer(ServerConfig(seed="demo")) as running:
        yield running


def _substitute(value: Any, v1_id: str) -> Any:
    if value == V1:
        return v1_id
    if isinstance(value, dict):
        return {k: _substitute(v, v1_id) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, v1_id) for v in value]
    return value


def _visible(server: LocalWandbServer) -> Any:
    reply = gql(server, VISIBLE)
    assert reply.status_code == 200 and "errors" not in reply.json(), reply.text
    return reply.json()["data"]


@pytest.mark.parametrize(("query", "variables", "expected"), CASES)
def test_bad_input_is_refused_and_changes_nothing(
    server: LocalWandbServer, query: str, variables: dict[str, Any] | None, expected: dict[str, Any]
) -> None:
    v1_id = artifact(server, "acme", "churn", "churn-model:v1")["id"]
    before, seen_before = snapshot(server.store), _visible(server)

    reply = gql(server, query, _substitute(variables, v1_id))

    assert reply.status_code == expected["status"], reply.text
    assert reply.headers["content-type"].startswith("application/json")
    body = reply.json()
    if "null" in expected:
        assert "errors" not in body, body
        value = body["data"]
        for key in expected["null"][:-1]:
            value = value[key]
        assert value[expected["null"][-1]] is None, body
    else:
        message = " | ".join(error_messages(reply))
        for word in expected["words"]:
            assert word in message, f"{word!r} not in {message!r}"
        if reply.status_code == 400:
            assert body["data"] is None
        else:
            assert all(error["path"] for error in body["errors"]), body  # a field error, located
    assert snapshot(server.store) == before
    assert _visible(server) == seen_before


@pytest.mark.parametrize(
    ("body", "words"),
    [
        pytest.param(b"{not json", ["not JSON"], id="body-not-json"),
        pytest.param(b'["query"]', ["JSON object", "'query'"], id="body-not-object"),
        pytest.param(b'{"variables": {}}', ["'query'"], id="query-missing"),
        pytest.param(b'{"query": "{ viewer { id } }", "variables": [1]}', ["'variables'"], id="variables-not-object"),
        pytest.param(b'{"query": "{ viewer { id } }", "operationName": 5}', ["'operationName'"],
                     id="operation-name-not-string"),
        pytest.param(b'{"query": "query A { viewer { id } }", "operationName": "B"}', ["'B'"],
                     id="operation-name-unknown"),
    ],
)
def test_malformed_envelope_is_400(server: LocalWandbServer, body: bytes, words: list[str]) -> None:
    before = snapshot(server.store)
    reply = requests.post(f"{server.base_url}/graphql", data=body, auth=("api", server.api_key),
                          headers={"Content-Type": "application/json"}, timeout=TIMEOUT)
    assert reply.status_code == 400, reply.text
    message = " | ".join(error_messages(reply))
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"
    assert snapshot(server.store) == before


@pytest.mark.wandb_server(seed="demo")
def test_good_input_does_change_state(wandb_server: LocalWandbServer) -> None:
    """The control: the same mutations with good input do write, so "unchanged" above means refused."""
    v1_id = artifact(wandb_server, "acme", "churn", "churn-model:v1")["id"]
    before = snapshot(wandb_server.store)
    reply = gql(wandb_server, ADD_ALIASES, {"input": {"artifactID": v1_id, "aliases": [alias("good")]}})
    assert reply.json() == {"data": {"result": {"success": True}}}
    assert {"alias": "good"} in artifact(wandb_server, "acme", "churn", "churn-model:v1")["aliases"]
    reply = gql(wandb_server, CREATE, create_input())
    assert reply.status_code == 200 and "errors" not in reply.json(), reply.text
    assert snapshot(wandb_server.store) != before
