"""The verb operators (unlink, collection update, TTL, delete one version) in dag.test(), their effects
read back through the official wandb SDK, and the SDK escape hatch ``WandbHook.get_sdk_api``."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sys
from pathlib import Path

import pytest

from tests.airflow._fakes import RecordingTI, sdk
from wandb_provider._compat import AirflowFailException
from wandb_provider.operators.collections import UnlinkArtifactOperator, UpdateCollectionOperator
from wandb_provider.operators.lifecycle import DeleteArtifactVersionOperator, SetArtifactTTLOperator

pytestmark = pytest.mark.wandb_server(seed="demo", orgs=["acme-corp:acme"], teams=["acme:demo:admin"])


def test_each_verb_is_seen_through_the_sdk(wandb_env, run_dag, out: Path) -> None:
    import wandb

    api = sdk(wandb_env)
    timed = api.artifact("acme/churn/churn-dataset:v1")
    timed.ttl = dt.timedelta(days=1)  # a TTL the operator is to clear
    timed.save()
    assert api.artifact("acme/churn/churn-dataset:v1").ttl == dt.timedelta(days=1)

    run = run_dag("verbs")
    tis = {ti.task_id: ti for ti in run.get_task_instances()}
    assert {t: tis[t].state for t in ("link", "unlink", "collection", "ttl", "no_ttl", "delete")} == dict.fromkeys(
        ("link", "unlink", "collection", "ttl", "no_ttl", "delete"), "success")
    assert tis["refused"].state == "failed" and tis["refused"].try_number == 1  # kept: fails without retries
    result = json.loads(out.read_text())

    api = sdk(wandb_env)
    assert result["unlink"]["changed"] is True
    assert result["unlink"]["unlinked"]["qualified_name"] == "acme-corp-org/wandb-registry-model/churn:v0"
    with pytest.raises(wandb.errors.CommError):
        api.artifact("acme-corp-org/wandb-registry-model/churn:v0")
    assert api.artifact("acme/churn/churn-model:v2").version == "v2"  # the source version stays

    collection = api.artifact_collection("dataset", "acme/churn/churn-dataset")
    assert collection.description == "Churn snapshots, curated"
    assert set(collection.tags) >= {"curated", "churn"}
    assert result["collection"]["after"]["tags"] == ["churn", "curated"] and result["collection"]["changed"]

    assert api.artifact("acme/churn/churn-dataset:v0").ttl == dt.timedelta(days=30)
    assert result["ttl"]["before"] == "inherit" and result["ttl"]["after"] == 30 * 86400
    assert api.artifact("acme/churn/churn-dataset:v1").ttl is None
    assert result["no_ttl"]["before"] == 86400 and result["no_ttl"]["after"] is None

    assert result["delete"]["action"] == "deleted"
    with pytest.raises(wandb.errors.CommError):
        api.artifact("acme/churn/churn-model:v0")
    assert result["refused"] is None
    assert "production" in api.artifact("acme/churn/churn-model:v1").aliases  # kept: it holds production


def test_verbs_rerun_to_the_same_end_state(wandb_env, run_dag, out: Path) -> None:
    """A second run: collection, TTL and unlink change nothing (delete's version is gone: it fails, loudly)."""
    run_dag("verbs")
    run_dag("verbs")
    result = json.loads(out.read_text())
    assert result["collection"]["changed"] is False
    assert result["ttl"]["changed"] is False and result["no_ttl"]["changed"] is False
    assert result["unlink"]["changed"] is True  # 'link' linked it again; unlink takes it out again
    assert sorted(a.version for a in sdk(wandb_env).artifacts("model", "acme/churn/churn-model")) == ["v1", "v2"]


@pytest.mark.parametrize(
    ("build", "problem"),
    [
        pytest.param(lambda: UnlinkArtifactOperator(task_id="t", artifact="a/b/c:v1", target="churn"),
                     "names no project or registry", id="bare-target"),
        pytest.param(lambda: UpdateCollectionOperator(task_id="t", collection="p/c", tags_add=["ok", 3]),
                     "item 2 is int", id="tag-type"),
        pytest.param(lambda: UpdateCollectionOperator(task_id="t", collection="p/c:v1"),
                     "names an alias", id="collection-alias"),
        pytest.param(lambda: SetArtifactTTLOperator(task_id="t", artifact="a/b/c:v1", ttl=0),
                     "at least one second", id="zero-ttl"),
        pytest.param(lambda: SetArtifactTTLOperator(task_id="t", artifact="a/b/c:v1", ttl=-5),
                     "negative", id="negative-ttl"),
        pytest.param(lambda: SetArtifactTTLOperator(task_id="t", artifact="a/b/c:v1", ttl="thirty days"),
                     "not a duration", id="text-ttl"),
        pytest.param(lambda: SetArtifactTTLOperator(task_id="t", artifact="a/b/c:v1", ttl=""),
                     "ttl is empty", id="empty-ttl"),
        pytest.param(lambda: SetArtifactTTLOperator(task_id="t", artifact="a/b/c:v1", ttl=True),
                     "ttl", id="bool-ttl"),
        pytest.param(lambda: DeleteArtifactVersionOperator(task_id="t", artifact="a/b/c:production"),
                     "does not name a version index", id="delete-by-alias"),
        pytest.param(lambda: DeleteArtifactVersionOperator(task_id="t", artifact="a/b/c:v1", drop_aliases=["latest"]),
                     "managed by W&B", id="drop-latest"),
        pytest.param(lambda: DeleteArtifactVersionOperator(task_id="t", artifact="a/b/c:v1", dry_run="no"),
                     "dry_run", id="dry-run-text"),
    ],
)
def test_arguments_are_checked_at_parse_time(build, problem: str) -> None:
    with pytest.raises(AirflowFailException, match=problem):
        build()


@pytest.mark.parametrize(("value", "seconds"), [("P30D", 30 * 86400), ("3600", 3600), (dt.timedelta(hours=2), 7200),
                                                ("inherit", "inherit"), (None, None)])
def test_ttl_values_as_users_write_them(value, seconds) -> None:
    from wandb_provider._values import ttl as _ttl

    assert _ttl("ttl", value) == seconds


def test_rendered_empty_ttl_is_refused_not_taken_as_clear() -> None:
    from wandb_provider._values import InvalidValueError
    from wandb_provider._values import ttl as _ttl  # the reader moved from operators.lifecycle

    with pytest.raises(InvalidValueError, match="does not remove a TTL"):
        _ttl("ttl", "None")


@pytest.mark.sdk  # the SDK's service leaves WANDB_SERVICE behind once another test started it
def test_sdk_escape_hatch_resolves_an_artifact_without_touching_the_environment(
        wandb_env, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    from wandb_provider.hooks.wandb import WandbHook

    conn = {"conn_type": "wandb", "host": wandb_env.base_url, "password": wandb_env.api_key,
            "extra": {"entity": "acme", "project": "churn", "timeout": 12.5}}
    monkeypatch.setenv("AIRFLOW_CONN_WANDB_SDK", json.dumps(conn))
    for name in ("WANDB_API_KEY", "WANDB_BASE_URL", "WANDB_ENTITY"):  # configured from the connection alone
        monkeypatch.delenv(name)
    before = dict(os.environ)
    caplog.set_level(logging.DEBUG)
    api = WandbHook(wandb_conn_id="wandb_sdk").get_sdk_api()
    artifact = api.artifact("churn-model:production")  # entity and project from the connection
    assert (artifact.entity, artifact.project, artifact.version) == ("acme", "churn", "v1")
    assert api.settings["base_url"] == wandb_env.base_url and api.settings["entity"] == "acme"
    assert dict(os.environ) == before
    assert wandb_env.api_key not in caplog.text


def test_sdk_escape_hatch_names_the_extra_when_wandb_is_missing(wandb_env, monkeypatch: pytest.MonkeyPatch) -> None:
    from wandb_provider.hooks.wandb import SdkNotInstalledError, WandbHook

    monkeypatch.setitem(sys.modules, "wandb", None)  # import wandb -> ImportError
    with pytest.raises(SdkNotInstalledError, match=r"airflow-provider-wandb\[sdk\]") as info:
        WandbHook().get_sdk_api()
    assert isinstance(info.value, ImportError) and wandb_env.api_key not in str(info.value)


def test_unlink_keeps_an_aliased_link_unless_its_aliases_may_go(wandb_env, run_dag, out: Path) -> None:
    import wandb

    run = run_dag("unlink_guarded")
    tis = {ti.task_id: ti for ti in run.get_task_instances()}
    assert tis["refused"].state == "failed" and tis["refused"].try_number == 1
    assert tis["agreed"].state == "success"
    result = json.loads(out.read_text())
    assert result["agreed"]["unlinked"]["aliases"] == ["latest", "staging"]
    with pytest.raises(wandb.errors.CommError):
        sdk(wandb_env).artifact("acme-corp-org/wandb-registry-model/churn:staging")


def test_set_ttl_refuses_a_link_and_writes_nothing_when_already_set(wandb_env) -> None:
    from wandb_provider.client import InvalidValueError, WandbClient

    with WandbClient.from_env() as client:
        linked = client.link("acme/churn/churn-model:v2", "acme-corp/wandb-registry-model/churn")
        wandb_env.reset_stats()
        with pytest.raises(InvalidValueError, match="acme/churn/churn-model:v2"):
            client.set_ttl(linked, 3600)
        assert wandb_env.stats()["graphql"]["total"] == 0
        with pytest.raises(InvalidValueError, match="linked into"):  # a TTL would delete it from the registry too
            client.set_ttl("acme/churn/churn-model:v2", 3600, may_drop=["candidate"])
        assert client.set_ttl("acme/churn/churn-model:v0", 3600).changed is True
        wandb_env.reset_stats()
        again = client.set_ttl("acme/churn/churn-model:v0", 3600)
        assert again.changed is False and again.after == 3600
        assert wandb_env.stats()["graphql"]["total"] == 2  # resolve, read the TTL; no write
        assert client.set_ttl("acme/churn/churn-model:v0", "inherit").after == "inherit"
    assert sdk(wandb_env).artifact("acme/churn/churn-model:v0").ttl is None
    assert sdk(wandb_env).artifact("acme/churn/churn-model:v2").ttl is None


def test_delete_one_version_never_counts_a_missing_version_as_deleted_without_a_record(wandb_env) -> None:
    """(A retry after a first try that deleted and crashed is in test_delete_retry.py.)"""
    operator = DeleteArtifactVersionOperator(task_id="delete", artifact="acme/churn/churn-model:v0")

    def context(try_number: int) -> dict:
        ti = RecordingTI()
        ti.try_number = try_number  # what Airflow counts; RecordingTI has none
        return {"ti": ti}

    assert operator.execute(context(1))["action"] == "deleted"
    with pytest.raises(AirflowFailException, match="v0"):  # a first try that finds nothing: a wrong path?
        operator.execute(context(1))
    with pytest.raises(AirflowFailException, match="v0"):  # no record of this task deleting it: not "gone"
        operator.execute(context(2))


def test_sdk_escape_hatch_with_a_wrong_key_is_a_typed_error_without_the_key(
        wandb_env, monkeypatch: pytest.MonkeyPatch) -> None:
    from wandb_provider.client import AuthenticationError
    from wandb_provider.hooks.wandb import WandbHook

    wrong = "local-" + "9" * 40
    conn = {"conn_type": "wandb", "host": wandb_env.base_url, "password": wrong}
    monkeypatch.setenv("AIRFLOW_CONN_WANDB_WRONG", json.dumps(conn))
    with pytest.raises(AuthenticationError) as info:
        WandbHook(wandb_conn_id="wandb_wrong").get_sdk_api()
    assert wrong not in str(info.value)


def test_sdk_escape_hatch_to_an_unreachable_host_is_transient_never_an_authentication_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    from wandb_provider.client import AuthenticationError, ServerError
    from wandb_provider.hooks.wandb import WandbHook

    with socket.socket() as probe:  # a port nothing listens on: connection refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    conn = {"conn_type": "wandb", "host": f"http://127.0.0.1:{port}", "password": "local-" + "1" * 40,
            "extra": {"timeout": 2, "max_retries": 1, "deadline": 5}}
    monkeypatch.setenv("AIRFLOW_CONN_WANDB_GONE", json.dumps(conn))
    with pytest.raises(ServerError) as info:
        WandbHook(wandb_conn_id="wandb_gone").get_sdk_api()
    assert info.value.transient and not isinstance(info.value, AuthenticationError)
