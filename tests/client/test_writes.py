"""Aliases, edits, links, collections and deletes through our client; each change seen by the wandb SDK."""

from __future__ import annotations

import math

import pytest

from wandb_provider.client import (
    AliasConflictError,
    ArtifactNotFoundError,
    InvalidArtifactPathError,
    InvalidValueError,
    PermissionDeniedError,
    ProtectedAliasError,
    WandbClient,
)

pytestmark = pytest.mark.wandb_server(
    seed="demo", users=["demo:local-" + "0" * 40, "bob:bob-" + "b" * 40],
    teams=["acme:demo:admin,bob:member"],
)


@pytest.fixture
def client(wandb_server) -> WandbClient:
    return WandbClient(wandb_server.base_url, wandb_server.api_key, entity="acme", project="churn")


def sdk(server):
    """A fresh official-SDK client: the independent observer of every change."""
    import wandb

    return wandb.Api(api_key=server.api_key, overrides={"base_url": server.base_url})


def test_alias_move_takes_it_off_the_old_holder(wandb_server, client: WandbClient) -> None:
    change = client.update_aliases("churn-model:candidate", add=["production"])
    assert change.changed and change.added == ("production",)
    assert change.before == {"production": "v1"} and change.after == {"production": "v2"}
    api = sdk(wandb_server)
    assert api.artifact("acme/churn/churn-model:production").version == "v2"
    assert "production" not in api.artifact("acme/churn/churn-model:v1").aliases


def test_rerun_is_idempotent_and_sends_no_mutation(wandb_server, client: WandbClient) -> None:
    client.update_aliases("churn-model:v2", add=["production"], only_if_current={"production": "v1"})
    wandb_server.reset_stats()
    again = client.update_aliases("churn-model:v2", add=["production"], only_if_current={"production": "v1"})
    assert not again.changed and again.added == ()
    assert wandb_server.stats()["graphql"]["operations"] == {"ArtifactWithAliasHolders": 1}


def test_guarded_promotion_costs_at_most_three_requests(wandb_server, client: WandbClient) -> None:
    wandb_server.reset_stats()
    client.update_aliases("churn-model:candidate", add=["production"], only_if_current={"production": "v1"})
    assert wandb_server.stats()["graphql"]["total"] <= 3
    assert sdk(wandb_server).artifact("acme/churn/churn-model:production").version == "v2"


def test_compare_and_set_conflict_changes_nothing(wandb_server, client: WandbClient) -> None:
    with pytest.raises(AliasConflictError, match="'production' is on v1, expected v0"):
        client.update_aliases("churn-model:candidate", add=["production"], only_if_current={"production": "v0"})
    with pytest.raises(AliasConflictError, match="expected no version"):
        client.update_aliases("churn-model:candidate", add=["production"], only_if_current={"production": None})
    assert sdk(wandb_server).artifact("acme/churn/churn-model:production").version == "v1"


def test_remove_alias(wandb_server, client: WandbClient) -> None:
    change = client.update_aliases("churn-model:v2", remove=["candidate"])
    assert change.removed == ("candidate",) and change.after == {"candidate": None}
    assert "candidate" not in sdk(wandb_server).artifact("acme/churn/churn-model:v2").aliases
    assert not client.update_aliases("churn-model:v2", remove=["candidate"]).changed


@pytest.mark.parametrize("alias", ["v3", "a/b", "x:y", "a" * 129, ""])
def test_bad_aliases_are_refused_before_any_request(wandb_server, client: WandbClient, alias: str) -> None:
    wandb_server.reset_stats()
    with pytest.raises(InvalidArtifactPathError):
        client.update_aliases("churn-model:v2", add=[alias])
    assert wandb_server.stats()["graphql"]["total"] == 0


def test_update_metadata_merge_replace_description_tags(wandb_server, client: WandbClient) -> None:
    updated = client.update("churn-model:v2", metadata={"eval": {"split": "holdout"}, "owner": "ml"},
                            description="checked", tags_add=["reviewed"])
    assert updated.metadata["owner"] == "ml" and updated.metadata["accuracy"] == 0.9
    seen = sdk(wandb_server).artifact("acme/churn/churn-model:v2")
    assert seen.metadata["eval"] == {"split": "holdout"} and seen.description == "checked"
    assert "reviewed" in seen.tags
    replaced = client.update("churn-model:v2", metadata={"only": 1}, metadata_mode="replace", tags_remove=["reviewed"])
    assert replaced.metadata == {"only": 1} and replaced.tags == ()
    wandb_server.reset_stats()
    client.update("churn-model:v2", metadata={"only": 1})
    assert "UpdateArtifact" not in wandb_server.stats()["graphql"]["operations"]


@pytest.mark.parametrize(
    "metadata",
    [
        pytest.param({"x": math.nan}, id="nan"),
        pytest.param({"x": math.inf}, id="inf"),
        pytest.param({f"k{i}": i for i in range(101)}, id="too-many-keys"),
        pytest.param({"x": object()}, id="not-json"),
    ],
)
def test_invalid_metadata_is_refused_before_any_request(wandb_server, client: WandbClient, metadata) -> None:
    wandb_server.reset_stats()
    with pytest.raises(InvalidValueError, match="metadata"):
        client.update("churn-model:v2", metadata=metadata)
    assert wandb_server.stats()["graphql"]["total"] == 0


def test_link_twice_creates_one_membership(wandb_server, client: WandbClient) -> None:
    first = client.link("churn-model:v2", "acme/churn/churn-shortlist", aliases=["best"])
    second = client.link("churn-model:v2", "churn/churn-shortlist")
    assert first.version == second.version == "v0" and first.source_version == "v2"
    assert first.is_link and first.name == "churn-shortlist"
    api = sdk(wandb_server)
    assert [a.version for a in api.artifacts("model", "acme/churn/churn-shortlist")] == ["v0"]
    assert api.artifact("acme/churn/churn-shortlist:best").source_version == "v2"
    client.unlink(client.artifact("churn-shortlist:v0"))
    with pytest.raises(ArtifactNotFoundError):
        client.artifact("churn-shortlist:v0")


@pytest.mark.wandb_server(seed="demo", users=["demo:local-" + "0" * 40, "bob:bob-" + "b" * 40],
                          teams=["acme:demo:admin,bob:member"], orgs=["acme-corp:acme"])
def test_link_into_registry_and_protected_alias(wandb_server, client: WandbClient) -> None:
    linked = client.link("churn-model:v2", "wandb-registry-model/churn", aliases=["staging"])
    assert (linked.entity, linked.project, linked.version) == ("acme-corp-org", "wandb-registry-model", "v0")
    wandb_server.store.accounts.set_protected_aliases("acme-corp-org", "wandb-registry-model", ["production"])
    bob = WandbClient(wandb_server.base_url, "bob-" + "b" * 40, entity="acme", project="churn")
    with pytest.raises(ProtectedAliasError, match="protected"):
        bob.update_aliases("acme-corp/wandb-registry-model/churn:v0", add=["production"])
    client.update_aliases("acme-corp/wandb-registry-model/churn:v0", add=["production"])
    seen = sdk(wandb_server).artifact("acme-corp-org/wandb-registry-model/churn:production")
    assert seen.source_version == "v2"


def test_model_registry_rule(wandb_server, client: WandbClient) -> None:
    client.link("churn-model:v2", "acme/model-registry/churn-models")
    with pytest.raises(InvalidValueError, match="Model Registry"):
        client.update_aliases("acme/model-registry/churn-models:v0", add=["staging"])


def test_permission_denied_for_viewers(wandb_server) -> None:
    wandb_server.store.accounts.add_team("acme", {"bob": "viewer"})
    bob = WandbClient(wandb_server.base_url, "bob-" + "b" * 40, entity="acme", project="churn")
    assert bob.artifact("churn-model:production").version == "v1"
    with pytest.raises(PermissionDeniedError):
        bob.update_aliases("churn-model:candidate", add=["production"])


def test_update_collection(wandb_server, client: WandbClient) -> None:
    state = client.update_collection("churn-dataset", description="all snapshots", tags_add=["tabular"])
    assert state["description"] == "all snapshots" and state["tags"] == ["tabular"]
    renamed = client.update_collection("churn-dataset", new_name="churn-data", tags_remove=["tabular"])
    assert renamed["name"] == "churn-data" and renamed["tags"] == []
    collection = sdk(wandb_server).artifact_collection("dataset", "acme/churn/churn-data")
    assert collection.description == "all snapshots"


def test_delete_needs_delete_aliases(wandb_server, client: WandbClient) -> None:
    with pytest.raises(Exception, match="aliases"):
        client.delete("churn-model:candidate")
    client.delete("churn-model:candidate", delete_aliases=True)
    with pytest.raises(ArtifactNotFoundError):
        client.artifact("churn-model:v2")
    assert sdk(wandb_server).artifact("acme/churn/churn-model:latest").version == "v1"


@pytest.mark.wandb_server(seed="demo", users=["demo:local-" + "0" * 40, "bob:bob-" + "b" * 40],
                          teams=["acme:demo:admin,bob:member"], orgs=["acme-corp:acme"])
def test_a_protected_alias_is_refused_on_log_as_on_update_for_a_member(wandb_server, client: WandbClient,
                                                                       tmp_path) -> None:
    wandb_server.store.accounts.set_protected_aliases("acme", "churn", ["production"])
    holder = sdk(wandb_server).artifact("acme/churn/churn-model:production")
    bob = WandbClient(wandb_server.base_url, "bob-" + "b" * 40, entity="acme", project="churn")
    (tmp_path / "model.bin").write_bytes(b"bob's model")
    with pytest.raises(ProtectedAliasError, match="protected"):
        bob.update_aliases("churn-model:candidate", add=["production"])
    wandb_server.reset_stats()
    with pytest.raises(ProtectedAliasError, match="protected"):
        bob.log_artifact("churn-model", "model", tmp_path / "model.bin", aliases=["production"])
    assert wandb_server.stats()["uploads"] == 0  # refused before any byte was sent
    with pytest.raises(ProtectedAliasError):  # the same content as a version that exists: still refused
        bob.log_artifact("churn-model", "model", tmp_path / "model.bin", aliases=["production"])
    seen = sdk(wandb_server).artifact("acme/churn/churn-model:production")
    assert seen.id == holder.id  # production did not move
    logged = bob.log_artifact("churn-model", "model", tmp_path / "model.bin", aliases=["bob-try"])
    assert "production" not in logged.aliases
    moved = client.log_artifact("churn-model", "model", tmp_path / "model.bin", aliases=["production"])
    assert moved.id == logged.id and sdk(wandb_server).artifact("acme/churn/churn-model:production").id == logged.id
