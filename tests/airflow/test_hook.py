"""WandbHook: connections from the environment (JSON and URI) become working clients."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from wandb_provider.hooks.wandb import WandbHook

pytestmark = pytest.mark.wandb_server(seed="demo")


def test_json_connection_with_defaults(wandb_server, monkeypatch: pytest.MonkeyPatch) -> None:
    conn = {"conn_type": "wandb", "host": wandb_server.base_url, "password": wandb_server.api_key,
            "extra": {"entity": "acme", "project": "churn", "timeout": 12, "max_retries": 2, "verify_ssl": "false"}}
    monkeypatch.setenv("AIRFLOW_CONN_WANDB_DEFAULT", json.dumps(conn))
    client = WandbHook().get_client()
    assert client.config.timeout == 12 and client.config.max_retries == 2 and client.config.verify is False
    assert client.artifact("churn-model:production").qualified_name == "acme/churn/churn-model:v1"


def test_uri_connection(wandb_server, monkeypatch: pytest.MonkeyPatch) -> None:
    host_port = wandb_server.base_url.removeprefix("http://")
    uri = f"wandb://:{quote(wandb_server.api_key)}@{host_port}/http?entity=acme&project=churn"
    monkeypatch.setenv("AIRFLOW_CONN_MY_WANDB", uri)
    client = WandbHook(wandb_conn_id="my_wandb").get_client()
    assert client.config.base_url == wandb_server.base_url
    assert client.artifact("churn-dataset").version == "v2"


def test_test_connection_says_who_without_the_key(wandb_server, monkeypatch: pytest.MonkeyPatch) -> None:
    conn = {"conn_type": "wandb", "host": wandb_server.base_url, "password": wandb_server.api_key}
    monkeypatch.setenv("AIRFLOW_CONN_WANDB_DEFAULT", json.dumps(conn))
    wandb_server.reset_stats()
    ok, message = WandbHook().test_connection()
    assert ok and "as demo" in message and "acme" in message
    assert wandb_server.api_key not in message
    assert wandb_server.stats()["graphql"]["total"] == 1


def test_test_connection_reports_a_bad_key(wandb_server, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = "bad-" + "b" * 40
    conn = {"conn_type": "wandb", "host": wandb_server.base_url, "password": bad}
    monkeypatch.setenv("AIRFLOW_CONN_WANDB_DEFAULT", json.dumps(conn))
    ok, message = WandbHook().test_connection()
    assert not ok and "API key" in message and bad not in message


def test_default_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_WANDB_DEFAULT", json.dumps({"conn_type": "wandb", "password": "k" * 40}))
    assert WandbHook().get_config().base_url == "https://api.wandb.ai"
