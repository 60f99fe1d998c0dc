"""The server answers the basics: health, viewer, and refuses requests without a key."""

from __future__ import annotations

import requests


def test_healthz_and_viewer(wandb_server) -> None:
    assert requests.get(f"{wandb_server.base_url}/healthz", timeout=5).status_code == 200
    reply = requests.post(
        f"{wandb_server.base_url}/graphql",
        json={"query": "query Viewer { viewer { entity username } }"},
        auth=("api", wandb_server.api_key),
        timeout=5,
    )
    assert reply.status_code == 200
    assert reply.json() == {"data": {"viewer": {"entity": "demo", "username": "demo"}}}


def test_missing_key_is_401(wandb_server) -> None:
    reply = requests.post(f"{wandb_server.base_url}/graphql", json={"query": "{ viewer { id } }"}, timeout=5)
    assert reply.status_code == 401
    assert "API key" in reply.json()["errors"][0]["message"]
