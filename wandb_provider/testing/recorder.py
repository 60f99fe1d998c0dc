"""A cheap log of the GraphQL requests the server received, for fidelity checks.

Each distinct request *shape* is kept once: the document, the operation name, the client's
User-Agent and the variables with every leaf value dropped (only the keys input objects carry
matter to a check of input fields). Readable from the server object
(``LocalWandbServer.graphql_requests()``) and the loopback admin route ``GET /_admin/graphql-log``.

When ``PROVIDER_WANDB_GRAPHQL_LOG`` names a folder, each new shape is also appended to
``<folder>/graphql-<pid>.jsonl``, so a test session can check requests received by servers in
other processes (pytest-xdist workers, ``airflow dags test`` subprocesses).
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any

LOG_DIR_ENV = "PROVIDER_WANDB_GRAPHQL_LOG"
_MAX_SHAPES = 20_000


def shape(value: Any) -> Any:
    """``value`` without its leaves: objects keep their keys, lists merge their items' shapes."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        merged: Any = None
        for item in value:
            merged = _merge(merged, shape(item))
        return [] if merged is None else [merged]
    return None


def _merge(a: Any, b: Any) -> Any:
    if isinstance(a, dict) and isinstance(b, dict):
        return {key: _merge(a.get(key), b.get(key)) for key in {**a, **b}}
    if isinstance(a, list) and isinstance(b, list):
        return [_merge(a[0] if a else None, b[0] if b else None)] if (a or b) else []
    return a if b is None else b


class GraphQLRecorder:
    """Distinct request shapes, in the order first seen."""

    def __init__(self, log_dir: str | None = None) -> None:
        self._lock = threading.Lock()
        self._seen: dict[str, dict[str, Any]] = {}
        self._log_dir = log_dir if log_dir is not None else os.environ.get(LOG_DIR_ENV) or None

    def record(self, query: str, variables: dict[str, Any] | None, operation_name: str | None,
               user_agent: str) -> None:
        entry = {"query": query, "operationName": operation_name, "userAgent": user_agent,
                 "variables": shape(variables or {})}
        key = json.dumps(entry, sort_keys=True)
        with self._lock:
            if key in self._seen or len(self._seen) >= _MAX_SHAPES:
                return
            self._seen[key] = entry
        if self._log_dir:
            try:
                with open(os.path.join(self._log_dir, f"graphql-{os.getpid()}.jsonl"), "a", encoding="utf-8") as log:
                    log.write(key + "\n")
            except OSError:
                pass  # the log is a test aid: a missing folder never fails a request

    def requests(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._seen.values())

    def clear(self) -> None:
        with self._lock:
            self._seen.clear()
