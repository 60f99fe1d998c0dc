"""A small client of Airflow's REST API v2 for the deployment check: a JWT from ``/auth/token``, JSON
in and out, and waiting for states."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote

import requests

T = TypeVar("T")


class CheckFailed(AssertionError):
    """A promise of the deployment that did not hold; the message says what was expected and seen."""


def wait_until(what: str, probe: Callable[[], T | None], timeout: float, every: float = 1.0) -> T:
    """Call ``probe`` until it returns something other than ``None``; fail naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            raise CheckFailed(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


class AirflowApi:
    """Airflow's REST API v2 as one user of the simple auth manager."""

    def __init__(self, base_url: str, username: str, password: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()

        def login() -> requests.Response | None:
            try:
                return self.session.post(f"{self.base_url}/auth/token", timeout=30,
                                         json={"username": username, "password": password})
            except requests.ConnectionError:  # the API server is still starting
                return None

        response = wait_until("the API server to answer", login, 180)
        if response.status_code != 201:
            raise CheckFailed(f"POST /auth/token answered {response.status_code}: {response.text[:300]}")
        self.token: str = response.json()["access_token"]
        self.session.headers["Authorization"] = f"Bearer {self.token}"

    def request(self, method: str, path: str, *, ok: tuple[int, ...] = (200,), **kwargs: Any) -> Any:
        response = self.session.request(method, f"{self.base_url}/api/v2/{path.lstrip('/')}", timeout=60, **kwargs)
        if response.status_code not in ok:
            raise CheckFailed(f"{method} /api/v2/{path} answered {response.status_code}: {response.text[:500]}")
        return response.json() if response.content else None

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def run_path(self, dag_id: str, run_id: str) -> str:
        return f"dags/{dag_id}/dagRuns/{quote(run_id, safe='')}"

    def task_instances(self, dag_id: str, run_id: str) -> dict[str, dict[str, Any]]:
        found = self.get(f"{self.run_path(dag_id, run_id)}/taskInstances")["task_instances"]
        return {ti["task_id"]: ti for ti in found}

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        path = f"{self.run_path(dag_id, run_id)}/taskInstances/{task_id}/xcomEntries/{key}"
        return self.get(path, params={"deserialize": "true", "stringify": "false"})["value"]

    def links(self, dag_id: str, run_id: str, task_id: str) -> dict[str, str]:
        found: dict[str, str] = self.get(f"{self.run_path(dag_id, run_id)}/taskInstances/{task_id}/links")[
            "extra_links"]
        return found

    def log_text(self, dag_id: str, run_id: str, task_id: str, try_number: int) -> str:
        path = f"{self.run_path(dag_id, run_id)}/taskInstances/{task_id}/logs/{try_number}"
        content = self.get(path, params={"full_content": "true"}, headers={"Accept": "application/json"})["content"]
        lines = []
        for item in content if isinstance(content, list) else [content]:
            if isinstance(item, dict):
                lines.append(" ".join(str(item.get(k, "")) for k in ("event", "logger", "error_detail") if item.get(k)))
            else:
                lines.append(str(item))
        return "\n".join(lines)

    def unpause(self, dag_id: str) -> None:
        self.request("PATCH", f"dags/{dag_id}", json={"is_paused": False})

    def trigger(self, dag_id: str, logical_date: str | None = None) -> str:
        run = self.request("POST", f"dags/{dag_id}/dagRuns", json={"logical_date": logical_date}, ok=(200,))
        return str(run["dag_run_id"])

    def run_state(self, dag_id: str, run_id: str) -> str:
        return str(self.get(self.run_path(dag_id, run_id))["state"])
