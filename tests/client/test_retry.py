"""The retry policy, exercised through the server's fault injection (no mocks of our HTTP layer)."""

from __future__ import annotations

import time

import pytest

from wandb_provider.client import AuthenticationError, ServerError, WandbClient

pytestmark = pytest.mark.wandb_server(seed="demo")


def _client(server, **options) -> WandbClient:
    options.setdefault("backoff_min", 0.01)
    options.setdefault("backoff_max", 0.05)
    return WandbClient(server.base_url, server.api_key, entity="acme", project="churn", **options)


def test_half_of_graphql_requests_failing_503_still_resolves(wandb_server) -> None:
    client = _client(wandb_server, max_retries=20)
    wandb_server.set_faults({"seed": 3, "rules": [{"route": "graphql", "rate": 0.5, "kind": "status", "status": 503}]})
    wandb_server.reset_stats()
    for _ in range(20):
        assert client.artifact("churn-model:production").version == "v1"
    total = wandb_server.stats()["graphql"]["total"]
    assert total > 20, "some requests must have been answered 503 and retried"


def test_429_retry_after_is_honoured(wandb_server) -> None:
    client = _client(wandb_server)
    wandb_server.set_faults([{"route": "graphql", "kind": "status", "status": 429, "retry_after": 1, "times": 1}])
    started = time.monotonic()
    client.artifact("churn-model:production")
    assert time.monotonic() - started >= 1.0
    assert wandb_server.stats()["graphql"]["total"] == 2


def test_retry_after_beyond_the_cap_fails_at_once_as_transient(wandb_server) -> None:
    client = _client(wandb_server, retry_after_cap=0.2)
    wandb_server.set_faults([{"route": "graphql", "kind": "status", "status": 503, "retry_after": 30, "times": 1}])
    wandb_server.reset_stats()
    started = time.monotonic()
    with pytest.raises(ServerError) as info:
        client.artifact("churn-model:production")
    assert time.monotonic() - started < 5
    assert info.value.transient and wandb_server.stats()["graphql"]["total"] == 1


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422, 501])
def test_permanent_statuses_are_not_retried(wandb_server, status: int) -> None:
    client = _client(wandb_server)
    wandb_server.set_faults([{"route": "graphql", "kind": "status", "status": status}])
    wandb_server.reset_stats()
    with pytest.raises(Exception) as info:
        client.artifact("churn-model:production")
    assert not isinstance(info.value, ServerError)
    assert getattr(info.value, "status", None) == status
    assert wandb_server.stats()["graphql"]["total"] == 1


def test_bad_key_fails_after_exactly_one_request(wandb_server) -> None:
    client = WandbClient(wandb_server.base_url, "wrong-" + "k" * 40, entity="acme", project="churn")
    wandb_server.reset_stats()
    with pytest.raises(AuthenticationError, match="rejected the API key"):
        client.artifact("churn-model:production")
    assert wandb_server.stats()["graphql"]["total"] == 1


def test_resets_are_retried(wandb_server) -> None:
    client = _client(wandb_server)
    wandb_server.set_faults([{"route": "graphql", "kind": "reset", "times": 2}])
    assert client.artifact("churn-model:production").version == "v1"
    assert wandb_server.stats()["graphql"]["total"] == 3


def test_retries_are_bounded_by_attempts(wandb_server) -> None:
    client = _client(wandb_server, max_retries=3)
    wandb_server.set_faults([{"route": "graphql", "kind": "status", "status": 502}])
    wandb_server.reset_stats()
    with pytest.raises(ServerError) as info:
        client.artifact("churn-model:production")
    assert info.value.attempts == 4 and info.value.last_status == 502
    assert info.value.transient
    assert wandb_server.stats()["graphql"]["total"] == 4


def test_server_that_never_answers_is_abandoned_at_the_deadline(wandb_server) -> None:
    client = _client(wandb_server, deadline=1.5, timeout=30, max_retries=50)
    wandb_server.set_faults([{"route": "graphql", "kind": "delay", "seconds": 20}])
    started = time.monotonic()
    with pytest.raises(ServerError):
        client.artifact("churn-model:production")
    assert time.monotonic() - started < 3.5
