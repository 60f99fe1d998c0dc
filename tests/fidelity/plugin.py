"""Session-wide GraphQL fidelity check: every request our client sent anywhere in the test run must
use only what the wandb SDK's documents and generated input types use (``sdk_evidence.py``).

Every local server of the session (in this process, in pytest-xdist workers, in ``airflow dags
test`` subprocesses) appends the distinct shapes of the requests it receives to a folder named
by ``PROVIDER_WANDB_GRAPHQL_LOG`` (``wandb_provider/testing/recorder.py``). The controller
reads them all when the session ends and fails the run on any request of ours (User-Agent
``airflow-provider-wandb/...``) that uses something the SDK never does, unless ``allowed.json``
lists it with its reason. Requests the SDK itself sends in tests are its own business.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest

from wandb_provider.testing.recorder import LOG_DIR_ENV

OUR_USER_AGENT = "airflow-provider-wandb/"
_OWNED_DIR = "_fidelity_log_dir"


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_configure(config: pytest.Config) -> None:
    if _is_worker(config) or os.environ.get(LOG_DIR_ENV):
        return  # a worker inherits the controller's folder; a folder set outside is the caller's
    folder = tempfile.mkdtemp(prefix="graphql-requests-")
    os.environ[LOG_DIR_ENV] = folder
    setattr(config, _OWNED_DIR, folder)


def recorded_requests(folder: str | Path) -> list[dict[str, Any]]:
    """Our client's distinct requests logged in ``folder``."""
    requests: dict[str, dict[str, Any]] = {}
    for path in sorted(Path(folder).glob("graphql-*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # a line cut short by a killed server
            if str(entry.get("userAgent", "")).startswith(OUR_USER_AGENT):
                requests[line] = entry
    return list(requests.values())


def _evidence_key() -> str:
    import wandb

    from wandb_provider.testing import graphql_api

    digest = hashlib.sha256(wandb.__version__.encode())
    for path in (Path(__file__).with_name("sdk_evidence.py"), Path(__file__).with_name("go_input_types.json"),
                 Path(graphql_api.__file__).with_name("schema.graphql")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:24]


class _FileCache:
    """pytest's cache interface over one JSON file per key in the temp folder: the suite runs with
    ``-p no:cacheprovider``, and a worker (``test_evidence``) and the controller (at the end of the
    session) would otherwise each extract the SDK's evidence (seconds of CPU). The key names the
    digest of everything the evidence is made from, so a stale file is never read."""

    def _path(self, key: str) -> Path:
        return Path(tempfile.gettempdir()) / f"wandb-provider-{key.replace('/', '-')}.json"

    def get(self, key: str, default: Any) -> Any:
        try:
            return json.loads(self._path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return default

    def set(self, key: str, value: Any) -> None:
        path = self._path(key)
        partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
        partial.write_text(json.dumps(value), encoding="utf-8")
        os.replace(partial, path)  # whole or absent, whoever reads it meanwhile


def evidence(schema: Any, cache: Any = None) -> Any:
    """The SDK's usage (``sdk_evidence``), from ``cache`` (pytest's, else a file in the temp folder)
    when it holds the evidence of these very sources."""
    from . import sdk_evidence as ev

    cache = cache if cache is not None else _FileCache()
    key = f"fidelity/evidence-{_evidence_key()}"
    stored = cache.get(key, None)
    if stored is not None:
        return ev.Usage(set(stored["types"]), {(a, b) for a, b in stored["fields"]},
                        {(a, b, c) for a, b, c in stored["arguments"]},
                        {(a, b) for a, b in stored["input_fields"]})
    found = ev.sdk_evidence(schema)
    remember_evidence(found, cache)
    return found


def remember_evidence(found: Any, cache: Any = None) -> None:
    """Keep ``found`` (``sdk_evidence``'s answer) for ``evidence`` to read."""
    cache = cache if cache is not None else _FileCache()
    cache.set(f"fidelity/evidence-{_evidence_key()}",
              {"types": sorted(found.types), "fields": sorted(found.fields),
               "arguments": sorted(found.arguments), "input_fields": sorted(found.input_fields)})


def check(requests: list[dict[str, Any]], cache: Any = None) -> list[str]:
    """The violations in ``requests`` (sorted lines), the reviewed exceptions left out."""
    from wandb_provider.testing.graphql_api import load_schema

    from . import sdk_evidence as ev

    schema = load_schema()
    usage = evidence(schema, cache)
    exceptions = ev.allowed()
    found: dict[str, set[str]] = {}
    for violation in ev.violations(schema, usage, requests):
        if violation.key() not in exceptions:
            found.setdefault(violation.key(), set()).add(violation.operation)
    return [f"{key} (in {', '.join(sorted(ops))})" for key, ops in sorted(found.items())]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    folder = getattr(config, _OWNED_DIR, None)
    if folder is None:
        return
    try:
        requests = recorded_requests(folder)
        if not requests:
            return
        problems = check(requests, getattr(config, "cache", None))
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:  # CI's log shows that the check ran, and over how much
            reporter.ensure_newline()
            reporter.write_line(f"GraphQL fidelity: {len(requests)} distinct requests of our client checked, "
                                f"{len(problems)} outside wandb 0.31.0's documents")
        if problems:
            lines = ["GraphQL fidelity: our client sent what no wandb 0.31.0 document or generated input type "
                     "uses (fix the client, or list a reviewed exception in tests/fidelity/allowed.json):",
                     *(f"  {line}" for line in problems)]
            if reporter is not None:
                reporter.write_sep("=", "GraphQL fidelity check failed", red=True)
                for line in lines:
                    reporter.write_line(line)
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        os.environ.pop(LOG_DIR_ENV, None)
