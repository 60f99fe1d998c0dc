"""Writes that stay honest under concurrency: alias moves and metadata merges against racing writers.

Races are made two ways: real threads started together (many runs), and deterministically, by
letting the local server apply "another writer's" change right after ours lands (a wrapper
around the emulator's store method, never around our client). The official SDK observes the end state.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

import pytest

from wandb_provider.client import (
    AliasConflictError,
    ConditionNotMetError,
    InvalidArtifactPathError,
    InvalidValueError,
    MetadataConflictError,
    ProtectedAliasError,
    WandbClient,
)

pytestmark = pytest.mark.wandb_server(seed="demo", teams=["acme:demo:admin"], orgs=["acme-corp:acme"])


def client_for(server) -> WandbClient:
    return WandbClient(server.base_url, server.api_key, entity="acme", project="churn")


@pytest.fixture
def client(wandb_server) -> WandbClient:
    return client_for(wandb_server)


def sdk(server):
    import wandb

    return wandb.Api(api_key=server.api_key, overrides={"base_url": server.base_url})


def artifact_id(server, name: str) -> int:
    store = server.store
    found = store.memberships.resolve_name(store.accounts.get_project(server.user(), "acme", "churn"), name)
    assert found is not None
    return int(found[1].artifact_id)


def other_writer_moves(server, alias: str, onto: str) -> Callable[[], None]:
    target = {"alias": alias, "artifactCollectionName": "churn-model", "entityName": "acme", "projectName": "churn"}
    return lambda: server.store.versions.change_aliases(server.user(), artifact_id(server, f"churn-model:{onto}"),
                                                        [target], add=True)


def other_writer_sets_metadata(server, name: str, metadata: dict[str, Any]) -> Callable[[], None]:
    return lambda: server.store.versions.update_version(server.user(), artifact_id(server, name),
                                                        {"metadata": json.dumps(metadata)})


def right_after_our(monkeypatch: pytest.MonkeyPatch, server, method: str, action: Callable[[], None]) -> list[int]:
    """Run ``action`` inside the server just after the first ``method`` write lands: a racing writer
    (``method`` of the store's versions part)."""
    versions = server.store.versions
    original = getattr(versions, method)
    fired: list[int] = []

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        if not fired:
            fired.append(1)
            action()
        return result

    monkeypatch.setattr(versions, method, wrapper)
    return fired


def run_together(*calls: Callable[[], Any]) -> list[Any]:
    """Start every call at the same instant in its own thread; each result is a value or the exception."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            results[index] = call()
        except Exception as exc:  # collected for the test to judge
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


# --- alias moves -----------------------------------------------------------------------------


def test_two_guarded_promotions_at_once_never_both_succeed(wandb_server) -> None:
    api = sdk(wandb_server)
    clients = [client_for(wandb_server), client_for(wandb_server)]
    holder = "v1"
    for run in range(30):
        first, second = [v for v in ("v0", "v1", "v2") if v != holder]
        results = run_together(*(
            lambda c=c, v=v, h=holder: c.update_aliases(f"churn-model:{v}", add=["production"],
                                                        only_if_current={"production": h},
                                                        require={"eval.split": {"==": "test"}})
            for c, v in zip(clients, (first, second), strict=True)
        ))
        winners = [v for v, r in zip((first, second), results, strict=True) if not isinstance(r, Exception)]
        losers = [r for r in results if isinstance(r, Exception)]
        assert len(winners) == 1, f"run {run}: {results}"
        assert all(isinstance(r, AliasConflictError) for r in losers), f"run {run}: {losers}"
        assert api.artifact("acme/churn/churn-model:production").version == winners[0], f"run {run}"
        holder = winners[0]


def test_gate_is_decided_on_the_read_just_before_the_write(wandb_server, client: WandbClient) -> None:
    client.update("churn-model:v2", metadata={"accuracy": "0.895"})  # as a template renders it
    wandb_server.reset_stats()
    with pytest.raises(ConditionNotMetError) as info:
        client.update_aliases("churn-model:v2", add=["production"], require={"accuracy": {">=": "0.9"}})
    assert info.value.failures and "accuracy" in info.value.failures[0]
    assert not info.value.transient
    assert wandb_server.stats()["graphql"]["operations"] == {"ArtifactWithAliasHolders": 1}
    assert sdk(wandb_server).artifact("acme/churn/churn-model:production").version == "v1"


def test_gate_broken_by_a_racing_writer_puts_the_alias_back(wandb_server, client: WandbClient,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    right_after_our(monkeypatch, wandb_server, "change_aliases",
                    other_writer_sets_metadata(wandb_server, "churn-model:v2", {"accuracy": 0.5}))
    with pytest.raises(AliasConflictError, match="gate no longer holds") as info:
        client.update_aliases("churn-model:v2", add=["production"], only_if_current={"production": "v1"},
                              require={"accuracy": {">=": 0.85}})
    assert "put 'production' back on v1" in str(info.value)
    assert sdk(wandb_server).artifact("acme/churn/churn-model:production").version == "v1"


def test_alias_taken_by_a_racing_writer_is_left_with_it(wandb_server, client: WandbClient,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    right_after_our(monkeypatch, wandb_server, "change_aliases", other_writer_moves(wandb_server, "production", "v0"))
    with pytest.raises(AliasConflictError) as info:
        client.update_aliases("churn-model:v2", add=["production"], only_if_current={"production": "v1"})
    message = str(info.value)
    assert "churn-model:v2" in message and "'production' is on v0, not v2" in message
    assert sdk(wandb_server).artifact("acme/churn/churn-model:production").version == "v0"


def test_guard_broken_meanwhile_puts_the_alias_back(wandb_server, client: WandbClient,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    right_after_our(monkeypatch, wandb_server, "change_aliases", other_writer_moves(wandb_server, "reviewed", "v0"))
    with pytest.raises(AliasConflictError, match="guard no longer holds: 'reviewed' is on v0"):
        client.update_aliases("churn-model:v2", add=["production"],
                              only_if_current={"production": "v1", "reviewed": None})
    api = sdk(wandb_server)
    assert api.artifact("acme/churn/churn-model:production").version == "v1"
    assert api.artifact("acme/churn/churn-model:reviewed").version == "v0"


def test_success_reports_what_was_read_back(wandb_server, client: WandbClient) -> None:
    change = client.update_aliases("churn-model:v2", add="production", remove="candidate",
                                   only_if_current={"production": "v1", "staging": None})
    assert change.changed and change.after == {"production": "v2", "candidate": None, "staging": None}
    assert set(change.artifact.aliases) == {"latest", "production"}


@pytest.mark.wandb_server(seed="demo", users=["demo:local-" + "0" * 40, "bob:bob-" + "b" * 40],
                          teams=["acme:demo:admin,bob:member"], orgs=["acme-corp:acme"])
def test_a_refused_removal_takes_back_what_was_added(wandb_server, client: WandbClient) -> None:
    client.link("churn-model:v2", "wandb-registry-model/churn", aliases=["production"])
    wandb_server.store.accounts.set_protected_aliases("acme-corp-org", "wandb-registry-model", ["production"])
    bob = WandbClient(wandb_server.base_url, "bob-" + "b" * 40, entity="acme", project="churn")
    with pytest.raises(ProtectedAliasError, match="took 'staging' off v0 again"):
        bob.update_aliases("acme-corp/wandb-registry-model/churn:v0", add=["staging"], remove=["production"])
    assert set(sdk(wandb_server).artifact("acme-corp-org/wandb-registry-model/churn:v0").aliases) >= {"production"}
    assert "staging" not in sdk(wandb_server).artifact("acme-corp-org/wandb-registry-model/churn:v0").aliases


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"add": ["latest"]}, id="add-latest"),
        pytest.param({"remove": ["latest"]}, id="remove-latest"),
        pytest.param({"add": "latest"}, id="add-latest-as-text"),
        pytest.param({"only_if_current": {"latest": "v1"}}, id="guard-latest"),
        pytest.param({"only_if_current": {"production": "production"}}, id="guard-not-a-version"),
        pytest.param({"only_if_current": "None"}, id="guard-rendered-empty"),
        pytest.param({"only_if_current": "['production']"}, id="guard-rendered-not-a-dict"),
        pytest.param({"add": ["a"], "remove": "a"}, id="add-and-remove"),
        pytest.param({"require": {"accuracy": {">=": ""}}}, id="gate-rendered-empty"),
        pytest.param({"add": [1]}, id="not-text"),
    ],
)
def test_bad_requests_are_refused_before_any_request(wandb_server, client: WandbClient, options) -> None:
    wandb_server.reset_stats()
    with pytest.raises(InvalidValueError):
        client.update_aliases("churn-model:v2", **options)
    assert wandb_server.stats()["graphql"]["total"] == 0


@pytest.mark.parametrize("alias", [" production", "production ", "   ", "prod\nuction", "prod\u200buction",
                                   "prod\tx", "['qa', 'eu']", "v3", "a/b", "x:y", "a" * 129, ""])
def test_alias_names_follow_wandb_rules_before_any_request(wandb_server, client: WandbClient, alias: str) -> None:
    wandb_server.reset_stats()
    with pytest.raises(InvalidArtifactPathError):
        client.update_aliases("churn-model:v2", add=[alias])
    with pytest.raises(InvalidArtifactPathError):
        client.link("churn-model:v2", "churn/shortlist", aliases=[alias])
    assert wandb_server.stats()["graphql"]["total"] == 0


def test_one_text_is_one_alias_never_a_list_literal(wandb_server, client: WandbClient) -> None:
    """The client takes typed values; a rendered list literal is read by the Airflow layer
    (tests/airflow/test_operator_values.py)."""
    wandb_server.reset_stats()
    with pytest.raises(InvalidArtifactPathError):
        client.update_aliases("churn-model:v2", add="['qa', 'eu']")
    assert wandb_server.stats()["graphql"]["total"] == 0
    change = client.update_aliases("churn-model:v2", add="qa")
    assert change.added == ("qa",)


def test_latest_cannot_be_moved_by_link(wandb_server, client: WandbClient) -> None:
    wandb_server.reset_stats()
    with pytest.raises(InvalidValueError, match="latest"):
        client.link("churn-model:v0", "churn/shortlist", aliases=["latest"])
    assert wandb_server.stats()["graphql"]["total"] == 0


# --- link targets ----------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["churn", "churn-shortlist", "", "  ", "churn/shortlist:prod"])
def test_link_target_must_name_its_project_or_registry(wandb_server, client: WandbClient, target: str) -> None:
    wandb_server.reset_stats()
    with pytest.raises(InvalidArtifactPathError):
        client.link("churn-model:v2", target)
    assert wandb_server.stats()["graphql"]["total"] == 0


@pytest.mark.parametrize("target", ["churn/shortlist", "acme/churn/shortlist", "wandb-registry-model/churn",
                                    "acme-corp/wandb-registry-model/churn"])
def test_link_targets_that_name_a_project_or_registry_work(wandb_server, client: WandbClient, target: str) -> None:
    linked = client.link("churn-model:v2", target)
    assert linked.is_link and linked.source_version == "v2"


# --- metadata merges -------------------------------------------------------------------------


def test_merge_is_deep(wandb_server, client: WandbClient) -> None:
    client.update("churn-model:v2", metadata={"eval": {"accuracy": 0.93}})
    client.update("churn-model:v2", metadata={"eval": {"f1": 0.5}})
    seen = sdk(wandb_server).artifact("acme/churn/churn-model:v2").metadata
    assert seen["eval"] == {"split": "test", "accuracy": 0.93, "f1": 0.5}
    assert seen["accuracy"] == 0.9 and seen["framework"] == "linear"
    replaced = client.update("churn-model:v2", metadata={"eval": {"f1": 0.6}}, metadata_mode="replace")
    assert replaced.metadata == {"eval": {"f1": 0.6}}


def test_concurrent_merges_of_different_keys_lose_nothing(wandb_server) -> None:
    clients = [client_for(wandb_server), client_for(wandb_server)]
    for run in range(20):
        results = run_together(
            lambda r=run: clients[0].update("churn-model:v2", metadata={"eval": {f"a{r}": r}}),
            lambda r=run: clients[1].update("churn-model:v2", metadata={f"b{r}": r}),
        )
        assert not [r for r in results if isinstance(r, Exception)], f"run {run}: {results}"
    seen = sdk(wandb_server).artifact("acme/churn/churn-model:v2").metadata
    assert all(seen["eval"][f"a{run}"] == run and seen[f"b{run}"] == run for run in range(20)), seen
    assert seen["eval"]["split"] == "test"


def test_a_merge_undone_by_a_stale_writer_is_merged_again(wandb_server, client: WandbClient,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    before = sdk(wandb_server).artifact("acme/churn/churn-model:v2").metadata
    stale = {**before, "theirs": 1}  # a writer that read before our write, then wrote its own key
    fired = right_after_our(monkeypatch, wandb_server, "update_version",
                            other_writer_sets_metadata(wandb_server, "churn-model:v2", stale))
    with caplog.at_level(logging.WARNING, logger="wandb_provider.client.writes"):
        updated = client.update("churn-model:v2", metadata={"eval": {"f1": 0.5}})
    assert fired and "merging again (attempt 2 of 4)" in caplog.text
    seen = sdk(wandb_server).artifact("acme/churn/churn-model:v2").metadata
    assert seen["theirs"] == 1 and seen["eval"] == {"split": "test", "f1": 0.5}
    assert updated.metadata == seen


def test_a_key_set_by_another_writer_meanwhile_is_a_conflict(wandb_server, client: WandbClient,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    before = sdk(wandb_server).artifact("acme/churn/churn-model:v2").metadata
    right_after_our(monkeypatch, wandb_server, "update_version",
                    other_writer_sets_metadata(wandb_server, "churn-model:v2", {**before, "owner": "them"}))
    with pytest.raises(MetadataConflictError, match="owner") as info:
        client.update("churn-model:v2", metadata={"owner": "us"})
    assert info.value.transient
    assert sdk(wandb_server).artifact("acme/churn/churn-model:v2").metadata["owner"] == "them"


def test_a_merge_that_keeps_being_undone_gives_up(wandb_server, client: WandbClient,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    before = sdk(wandb_server).artifact("acme/churn/churn-model:v2").metadata
    versions = wandb_server.store.versions
    original = versions.update_version
    writes = []

    def always_undone(user, artifact, changes):
        result = original(user, artifact, changes)
        writes.append(1)
        original(user, artifact, {"metadata": json.dumps(before)})
        return result

    monkeypatch.setattr(versions, "update_version", always_undone)
    with pytest.raises(MetadataConflictError, match="4 times") as info:
        client.update("churn-model:v2", metadata={"mine": 1})
    assert info.value.transient and len(writes) == 4


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"metadata": {"eval": {"f1": 0.5}}}, id="nested-dict"),
        pytest.param({"tags_add": "reviewed"}, id="one-tag-as-text"),
        pytest.param({"tags_add": ("reviewed", "eu")}, id="tag-tuple"),
    ],
)
def test_typed_values(wandb_server, client: WandbClient, options) -> None:
    updated = client.update("churn-model:v2", **options)
    seen = sdk(wandb_server).artifact("acme/churn/churn-model:v2")
    if "metadata" in options:
        assert seen.metadata["eval"] == {"split": "test", "f1": 0.5} == updated.metadata["eval"]
    else:
        assert "reviewed" in seen.tags and "r" not in seen.tags


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"metadata": "[1, 2]"}, id="rendered-list-is-not-metadata"),
        pytest.param({"metadata": "not a dict"}, id="rendered-text"),
        pytest.param({"metadata": "{'eval': {'f1': 0.5}}"}, id="dict-literal-text-is-not-metadata"),
        pytest.param({"tags_add": "['reviewed', 'eu']"}, id="list-literal-text-is-one-bad-tag"),
        pytest.param({"description": 3}, id="description-not-text"),
        pytest.param({"metadata_mode": "deep"}, id="unknown-mode"),
        pytest.param({"tags_add": ["a b", "bad!tag"]}, id="bad-tag"),
    ],
)
def test_bad_updates_are_refused_before_any_request(wandb_server, client: WandbClient, options) -> None:
    wandb_server.reset_stats()
    with pytest.raises(InvalidValueError):
        client.update("churn-model:v2", **options)
    assert wandb_server.stats()["graphql"]["total"] == 0
