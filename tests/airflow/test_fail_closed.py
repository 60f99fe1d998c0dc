"""Gates fail closed (README, "Safety"): a gate, term or guard whose template renders None, or a gate
key the metadata lacks, stops the promotion before any write, in real DAG runs (dag.test()); the SDK
observes that no alias moved."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.airflow._fakes import sdk
from wandb_provider.client import (
    AliasConflictError,
    InvalidValueError,
    MissingMetadataKeyError,
    WandbClient,
)

pytestmark = pytest.mark.wandb_server(seed="demo", orgs=["acme-corp:acme"], teams=["acme:demo:admin"])


def _states(run) -> dict[str, str]:
    return {ti.task_id: ti.state for ti in run.get_task_instances()}


def _aliases(wandb_env) -> dict[str, str]:
    api = sdk(wandb_env)
    return {alias: api.artifact(f"acme/churn/churn-model:{alias}").version for alias in ("production", "candidate")}


def test_a_gate_or_term_that_renders_none_fails_before_any_write(wandb_env, run_dag, out: Path) -> None:
    states = _states(run_dag("gate_renders_none"))
    assert states["whole"] == states["term"] == states["verify"] == "failed"
    assert states["opted"] == "success"  # allow_empty=True: the explicit opt-out drops the gate
    assert _aliases(wandb_env)["production"] == "v1"
    assert sdk(wandb_env).artifact("acme/churn/churn-model:staging").version == "v2"
    assert json.loads(out.read_text())["whole"] is None


def test_a_native_template_that_renders_none_fails_too(wandb_env, run_dag) -> None:
    assert _states(run_dag("gate_renders_none_native"))["whole"] == "failed"
    assert _aliases(wandb_env)["production"] == "v1"


def test_a_typo_in_a_gate_key_fails_the_task_unless_skip_is_chosen(wandb_env, run_dag) -> None:
    run = run_dag("gate_key_typo")
    tis = {ti.task_id: ti for ti in run.get_task_instances()}
    assert tis["typo"].state == "failed" and tis["typo"].try_number == 1  # a typo does not heal: no retries
    assert tis["skip"].state == "skipped"
    assert tis["verify"].state == "failed"
    assert _aliases(wandb_env)["production"] == "v1"


def test_a_guard_that_renders_none_fails_without_blaming_a_race(wandb_env, run_dag) -> None:
    assert _states(run_dag("guard_renders_none"))["guard"] == "failed"
    assert _aliases(wandb_env)["production"] == "v1"


def test_the_client_names_the_missing_key_and_the_closest_one(wandb_server) -> None:
    client = WandbClient(wandb_server.base_url, wandb_server.api_key, entity="acme", project="churn")
    with pytest.raises(MissingMetadataKeyError) as caught:
        client.update_aliases("churn-model:candidate", add="production", require={"eval.splitt": {"==": "test"}})
    assert caught.value.suggestions == {"eval.splitt": "eval.split"}
    assert "did you mean 'eval.split'?" in str(caught.value) and "'accuracy'" in str(caught.value)
    assert client.artifact("churn-model:production").version == "v1"


def test_guard_messages_tell_an_empty_value_from_a_race(wandb_server) -> None:
    client = WandbClient(wandb_server.base_url, wandb_server.api_key, entity="acme", project="churn")
    with pytest.raises(InvalidValueError, match=r"only_if_current\['production'\]: your expected value is empty"):
        client.update_aliases("churn-model:candidate", add="production", only_if_current={"production": "None"})
    with pytest.raises(AliasConflictError) as caught:
        client.update_aliases("churn-model:candidate", add="production", only_if_current={"production": None})
    assert "template" in (caught.value.hint or "") and "'production' is on v1, expected no version" in str(caught.value)
    with pytest.raises(AliasConflictError) as raced:
        client.update_aliases("churn-model:candidate", add="production", only_if_current={"production": "v0"})
    assert "Another writer moved it" in (raced.value.hint or "")
    assert client.artifact("churn-model:production").version == "v1"


def test_the_explicit_none_text_means_held_by_no_version(wandb_server) -> None:
    client = WandbClient(wandb_server.base_url, wandb_server.api_key, entity="acme", project="churn")
    with pytest.raises(AliasConflictError, match="expected no version"):  # production is on v1: a real conflict
        client.update_aliases("churn-model:candidate", add="production", only_if_current={"production": "none"})
    change = client.update_aliases("churn-model:candidate", add="gold", only_if_current={"gold": "none"})
    assert change.after["gold"] == "v2"
