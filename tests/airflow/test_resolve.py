"""Resolving a version without downloading it: ``WandbHook.resolve`` and ``ResolveArtifactOperator``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.airflow._fakes import sdk
from wandb_provider._airflow import version_xcom
from wandb_provider._compat import AirflowFailException
from wandb_provider.client.errors import ArtifactNotFoundError, WandbError
from wandb_provider.hooks.wandb import WandbHook
from wandb_provider.operators.resolve import ResolveArtifactOperator

pytestmark = pytest.mark.wandb_server(seed="demo")

PIN_KEYS = {"entity", "project", "name", "version", "qualified_name", "id", "type", "digest", "aliases", "metadata",
            "size", "file_count", "url"}


def test_hook_resolves_in_one_request_and_downloads_nothing(wandb_env) -> None:
    wandb_env.reset_stats()
    version = WandbHook().resolve("acme/churn/churn-model:candidate")
    stats = wandb_env.stats()
    assert stats["graphql"]["operations"] == {"ArtifactByName": 1}
    assert stats["files"] == 0 and stats["uploads"] == 0
    observed = sdk(wandb_env).artifact("acme/churn/churn-model:candidate")
    assert (version.qualified_name, version.id, version.digest) == ("acme/churn/churn-model:v2", observed.id,
                                                                   observed.digest)


@pytest.mark.parametrize("path", ["", "   ", None, "acme/churn/x/churn-model:v1"])
def test_hook_refuses_a_bad_path_before_any_request(wandb_env, path: object) -> None:
    wandb_env.reset_stats()
    with pytest.raises(WandbError) as caught:
        WandbHook().resolve(path)  # type: ignore[arg-type]
    assert not caught.value.transient
    assert wandb_env.stats()["graphql"]["total"] == 0


def test_hook_says_when_no_version_has_the_alias(wandb_env) -> None:
    with pytest.raises(ArtifactNotFoundError, match="no-such-alias"):
        WandbHook().resolve("acme/churn/churn-model:no-such-alias")


def test_operator_pins_the_version_for_downstream_tasks(wandb_env, run_dag, out: Path) -> None:
    wandb_env.reset_stats()
    run = run_dag("resolve_pin")
    assert run.state == "success"
    stats = wandb_env.stats()
    assert stats["files"] == 0 and stats["uploads"] == 0  # resolved, not downloaded
    assert stats["graphql"]["operations"].get("ArtifactByName") == 1
    result = json.loads(out.read_text())
    pin, link = result["pin"], result["link"]
    assert set(pin) == PIN_KEYS  # UseArtifactOperator's identity keys, no local path
    observed = sdk(wandb_env).artifact("acme/churn/churn-model:candidate")
    assert pin["qualified_name"] == "acme/churn/churn-model:v2"
    assert (pin["id"], pin["digest"], pin["type"]) == (observed.id, observed.digest, "model")
    assert pin["aliases"] == ["candidate"] or set(pin["aliases"]) == {"candidate", "latest"}
    assert link == pin["url"] and link.endswith("/v2")


def test_operator_fails_at_once_on_a_wrong_type(wandb_env, run_dag) -> None:
    wandb_env.reset_stats()
    assert run_dag("resolve_wrong_type").state == "failed"
    operations = wandb_env.stats()["graphql"]["operations"]
    assert operations["ArtifactByName"] == 1  # one try, not four
    assert set(operations) <= {"ArtifactByName", "UpsertBucket", "UseArtifact"}  # the task's W&B run, marked failed


def test_operator_fails_at_once_on_a_missing_alias(wandb_env, run_dag) -> None:
    wandb_env.reset_stats()
    assert run_dag("resolve_missing").state == "failed"
    assert wandb_env.stats()["graphql"]["operations"] == {"ArtifactByName": 1}


def test_operator_checks_plain_arguments_when_the_dag_is_parsed() -> None:
    with pytest.raises(AirflowFailException, match="artifact"):
        ResolveArtifactOperator(task_id="r", artifact="  ")


def test_operator_xcom_is_the_version_xcom(wandb_env) -> None:
    from tests.airflow._fakes import RecordingTI

    ti = RecordingTI()
    result = ResolveArtifactOperator(task_id="r", artifact="acme/churn/churn-dataset:training").execute({"ti": ti})
    assert result == version_xcom(WandbHook().resolve("acme/churn/churn-dataset:training"))
    assert ti.pushed["wandb_artifact_url"] == result["url"]


def test_optional_resolve_returns_none_for_an_alias_nobody_holds_yet(wandb_env, run_dag, out: Path) -> None:
    assert run_dag("resolve_optional").state == "success"
    result = json.loads(out.read_text())
    assert result["absent"] is None
    assert result["present"]["version"] == sdk(wandb_env).artifact("acme/churn/churn-model:production").version
