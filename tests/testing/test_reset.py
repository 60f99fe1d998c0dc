"""``POST /_admin/reset`` (``LocalWandbServer.reset``): fresh state at the same address, as after start-up,
which is what lets the pytest plugin share one server between the tests of a module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from wandb_provider.testing import LocalWandbServer, ServerConfig

from ._http import TIMEOUT, gql

VERSIONS = """
query Versions($entity: String!, $project: String!, $name: String!) {
  project(name: $project, entityName: $entity) {
    artifactCollection(name: $name) { artifacts { edges { node { versionIndex } } } }
  }
}
"""


@pytest.fixture
def server() -> Iterator[LocalWandbServer]:
    config = ServerConfig(seed="demo", faults={"rules": [{"route": "files", "kind": "status", "status": 503,
                                                          "path": "never-matches"}]})
    with LocalWandbServer(config) as running:
        yield running


def _versions(server: LocalWandbServer, project: str, name: str, entity: str = "acme") -> list[int]:
    data = gql(server, VERSIONS, {"entity": entity, "project": project, "name": name}).json()["data"]
    collection = (data["project"] or {}).get("artifactCollection")
    return sorted(e["node"]["versionIndex"] for e in collection["artifacts"]["edges"]) if collection else []


def test_reset_returns_to_the_state_after_start_up(server: LocalWandbServer) -> None:
    seeded = {md5 for md5, _ in server.store.blobs.stored()}
    server.seed_artifact("extra", {"a.txt": "made by a test\n"}, project="churn", entity="acme")
    server.seed_artifact("churn-model", {"model.json": "{}\n"}, type="model", project="churn", entity="acme")
    server.set_faults({"rules": [{"route": "graphql", "kind": "delay", "seconds": 0}]})
    server.signer.ttl_seconds = 5
    a_seed_file = next(iter(seeded))
    server.store.blobs.path(a_seed_file).write_bytes(b"damaged by a test")
    assert _versions(server, "churn", "extra") == [0] and _versions(server, "churn", "churn-model") == [0, 1, 2, 3]
    base_url = server.base_url

    reply = requests.post(f"{server.base_url}/_admin/reset", json={}, timeout=TIMEOUT)

    assert reply.status_code == 200, reply.text
    assert server.base_url == base_url
    assert server.stats()["graphql"]["total"] == 0
    assert _versions(server, "churn", "extra") == []
    assert _versions(server, "churn", "churn-model") == [0, 1, 2]  # the demo seed, as at start-up
    assert {md5 for md5, _ in server.store.blobs.stored()} == seeded
    assert server.store.blobs.path(a_seed_file).read_bytes() != b"damaged by a test"
    assert server.faults.describe()["rules"][0]["path"] == "never-matches"  # the configured rules
    assert server.signer.ttl_seconds == 3600


def test_a_data_dir_server_is_never_reset(tmp_path: object) -> None:
    with LocalWandbServer(ServerConfig(data_dir=str(tmp_path))) as server:
        server.seed_artifact("mine", {"a.txt": "kept\n"}, project="p")
        reply = requests.post(f"{server.base_url}/_admin/reset", json={}, timeout=TIMEOUT)
        assert reply.status_code == 404
        with pytest.raises(ValueError, match="data_dir"):
            server.reset()
        assert _versions(server, "p", "mine", entity=server.entity) == [0]


@pytest.mark.wandb_server(seed="demo")
def test_the_plugin_shares_a_module_server_reset_for_each_test_a(wandb_server: LocalWandbServer) -> None:
    wandb_server.seed_artifact("left-behind", {"a.txt": "a\n"}, project="churn", entity="acme")
    _SEEN.append(wandb_server.base_url)


@pytest.mark.wandb_server(seed="demo")
def test_the_plugin_shares_a_module_server_reset_for_each_test_b(wandb_server: LocalWandbServer) -> None:
    assert [wandb_server.base_url] == _SEEN
    assert _versions(wandb_server, "churn", "left-behind") == []


_SEEN: list[str] = []
