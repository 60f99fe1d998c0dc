"""Reads against the local server: resolve, by id, list every page, manifest and file URLs."""

from __future__ import annotations

import json

import pytest
import requests

from wandb_provider.client import (
    ArtifactNotFoundError,
    NotFoundError,
    UnsafePathError,
    WandbClient,
)

pytestmark = pytest.mark.wandb_server(seed="demo")


@pytest.fixture
def client(wandb_server) -> WandbClient:
    return WandbClient(wandb_server.base_url, wandb_server.api_key)


def test_resolve_by_alias(client: WandbClient) -> None:
    version = client.artifact("acme/churn/churn-model:production")
    assert (version.entity, version.project, version.name, version.version) == ("acme", "churn", "churn-model", "v1")
    assert version.aliases == ("production",)
    assert version.type == "model"
    assert version.state == "COMMITTED"
    assert version.metadata["eval"] == {"split": "test"}
    assert version.qualified_name == "acme/churn/churn-model:v1"
    assert version.collection_kind == "sequence"


def test_resolve_by_version_and_latest(client: WandbClient) -> None:
    v0 = client.artifact("acme/churn/churn-model:v0")
    latest = client.artifact("acme/churn/churn-model")
    assert v0.version == "v0" and v0.aliases == ()
    assert latest.version == "v2" and set(latest.aliases) == {"candidate", "latest"}
    assert v0.id != latest.id


def test_resolve_with_connection_defaults_in_one_request(wandb_server) -> None:
    client = WandbClient(wandb_server.base_url, wandb_server.api_key, entity="acme", project="churn")
    wandb_server.reset_stats()
    version = client.artifact("churn-dataset:training")
    assert version.qualified_name == "acme/churn/churn-dataset:v2"
    assert wandb_server.stats()["graphql"] == {"total": 1, "operations": {"ArtifactByName": 1}}


def test_missing_entity_uses_the_viewer_once(wandb_server, client: WandbClient) -> None:
    wandb_server.seed_artifact("mine", {"a.txt": "a"}, project="p")
    wandb_server.reset_stats()
    assert client.artifact("p/mine").entity == "demo"
    assert client.artifact("p/mine:v0").entity == "demo"
    assert wandb_server.stats()["graphql"]["operations"] == {"Viewer": 1, "ArtifactByName": 2}


def test_unknown_alias_project_and_collection(client: WandbClient) -> None:
    with pytest.raises(ArtifactNotFoundError, match="has alias or version 'nope'"):
        client.artifact("acme/churn/churn-model:nope")
    with pytest.raises(ArtifactNotFoundError):
        client.artifact("acme/churn/no-such-collection")
    with pytest.raises(NotFoundError, match="acme/nowhere"):
        client.artifact("acme/nowhere/churn-model")


def test_artifact_by_id_matches_resolution(client: WandbClient) -> None:
    by_name = client.artifact("acme/churn/churn-model:candidate")
    by_id = client.artifact_by_id(by_name.id)
    assert by_id == by_name
    with pytest.raises(ArtifactNotFoundError):
        client.artifact_by_id("QXJ0aWZhY3Q6OTk5OTk=")


def test_versions_iterates_every_page(wandb_server, client: WandbClient, monkeypatch: pytest.MonkeyPatch) -> None:
    for index in range(5):
        wandb_server.seed_artifact("many", {"i.txt": str(index)}, project="p")
    monkeypatch.setattr("wandb_provider.client._reads.PAGE_SIZE", 2)
    wandb_server.reset_stats()
    versions = list(client.versions("demo/p/many"))
    assert [v.version for v in versions] == ["v4", "v3", "v2", "v1", "v0"]
    assert wandb_server.stats()["graphql"]["operations"] == {"CollectionVersions": 3}
    assert versions[0].aliases == ("latest",)
    with pytest.raises(ArtifactNotFoundError, match="not 'model'"):
        list(client.versions("demo/p/many", type="model"))


def test_to_dict_is_json_safe(client: WandbClient) -> None:
    data = client.artifact("acme/churn/churn-model:production").to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["qualified_name"] == "acme/churn/churn-model:v1"
    assert data["created_at"].startswith("20")


def test_manifest_and_file_urls(client: WandbClient) -> None:
    version = client.artifact("acme/churn/churn-dataset:v1")
    manifest = client.manifest(version)
    assert sorted(manifest.entries) == ["README.md", "test.csv", "train.csv"]
    assert manifest.total_size == version.size
    urls = {u.name: u.url for u in client.file_urls(version)}
    assert sorted(urls) == sorted(manifest.entries)
    body = requests.get(urls["README.md"], timeout=60).content
    assert body == b"Churn dataset, snapshot 1.\n"


def test_unsafe_manifest_paths_are_refused(wandb_server, client: WandbClient) -> None:
    for bad in ("../escape.txt", "/etc/passwd", "a\\b.txt"):
        version = wandb_server.seed_artifact("evil", {bad: "x"}, project="p")
        with pytest.raises(UnsafePathError, match="refusing manifest entry"):
            client.manifest(client.artifact_by_id(_gid(version.id)))


def _gid(number: int) -> str:
    from wandb_provider.testing import ids

    return ids.encode("Artifact", number)
