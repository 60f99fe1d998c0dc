"""Server features negotiated as the SDK negotiates them, on both server profiles."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from wandb_provider.client import WandbClient
from wandb_provider.client._features import parse_features
from wandb_provider.client.errors import MalformedResponseError


def _client(server: Any) -> WandbClient:
    return WandbClient(server.base_url, server.api_key, entity=server.entity, project="p", max_retries=1,
                       backoff_min=0.05, backoff_max=0.1)


def _requests(server: Any, operation: str) -> list[dict[str, Any]]:
    return [r for r in server.graphql_requests() if r["operationName"] == operation
            and r["userAgent"].startswith("airflow-provider-wandb/")]


def _log_and_link(server: Any, tmp_path: Path) -> tuple[WandbClient, Any, Any]:
    (tmp_path / "a.txt").write_text("hello\n")
    (tmp_path / "big.bin").write_bytes(bytes(range(256)) * 1200)
    client = _client(server)
    version = client.log_artifact("ds", "dataset", files=str(tmp_path), aliases=["prod"],
                                  multipart_threshold=100_000)
    linked = client.link(version, f"{server.entity}/p/portfolio", aliases=["best"])
    return client, version, linked


@pytest.mark.wandb_server(profile="latest")
def test_on_latest_w_and_b_the_client_asks_once_and_uses_every_feature(wandb_server: Any, tmp_path: Path) -> None:
    client, version, linked = _log_and_link(wandb_server, tmp_path)
    client.link(version, f"{wandb_server.entity}/p/other")
    assert wandb_server.stats()["graphql"]["operations"]["ServerFeaturesQuery"] == 1  # cached on the client
    assert linked.aliases and "best" in linked.aliases and linked.version_index == 0
    assert all("artifactMembership" in link["query"] for link in _requests(wandb_server, "LinkArtifact"))
    (files,) = _requests(wandb_server, "CreateArtifactFiles")
    spec = files["variables"]["input"]["artifactFiles"][0]
    assert {"digest", "artifactManifestID", "md5"} <= set(spec)
    assert "digestAlgorithm" in files["variables"]["input"]


@pytest.mark.wandb_server(profile="legacy")
def test_on_the_oldest_supported_w_and_b_the_client_falls_back(wandb_server: Any, tmp_path: Path) -> None:
    """No per-file digests, no membership in linkArtifact's answer: read back instead. The SDK sees
    the result as W&B would show it."""
    _, version, linked = _log_and_link(wandb_server, tmp_path)
    assert "best" in linked.aliases and linked.version_index == 0 and linked.id == version.id
    (link,) = _requests(wandb_server, "LinkArtifact")
    assert "artifactMembership" not in link["query"]
    (files,) = _requests(wandb_server, "CreateArtifactFiles")
    spec = files["variables"]["input"]["artifactFiles"][0]
    assert "digest" not in spec and "digestAlgorithm" not in files["variables"]["input"]
    assert {"artifactManifestID", "md5"} <= set(spec)

    import wandb

    api = wandb.Api(api_key=wandb_server.api_key, overrides={"base_url": wandb_server.base_url})
    seen = api.artifact(f"{wandb_server.entity}/p/portfolio:best")
    out = tmp_path / "sdk"
    seen.download(root=str(out))
    assert (out / "a.txt").read_text() == "hello\n"
    assert (out / "big.bin").read_bytes() == (tmp_path / "big.bin").read_bytes()


def test_a_features_answer_with_unknown_fields_is_accepted() -> None:
    data = {"serverInfo": {"features": [{"name": "ARTIFACT_DIGEST_ALGORITHM", "isEnabled": True, "since": "x"},
                                        {"name": "OTHER", "isEnabled": False}, None], "more": 1}}
    assert parse_features(data) == {"ARTIFACT_DIGEST_ALGORITHM"}
    assert parse_features({"serverInfo": None}) == frozenset()


@pytest.mark.parametrize(("data", "field"), [
    ({"serverInfo": {}}, "serverInfo.features"),
    ({"serverInfo": {"features": [{"isEnabled": True}]}}, "name"),
    ({"serverInfo": {"features": [{"name": "X"}]}}, "isEnabled"),
])
def test_a_features_answer_missing_a_needed_field_is_malformed(data: dict[str, Any], field: str) -> None:
    with pytest.raises(MalformedResponseError, match=field):
        parse_features(data)
