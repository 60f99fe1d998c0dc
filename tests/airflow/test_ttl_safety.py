"""A TTL is a delete on a timer: SetArtifactTTLOperator (and WandbClient.set_ttl) refuse it on a version
a delete would keep (a protected alias, any alias not agreed to, a link elsewhere); the SDK observes
that no TTL was written."""

from __future__ import annotations

import pytest

from tests.airflow._fakes import RecordingTI, sdk
from wandb_provider._compat import AirflowFailException
from wandb_provider.client import InvalidValueError, WandbClient
from wandb_provider.operators.lifecycle import SetArtifactTTLOperator

pytestmark = pytest.mark.wandb_server(seed="demo")


def _ttl(artifact: str, ttl, **kwargs) -> dict:
    operator = SetArtifactTTLOperator(task_id="ttl", artifact=artifact, ttl=ttl, **kwargs)
    return operator.execute({"ti": RecordingTI(), "run_id": "r"})


def test_a_ttl_on_the_production_version_is_refused(wandb_env) -> None:
    with pytest.raises(AirflowFailException, match=r"protected alias\(es\) \['production'\]"):
        _ttl("acme/churn/churn-model:production", 1)
    with pytest.raises(AirflowFailException, match="protected"):
        _ttl("acme/churn/churn-model:v1", 1, drop_aliases=["production"])
    assert sdk(wandb_env).artifact("acme/churn/churn-model:v1").ttl is None


def test_a_ttl_on_an_aliased_version_needs_its_aliases_named(wandb_env) -> None:
    with pytest.raises(AirflowFailException, match=r"alias\(es\) \['candidate'\]"):
        _ttl("acme/churn/churn-model:candidate", "P1D")
    assert sdk(wandb_env).artifact("acme/churn/churn-model:v2").ttl is None
    result = _ttl("acme/churn/churn-model:candidate", "P1D", drop_aliases=["candidate"])
    assert result["changed"] is True and result["after"] == 86400
    assert sdk(wandb_env).artifact("acme/churn/churn-model:v2").ttl.days == 1


def test_removing_a_ttl_is_never_refused(wandb_env) -> None:
    assert _ttl("acme/churn/churn-model:production", None)["after"] is None


def test_the_client_refuses_a_custom_protected_alias_too(wandb_env) -> None:
    with WandbClient(wandb_env.base_url, wandb_env.api_key) as client:
        with pytest.raises(InvalidValueError, match="protected"):
            client.set_ttl("acme/churn/churn-dataset:training", 60, may_drop=["training"],
                           protected_aliases=["training"])
        with pytest.raises(InvalidValueError, match="training"):
            client.set_ttl("acme/churn/churn-dataset:training", 60)
    assert sdk(wandb_env).artifact("acme/churn/churn-dataset:training").ttl is None
