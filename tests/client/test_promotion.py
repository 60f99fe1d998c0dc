"""``wandb_provider.client.promotion`` without Airflow: plan, promote, rollback and their re-runs,
observed through the official wandb SDK."""

from __future__ import annotations

from typing import Any

import pytest

from wandb_provider.client import WandbClient
from wandb_provider.client.errors import AliasConflictError, InvalidValueError, MissingMetadataKeyError
from wandb_provider.client.promotion import plan, promote, rollback

pytestmark = pytest.mark.wandb_server(seed="demo")
MODEL = "acme/churn/churn-model"
ACTOR = {"dag_id": "nightly", "run_id": "r1", "task_id": "t", "try_number": 1}


def _sdk(server: Any) -> Any:
    import wandb

    return wandb.Api(api_key=server.api_key, overrides={"base_url": server.base_url})


def test_a_retry_of_the_same_rollback_changes_nothing(wandb_env: Any) -> None:
    with WandbClient.from_env() as client:
        decided = plan(client, f"{MODEL}:candidate", "production", {"accuracy": {">": {"production": 0}}})
        assert promote(client, decided, previous_alias="previous-production", actor=ACTOR)["changed"]
        first = rollback(client, MODEL, "production", actor=ACTOR)
        again = rollback(client, MODEL, "production", actor=ACTOR)  # the same task of the same DAG run, retried
    assert first["decision"] == "rolled_back" and again["decision"] == "already_rolled_back"
    assert _sdk(wandb_env).artifact(f"{MODEL}:production").version == "v1"


def test_rollback_needs_somewhere_to_go_and_honours_its_guard(wandb_env: Any) -> None:
    with WandbClient.from_env() as client:
        with pytest.raises(InvalidValueError, match="nothing to roll back to"):
            rollback(client, MODEL, "production", actor=ACTOR)
        promote(client, plan(client, f"{MODEL}:candidate", "production", None),
                previous_alias="previous-production", actor=ACTOR)
        with pytest.raises(AliasConflictError, match="not v1"):
            rollback(client, MODEL, "production", actor=ACTOR, only_if_current="v1")
    assert _sdk(wandb_env).artifact(f"{MODEL}:production").version == "v2"


def test_missing_keys_fail_closed_on_either_side_with_a_did_you_mean(wandb_env: Any) -> None:
    with WandbClient.from_env() as client:
        with pytest.raises(MissingMetadataKeyError, match="did you mean 'accuracy'"):
            plan(client, f"{MODEL}:candidate", "production", {"acuracy": {">=": {"production": 0}}})
        with pytest.raises(MissingMetadataKeyError, match="did you mean 'run.summary.val_loss'"):
            plan(client, f"{MODEL}:candidate", "production", {"run.summary.val_los": {"<=": 1}})
        skipped = plan(client, f"{MODEL}:candidate", "production", {"acuracy": {">=": 0}}, on_missing="skip")
    assert not skipped.passed and "has no 'acuracy'" in skipped.gate.failures[0]
