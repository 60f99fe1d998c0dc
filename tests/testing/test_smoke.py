"""The server answers the basics: health, viewer, and refuses requests without a key."""

from __future__ import annotations

import requests


def test_healthz_and_viewer(wandb_server) -> None:
    assert requests.get(f"{wandb_server.base_url}/healthz", timeout=60).status_code == 200
    reply = requests.post(
        f"{wandb_server.base_url}/graphql",
        json={"query": "query Viewer { viewer { entity username } }"},
        auth=("api", wandb_server.api_key),
        timeout=60,
    )
    assert reply.status_code == 200
    assert reply.json() == {"data": {"viewer": {"entity": "demo", "username": "demo"}}}


def test_missing_key_is_401(wandb_server) -> None:
    reply = requests.post(f"{wandb_server.base_url}/graphql", json={"query": "{ viewer { id } }"}, timeout=60)
    assert reply.status_code == 401
    assert "API key" in reply.json()["errors"][0]["message"]


def test_direct_urls_serve_ranges_and_head_without_auth(wandb_server) -> None:
    from wandb_provider.client import WandbClient

    data = bytes(range(256)) * 64
    wandb_server.seed_artifact("ranged", {"blob.bin": data}, project="p")
    client = WandbClient(wandb_server.base_url, wandb_server.api_key, entity="demo", project="p")
    (url,) = [u.url for u in client.file_urls("ranged")]
    head = requests.head(url, timeout=60)
    assert head.status_code == 200 and int(head.headers["content-length"]) == len(data)
    part = requests.get(url, headers={"Range": "bytes=100-199"}, timeout=60)
    assert part.status_code == 206 and part.content == data[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(data)}"


def test_request_envelope_variants(wandb_server) -> None:
    """W&B's clients send variables absent, empty or with undeclared keys, and operationName "" (§1.2)."""
    url, auth = f"{wandb_server.base_url}/graphql", ("api", wandb_server.api_key)
    query = "query Who { viewer { username } }"
    bodies = [
        {"query": query},
        {"query": query, "variables": {}, "operationName": ""},
        {"query": query, "variables": {"usedAs": None, "extra": 1}, "operationName": "Who"},
        {"query": "query { viewer { username } }", "variables": None},
    ]
    for body in bodies:
        reply = requests.post(url, json=body, auth=auth, timeout=60)
        assert reply.status_code == 200, body
        assert reply.json() == {"data": {"viewer": {"username": "demo"}}}
    wandb_server.reset_stats()
    requests.post(url, json={"query": query, "operationName": ""}, auth=auth, timeout=60)
    assert wandb_server.stats()["graphql"]["operations"] == {"Who": 1}
