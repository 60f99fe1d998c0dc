"""The pytest plugin is opt-in: without it a pytest session gets none of our fixtures and keeps an unset
AIRFLOW_HOME unset; with it, a private AIRFLOW_HOME per session and one per pytest-xdist worker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

pytest.importorskip("xdist")

_PROBE = '''
import json, os, pathlib

def test_home_a(request):
    _record("a", request)

def test_home_b(request):
    _record("b", request)

def _record(name, request):
    plugins = [str(n) for n, p in request.config.pluginmanager.list_name_plugin()
               if "wandb_provider" in str(n) or "wandb_provider" in getattr(p, "__name__", "")]
    out = pathlib.Path(os.environ["PROBE_OUT"]) / name
    out.write_text(json.dumps({"home": os.environ.get("AIRFLOW_HOME"), "plugins": plugins,
                               "worker": os.environ.get("PYTEST_XDIST_WORKER")}))
'''


OPT_IN = ("-p", "wandb_provider.testing.pytest_plugin")


def _run_probe(tmp_path: Path, *args: str, env: dict[str, str] | None = None,
               conftest: str | None = None) -> list[dict[str, str]]:
    (tmp_path / "suite").mkdir()
    if conftest is not None:
        (tmp_path / "suite" / "conftest.py").write_text(conftest)
    (tmp_path / "suite" / "test_a.py").write_text(_PROBE)
    (tmp_path / "suite" / "test_b.py").write_text(_PROBE.replace('"a"', '"c"').replace('"b"', '"d"'))
    (tmp_path / "out").mkdir()
    # Not what this run's own xdist worker (if any) was given: the child is a session of its own.
    clean = _without_home()
    clean.update(PROBE_OUT=str(tmp_path / "out"), **(env or {}))
    done = _pytest(tmp_path, *args, "suite", env=clean)
    assert done.returncode == 0, done.stdout + done.stderr
    return [json.loads(p.read_text()) for p in sorted((tmp_path / "out").iterdir())]


def _pytest(cwd: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=240)


def _without_home() -> dict[str, str]:
    return {k: v for k, v in os.environ.items()
            if k not in ("AIRFLOW_HOME", "WANDB_PROVIDER_AUTO_AIRFLOW_HOME") and not k.startswith("PYTEST_")}


def test_without_the_opt_in_a_session_gets_no_plugin_and_keeps_airflow_home_unset(tmp_path: Path) -> None:
    seen = _run_probe(tmp_path)
    assert all(s["home"] is None and s["plugins"] == [] for s in seen), seen
    listed = _pytest(tmp_path, "--trace-config", "--fixtures", "suite", env=_without_home())
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert "wandb_server" not in listed.stdout and "wandb_airflow" not in listed.stdout
    assert "wandb_provider" not in listed.stdout + listed.stderr  # no plugin registered, not even loaded


def test_a_conftest_opts_in_with_pytest_plugins(tmp_path: Path) -> None:
    seen = _run_probe(tmp_path, conftest='pytest_plugins = ["wandb_provider.testing.pytest_plugin"]\n')
    assert len({s["home"] for s in seen}) == 1 and seen[0]["home"], seen
    assert Path(seen[0]["home"]).resolve().is_relative_to(Path(tempfile.gettempdir()).resolve())
    assert seen[0]["plugins"] == ["wandb_provider.testing.pytest_plugin"]


@pytest.mark.full  # a child pytest-xdist session: three more interpreters
def test_each_xdist_worker_gets_its_own_temporary_home(tmp_path: Path) -> None:
    seen = _run_probe(tmp_path, *OPT_IN, "-n", "2", "--dist", "loadfile")
    homes = {s["worker"]: s["home"] for s in seen}
    assert set(homes) == {"gw0", "gw1"}, seen
    assert homes["gw0"] != homes["gw1"]
    temp = Path(tempfile.gettempdir()).resolve()
    for home in homes.values():
        assert Path(home).resolve().is_relative_to(temp)


@pytest.mark.full  # a child pytest-xdist session: three more interpreters
def test_a_home_the_user_set_is_kept_by_every_worker(tmp_path: Path) -> None:
    mine = str(tmp_path / "my-home")
    seen = _run_probe(tmp_path, *OPT_IN, "-n", "2", "--dist", "loadfile", env={"AIRFLOW_HOME": mine})
    assert {s["home"] for s in seen} == {mine}


def test_without_xdist_one_temporary_home_for_the_session(tmp_path: Path) -> None:
    seen = _run_probe(tmp_path, *OPT_IN)
    assert len({s["home"] for s in seen}) == 1
    assert seen[0]["worker"] is None and seen[0]["home"]


@pytest.mark.full
def test_the_session_and_its_airflow_children_share_one_fernet_key() -> None:
    """What a child ``airflow`` command encrypts into the session's database, the session can read
    (an asset watcher's trigger stored by ``airflow dags test``, read back by a later ``dag.test()``)."""
    from airflow.configuration import conf
    from airflow.models.crypto import get_fernet

    key = conf.get("core", "fernet_key")
    assert key and get_fernet().is_encrypted
    airflow = os.path.join(os.path.dirname(sys.executable), "airflow")
    child = subprocess.run([airflow, "config", "get-value", "core", "fernet_key"], capture_output=True, text=True,
                           timeout=120)
    assert child.returncode == 0, child.stderr[-2000:]
    assert child.stdout.strip() == key
