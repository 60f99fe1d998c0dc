"""Shared benchmark plumbing: a local W&B server in its own process, and measured child processes.

Each measured case runs in a fresh interpreter that reports its wall time for the measured block
and its own peak RSS, so clients are compared on equal terms and never share caches by accident.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import threading
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


def wall_seconds(argv: list[str], env: dict[str, str], timeout: float = 1800) -> float:
    """Run a command to its end; return its wall time from start to exit, in seconds.

    The wait blocks in ``waitpid`` (a timer kills a command that overruns ``timeout``): with a
    timeout, ``subprocess.run`` polls the child with sleeps of up to 50 ms, which rounded every time
    it measured up to the next ~50 ms."""
    began = time.perf_counter()
    proc = subprocess.Popen(argv, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    killer = threading.Timer(timeout, proc.kill)
    killer.start()
    try:
        assert proc.stderr is not None
        errors = proc.stderr.read()  # to its end: the command has closed its standard error
        proc.wait()
    finally:
        killer.cancel()
    seconds = time.perf_counter() - began
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[0]} {argv[1]} failed (exit {proc.returncode}):\n{errors[-3000:].decode()}")
    return seconds


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


# --- the ceiling: a raw parallel client over the same signed URLs ---------------------------------

def ceiling(pairs: list[tuple[str, str]], *, upload: bool, workers: int, work: Path,
            tool: str = "curl") -> dict[str, Any]:
    """Transfer ``(url, local path)`` pairs with a raw parallel client: no verification, no bookkeeping.

    ``curl --parallel`` (one process, its connection cache shared by every transfer) when curl is
    installed, else a bare ``http.client`` thread pool in a fresh interpreter. Downloads write each
    body to its path (folders made); uploads PUT each file's bytes. Returns the wall time, the
    client's CPU seconds (user + system, from the kernel's accounting of that one process) and its
    peak RSS. ``tool="http.client"`` asks for the Python pool: the limit of any CPython client.
    """
    if tool == "curl" and shutil.which("curl"):
        return _curl(pairs, upload=upload, workers=workers, work=work)
    return _http_client_pool(pairs, upload=upload, workers=workers, work=work)


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _curl(pairs: list[tuple[str, str]], *, upload: bool, workers: int, work: Path) -> dict[str, Any]:
    config = work / "curl-ceiling.conf"
    lines = []
    for url, path in pairs:
        lines.append(f"url = {_quote(url)}")
        lines.append(f"{'upload-file' if upload else 'output'} = {_quote(path)}")
    config.write_text("\n".join(lines) + "\n")
    argv = ["curl", "--parallel", "--parallel-immediate", "--parallel-max", str(workers), "--fail", "--silent",
            "--show-error", "--config", str(config)]
    if upload:
        argv += ["--header", "Expect:", "--output", os.devnull]  # no 100-continue round trip; answers dropped
    else:
        argv += ["--create-dirs"]
    # curl's own peak RSS comes from GNU time when installed: the wait4 figure of a child spawned
    # from this process (vfork) is this process's peak, not curl's.
    rss_file = work / "curl-ceiling.rss"
    gnu_time = shutil.which("time", path="/usr/bin:/bin")
    if gnu_time:
        argv = [gnu_time, "-f", "%M", "-o", str(rss_file), *argv]
    began = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - began
    stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    config.unlink()
    if proc.returncode != 0:
        raise RuntimeError(f"curl ceiling failed (exit {proc.returncode}): {stderr[-2000:]}")
    try:
        rss_mib = int(rss_file.read_text().split()[-1]) / 1024
        rss_file.unlink()
    except (OSError, ValueError, IndexError):
        rss_mib = 0.0  # not measured
    return {"seconds": seconds, "cpu_s": usage.ru_utime + usage.ru_stime, "peak_rss_mib": rss_mib,
            "tool": "curl --parallel"}


HTTP_CLIENT_POOL = """
import http.client, os, resource, threading, urllib.parse
from concurrent.futures import ThreadPoolExecutor
pairs, upload, workers = json.loads(sys.argv[1]), sys.argv[2] == "1", int(sys.argv[3])
local = threading.local()
def one(pair):
    url, path = pair
    parts = urllib.parse.urlsplit(url)
    conn = getattr(local, "conn", None)
    if conn is None:
        conn = local.conn = http.client.HTTPConnection(parts.hostname, parts.port)
    target = parts.path + ("?" + parts.query if parts.query else "")
    if upload:
        with open(path, "rb") as fh:
            conn.request("PUT", target, body=fh, headers={"Content-Length": str(os.fstat(fh.fileno()).st_size)})
        r = conn.getresponse(); r.read()
    else:
        conn.request("GET", target)
        r = conn.getresponse()
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as out:
            while chunk := r.read(1 << 20):
                out.write(chunk)
    if r.status >= 300:
        raise RuntimeError(f"HTTP {r.status}")
t, c = time.perf_counter(), time.process_time()
with ThreadPoolExecutor(workers) as pool:
    list(pool.map(one, pairs))
report(time.perf_counter() - t, cpu_s=time.process_time() - c, tool="http.client pool")
"""


def _http_client_pool(pairs: list[tuple[str, str]], *, upload: bool, workers: int, work: Path) -> dict[str, Any]:
    argv = [json.dumps(pairs), "1" if upload else "0", str(workers)]
    return run_child(f"import sys\nsys.argv[1:] = {argv!r}\n" + HTTP_CLIENT_POOL)


def per_file(row: dict[str, Any], files: int, nbytes: int) -> dict[str, Any]:
    """CPU milliseconds per file (client, server) and MB/s per client core, added to a result row."""
    cpu = row.get("cpu_s") or row.get("tree_cpu_s") or 0.0
    row["client_cpu_ms_per_file"] = 1000 * cpu / files
    row["server_cpu_ms_per_file"] = 1000 * row.get("server_cpu_s", 0.0) / files
    row["mb_s_per_core"] = nbytes / 1e6 / cpu if cpu else 0.0
    return row
