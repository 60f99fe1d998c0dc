"""The pytest plugin's private AIRFLOW_HOME: one per session, and one per pytest-xdist worker."""

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

def test_home_a():
    _record("a")

def test_home_b():
    _record("b")

def _record(name):
    out = pathlib.Path(os.environ["PROBE_OUT"]) / name
    out.write_text(json.dumps({"home": os.environ.get("AIRFLOW_HOME"),
                               "worker": os.environ.get("PYTEST_XDIST_WORKER")}))
'''


def _run_probe(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> list[dict[str, str]]:
    (tmp_path / "suite").mkdir()
    (tmp_path / "suite" / "test_a.py").write_text(_PROBE)
    (tmp_path / "suite" / "test_b.py").write_text(_PROBE.replace('"a"', '"c"').replace('"b"', '"d"'))
    (tmp_path / "out").mkdir()
    # Not what this run's own xdist worker (if any) was given: the child is a session of its own.
    clean = {k: v for k, v in os.environ.items()
             if k not in ("AIRFLOW_HOME", "WANDB_PROVIDER_AUTO_AIRFLOW_HOME") and not k.startswith("PYTEST_XDIST")}
    clean.update(PROBE_OUT=str(tmp_path / "out"), **(env or {}))
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args, "suite"],
                          cwd=tmp_path, env=clean, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    return [json.loads(p.read_text()) for p in sorted((tmp_path / "out").iterdir())]


def test_each_xdist_worker_gets_its_own_temporary_home(tmp_path: Path) -> None:
    seen = _run_probe(tmp_path, "-n", "2", "--dist", "loadfile")
    homes = {s["worker"]: s["home"] for s in seen}
    assert set(homes) == {"gw0", "gw1"}, seen
    assert homes["gw0"] != homes["gw1"]
    temp = Path(tempfile.gettempdir()).resolve()
    for home in homes.values():
        assert Path(home).resolve().is_relative_to(temp)


def test_a_home_the_user_set_is_kept_by_every_worker(tmp_path: Path) -> None:
    mine = str(tmp_path / "my-home")
    seen = _run_probe(tmp_path, "-n", "2", "--dist", "loadfile", env={"AIRFLOW_HOME": mine})
    assert {s["home"] for s in seen} == {mine}


def test_without_xdist_one_temporary_home_for_the_session(tmp_path: Path) -> None:
    seen = _run_probe(tmp_path)
    assert len({s["home"] for s in seen}) == 1
    assert seen[0]["worker"] is None and seen[0]["home"]
