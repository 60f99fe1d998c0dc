"""Gate values as templates render them, end to end: metadata written as text by one task is judged
as a number by the promotion gate and by the sensor/trigger's shared check."""

from __future__ import annotations

import pytest

from wandb_provider._waiting import FAILED, READY, WAITING, WaitSpec, check
from wandb_provider.client import ConditionNotMetError, WandbClient

pytestmark = pytest.mark.wandb_server(seed="demo", teams=["acme:demo:admin"])


@pytest.fixture
def client(wandb_server) -> WandbClient:
    return WandbClient(wandb_server.base_url, wandb_server.api_key, entity="acme", project="churn")


def test_numbers_stored_as_text_are_gated_as_numbers(wandb_server, client: WandbClient) -> None:
    client.update("churn-model:v2", metadata={"eval": {"n": "200"}})  # a rendered template: text
    with pytest.raises(ConditionNotMetError, match="eval.n"):
        client.update_aliases("churn-model:v2", add=["production"], require={"eval.n": {">=": "1000"}})
    change = client.update_aliases("churn-model:v2", add=["production"], require={"eval.n": {"<": "1000"}})
    assert change.after == {"production": "v2"}


@pytest.mark.parametrize(
    ("require", "status"),
    [
        pytest.param({"accuracy": {">=": "0.85"}}, READY, id="rendered-number"),
        pytest.param({"accuracy": {">=": "0.95"}}, WAITING, id="rendered-number-not-yet"),
        pytest.param({"framework": {">": "3"}}, FAILED, id="text-against-number-cannot-be-decided"),
        pytest.param({"framework": {"in": "['linear', 'torch']"}}, READY, id="rendered-list"),
    ],
)
def test_sensor_and_trigger_share_the_gate(wandb_server, client: WandbClient, require, status: str) -> None:
    outcome = check(client, WaitSpec.of("acme/churn/churn-model:candidate", require=require))
    assert outcome.status == status, outcome.message
    if status == FAILED:
        assert "cannot compare" in outcome.message
