"""Shared benchmark plumbing: a local W&B server in its own process, and measured child processes.

Each measured case runs in a fresh interpreter that reports its wall time for the measured block
and its own peak RSS, so clients are compared on equal terms and never share caches by accident.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from wandb_provider.testing import DEFAULT_API_KEY

CHILD_PRELUDE = """
import json, sys, time
def report(seconds, **extra):
    # VmHWM: this process's own peak (ru_maxrss would carry the parent's peak across fork+exec).
    with open("/proc/self/status") as fh:
        rss_mib = next(int(l.split()[1]) for l in fh if l.startswith("VmHWM:")) / 1024
    print("RESULT " + json.dumps({"seconds": seconds, "peak_rss_mib": rss_mib, **extra}), flush=True)
"""


@contextmanager
def server_process(data_dir: Path) -> Iterator[str]:
    """Run ``wandb-provider-server`` on ``data_dir`` in a subprocess; yield its base URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "wandb_provider.testing", "--port", "0", "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        if not line.startswith("WANDB_BASE_URL="):
            raise RuntimeError(f"server did not start: {line!r}")
        base_url = line.split("=", 1)[1]
        _SERVER_PIDS[base_url] = proc.pid
        yield base_url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


_SERVER_PIDS: dict[str, int] = {}


def server_cpu_seconds(base_url: str) -> float:
    """CPU time (user + system) the server process has used so far (Linux ``/proc``; 0 elsewhere)."""
    try:
        with open(f"/proc/{_SERVER_PIDS[base_url]}/stat") as fh:
            fields = fh.read().rpartition(")")[2].split()
    except (KeyError, OSError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_child(code: str, env: dict[str, str] | None = None, timeout: float = 1800) -> dict[str, Any]:
    """Run ``code`` (which calls ``report(...)``) in a fresh interpreter and return its report.

    ``tree_cpu_s`` is the CPU time of the child and every process it waited for (the SDK's
    ``wandb-core`` included), start-up included: on a shared machine CPU time is steadier than
    wall time.
    """
    before = _children_cpu()
    out = subprocess.run([sys.executable, "-c", CHILD_PRELUDE + code], capture_output=True, text=True,
                         env={**os.environ, **(env or {})}, timeout=timeout)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return {**json.loads(line[7:]), "tree_cpu_s": _children_cpu() - before}
    raise RuntimeError(f"child failed (exit {out.returncode}):\n{out.stderr[-3000:]}")


def stats(base_url: str) -> dict[str, Any]:
    return dict(requests.get(f"{base_url}/_admin/stats", timeout=10).json())


def reset_stats(base_url: str) -> None:
    requests.post(f"{base_url}/_admin/stats/reset", timeout=10)


def environment() -> dict[str, Any]:
    import importlib.metadata as md

    def version(name: str) -> str:
        try:
            return md.version(name)
        except md.PackageNotFoundError:
            return "-"

    return {"python": platform.python_version(), "cpus": os.cpu_count(), "machine": platform.machine(),
            "wandb": version("wandb"), "requests": version("requests"), "time": time.strftime("%Y-%m-%d %H:%M")}


API_KEY = DEFAULT_API_KEY
