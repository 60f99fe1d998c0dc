"""Artifact paths: the accepted forms, and a catalogue of bad ones refused before any request."""

from __future__ import annotations

import pytest

from wandb_provider.client import ArtifactPath, InvalidArtifactPathError, WandbClient


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("acme/churn/model:production", ("acme", "churn", "model", "production"), id="full"),
        pytest.param("acme/churn/model:v3", ("acme", "churn", "model", "v3"), id="version"),
        pytest.param("acme/churn/model", ("acme", "churn", "model", None), id="no-alias"),
        pytest.param("churn/model:latest", ("dflt", "churn", "model", "latest"), id="default-entity"),
        pytest.param("model:best", ("dflt", "proj", "model", "best"), id="defaults"),
        pytest.param("model.v2-final_x", ("dflt", "proj", "model.v2-final_x", None), id="dots-and-dashes"),
        pytest.param("wandb-registry-model/churn:prod", (None, "wandb-registry-model", "churn", "prod"),
                     id="registry-without-org"),
        pytest.param("acme-corp/wandb-registry-model/churn", ("acme-corp", "wandb-registry-model", "churn", None),
                     id="registry-with-org"),
    ],
)
def test_parse_accepts(text: str, expected: tuple[str | None, str, str, str | None]) -> None:
    path = ArtifactPath.parse(text, default_entity="dflt", default_project="proj")
    assert (path.entity, path.project, path.name, path.alias) == expected


BAD_PATHS = [
    pytest.param("", id="empty"),
    pytest.param("  acme/churn/model", id="leading-space"),
    pytest.param("a/b/c/d", id="four-parts"),
    pytest.param("acme//model", id="empty-part"),
    pytest.param("acme/churn/model:", id="empty-alias"),
    pytest.param("acme/churn/model:a:b", id="colon-in-alias"),
    pytest.param("acme/churn/" + "m" * 129, id="name-too-long"),
    pytest.param("acme/churn/model:" + "a" * 129, id="alias-too-long"),
    pytest.param("acme/ch#urn/model", id="hash-in-project"),
    pytest.param("acme/ch%urn/model", id="percent-in-project"),
    pytest.param("ac me/churn/model", id="space-in-entity"),
    pytest.param("acme/" + "p" * 129 + "/model", id="project-too-long"),
    pytest.param("model", id="no-project"),
    pytest.param("acme/wandb-registry-/model", id="registry-without-name"),
    pytest.param("acme/churn/mo\x00del", id="nul"),
]


@pytest.mark.parametrize("text", BAD_PATHS)
def test_bad_paths_are_refused_before_any_request(wandb_server, text: str) -> None:
    client = WandbClient(wandb_server.base_url, wandb_server.api_key)
    wandb_server.reset_stats()
    with pytest.raises(InvalidArtifactPathError) as info:
        client.artifact(text)
    assert "[entity/][project/]name[:alias|:vN]" in str(info.value)
    assert isinstance(info.value, ValueError)
    assert wandb_server.stats()["graphql"]["total"] == 0


def test_str_round_trips() -> None:
    text = "acme/churn/model:v3"
    assert str(ArtifactPath.parse(text)) == text
    assert ArtifactPath.parse(text).is_version
    assert not ArtifactPath.parse("acme/churn/model:prod").is_version
