"""The API key never appears in a log record, an exception, a repr or an XCom-bound dict."""

from __future__ import annotations

import json
import logging
import pickle

import pytest

from wandb_provider.client import ClientConfig, WandbClient, WandbError

KEY = "SECRETKEYMARKER-" + "z" * 40

pytestmark = pytest.mark.wandb_server(seed="demo", users=[f"demo:{KEY}"])


def test_key_never_leaks(wandb_server, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    fast = {"backoff_min": 0.01, "backoff_max": 0.02, "max_retries": 2}
    client = WandbClient(wandb_server.base_url, KEY, entity="acme", project="churn", **fast)
    seen: list[str] = [repr(client), repr(client.config), str(client.config)]
    version = client.artifact("churn-model:production")
    seen += [repr(version), json.dumps(version.to_dict()), repr(client.viewer())]
    wandb_server.set_faults([{"route": "graphql", "kind": "status", "status": 503}])
    failures: list[BaseException] = []
    for call in (lambda: client.artifact("churn-model:production"), lambda: client.artifact("nope:x"),
                 lambda: WandbClient(wandb_server.base_url, KEY + "x", **fast).viewer()):
        with pytest.raises(WandbError) as info:
            call()
        failures.append(info.value)
    wandb_server.set_faults(None)
    with pytest.raises(WandbError) as info:
        client.artifact("acme/churn/churn-model:missing")
    failures.append(info.value)
    for error in failures:
        copy = pickle.loads(pickle.dumps(error))
        seen += [str(error), repr(error), repr(error.__dict__), str(error.__cause__), repr(copy)]
    seen += [record.getMessage() for record in caplog.records]
    seen += [str(record.args) for record in caplog.records]
    leaked = [text for text in seen if KEY in text]
    assert not leaked


def test_config_repr_hides_key() -> None:
    config = ClientConfig(base_url="https://api.wandb.ai", api_key=KEY)
    assert KEY not in repr(config)
