"""The server's request log: distinct shapes only, values dropped, readable three ways."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import requests

from wandb_provider.testing.recorder import GraphQLRecorder, shape

from .plugin import recorded_requests


def test_a_shape_keeps_keys_and_merges_list_items_but_drops_values() -> None:
    variables = {"input": {"artifactFiles": [{"name": "a", "md5": "x"}, {"name": "b", "digest": "y"}]}, "n": 3}
    assert shape(variables) == {"input": {"artifactFiles": [{"name": None, "md5": None, "digest": None}]}, "n": None}


def test_each_distinct_request_is_kept_once_and_logged_to_the_folder(tmp_path: Path) -> None:
    recorder = GraphQLRecorder(str(tmp_path))
    for name in ("a", "b"):
        recorder.record("query Q { viewer { id } }", {"x": name}, "Q", "airflow-provider-wandb/1")
    recorder.record("query Q { viewer { id } }", {"x": "c"}, "Q", "python-requests/2")
    assert len(recorder.requests()) == 2
    assert [r["userAgent"] for r in recorded_requests(tmp_path)] == ["airflow-provider-wandb/1"]


def test_the_admin_route_and_the_server_object_show_the_log(wandb_server: Any) -> None:
    body = {"query": "query Viewer { viewer { username } }", "operationName": "Viewer", "variables": {}}
    headers = {"Authorization": f"Bearer {wandb_server.api_key}", "User-Agent": "probe/1"}
    assert requests.post(f"{wandb_server.base_url}/graphql", json=body, headers=headers, timeout=10).ok
    logged = requests.get(f"{wandb_server.base_url}/_admin/graphql-log", timeout=10).json()["requests"]
    assert logged == wandb_server.graphql_requests()
    assert [(r["operationName"], r["userAgent"]) for r in logged] == [("Viewer", "probe/1")]
    assert json.dumps(logged)  # plain JSON
