"""Is the local W&B server fast enough that client benchmarks measure the client, not the server?

The server runs as its own process (``python -m wandb_provider.testing --data-dir <tmp>``), so the
clients below do not share its interpreter or GIL. Its data dir is prepared beforehand in this
process: one 256 MiB file and one version of 2,000 small (16 KiB) files, both random bytes. The
signed ``directUrl`` of every file comes from the SDK's ``GetArtifactMembershipFileUrls`` query.

Cases (median of N rounds after one warm-up round):
  (a) one 256 MiB file with ``curl -s -o /dev/null`` (MB/s = 10^6 bytes/s); raw limit: curl reading
      the same stored blob through ``file://`` (no server).
  (b) the 2,000 small files, each GET once, 8 parallel clients:
      8 curl processes (one keep-alive connection each), and 8 Python threads with a
      ``requests.Session`` each (files/s, wall clock).
  Also reported: the server's peak RSS (files are streamed from disk, never held whole).
Goals (issue "Local W&B-compatible artifacts server"): fast enough that benchmarks measure clients:
files streamed from disk, concurrent requests served concurrently. Judged by the two figures above.

Usage: python bench/server_throughput.py [--rounds N] [--quick] [--json out.json]
Never asserts; exits non-zero only when it could not run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import queue
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests

from wandb_provider.testing import DEFAULT_API_KEY, LocalWandbServer, ServerConfig

CLIENTS = 8
PROJECT = "bench"


def prepare(data_dir: Path, big_mib: int, small_count: int, small_kib: int) -> None:
    """Store the files directly (no server running yet)."""
    server = LocalWandbServer(ServerConfig(data_dir=str(data_dir)))
    try:
        server.seed_artifact("big", {"big.bin": os.urandom(big_mib << 20)}, project=PROJECT)
        small = {f"part-{i:05d}.bin": os.urandom(small_kib << 10) for i in range(small_count)}
        server.seed_artifact("small", small, project=PROJECT)
    finally:
        server.stop()


class ServerProcess:
    def __init__(self, data_dir: Path) -> None:
        command = [sys.executable, "-m", "wandb_provider.testing", "--data-dir", str(data_dir), "--port", "0"]
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: lines.put(self.proc.stdout.readline()), daemon=True).start()  # type: ignore[union-attr]
        line = lines.get(timeout=60).strip()
        if not line.startswith("WANDB_BASE_URL="):
            raise RuntimeError(f"the server did not start (first line {line!r})")
        self.base_url = line.split("=", 1)[1]

    def peak_rss_mib(self) -> float | None:
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return None

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def file_urls(base_url: str, collection: str) -> dict[str, str]:
    """Signed download URLs of every file of ``collection:v0``, through this project's client."""
    from wandb_provider.client import WandbClient

    with WandbClient(base_url, DEFAULT_API_KEY) as client:
        return {u.name: u.url for u in client.file_urls(f"demo/{PROJECT}/{collection}:v0")}


def curl_speed(url: str, expected: int) -> float:
    """MB/s of one curl download to /dev/null."""
    out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{size_download} %{time_total}", url],
                         capture_output=True, text=True, check=True).stdout.split()
    status, size, seconds = out[0], int(out[1]), float(out[2])
    if size != expected or status not in ("200", "000"):  # 000: file:// has no HTTP status
        raise RuntimeError(f"curl got status {status}, {size} of {expected} bytes from {url[:80]}")
    return size / seconds / 1e6


def curl_clients(urls: list[str], workdir: Path) -> float:
    """Files/s with CLIENTS curl processes, each fetching its share over one keep-alive connection."""
    procs = []
    for client in range(CLIENTS):
        config = workdir / f"client-{client}.curlrc"
        config.write_text("".join(f'url = "{u}"\noutput = "/dev/null"\n' for u in urls[client::CLIENTS]))
        procs.append(config)
    start = time.perf_counter()
    running = [subprocess.Popen(["curl", "-s", "-K", str(c), "-w", "%{http_code}\\n"], stdout=subprocess.PIPE,
                                text=True) for c in procs]
    codes = [code for proc in running for code in proc.communicate()[0].split()]
    elapsed = time.perf_counter() - start
    if len(codes) != len(urls) or set(codes) != {"200"}:
        raise RuntimeError(f"curl clients: {len(codes)} answers, statuses {sorted(set(codes))}")
    return len(urls) / elapsed


def requests_clients(urls: list[str], size: int) -> float:
    """Files/s with CLIENTS threads, each with its own requests.Session."""
    failures: list[str] = []

    def client(share: list[str]) -> None:
        with requests.Session() as session:
            for url in share:
                reply = session.get(url, timeout=60)
                if reply.status_code != 200 or len(reply.content) != size:
                    failures.append(f"{reply.status_code} {len(reply.content)}")

    threads = [threading.Thread(target=client, args=(urls[i::CLIENTS],)) for i in range(CLIENTS)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    if failures:
        raise RuntimeError(f"requests clients: {len(failures)} failed, e.g. {failures[0]}")
    return len(urls) / elapsed


def median_of(rounds: int, measure: Any) -> tuple[float, list[float]]:
    measure()  # warm-up (page cache, connection set-up, first-request costs)
    values = [measure() for _ in range(rounds)]
    return statistics.median(values), values


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="32 MiB and 400 small files")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    if shutil.which("curl") is None:
        print("curl is needed for this benchmark", file=sys.stderr)
        return 1
    big_mib, small_count, small_kib = (32, 400, 16) if args.quick else (256, 2000, 16)

    with tempfile.TemporaryDirectory(prefix="wandb-server-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        started = time.perf_counter()
        prepare(data_dir, big_mib, small_count, small_kib)
        prepared = time.perf_counter() - started
        server = ServerProcess(data_dir)
        try:
            big_url = file_urls(server.base_url, "big")["big.bin"]
            small_urls = list(file_urls(server.base_url, "small").values())
            blob = next(p for p in (data_dir / "blobs").rglob("*") if p.is_file() and p.stat().st_size == big_mib << 20)
            size = big_mib << 20
            big, big_runs = median_of(args.rounds, lambda: curl_speed(big_url, size))
            raw, raw_runs = median_of(args.rounds, lambda: curl_speed(blob.as_uri(), size))
            rss = server.peak_rss_mib()
            by_curl, curl_runs = median_of(args.rounds, lambda: curl_clients(small_urls, Path(tmp)))
            by_requests, requests_runs = median_of(args.rounds, lambda: requests_clients(small_urls, small_kib << 10))
        finally:
            server.stop()

    rows = [
        (f"(a) {big_mib} MiB file, curl (MB/s)", big, raw, big_runs),
        (f"(b) {small_count} x {small_kib} KiB GETs/s, {CLIENTS} curl processes", by_curl, None, curl_runs),
        (f"(b) {small_count} x {small_kib} KiB GETs/s, {CLIENTS} requests threads", by_requests, None, requests_runs),
    ]
    print(f"server throughput (median of {args.rounds} after 1 warm-up; data prepared in {prepared:.1f} s)")
    print(f"{'case':<48} {'server':>9} {'raw limit':>10}  rounds")
    for name, value, limit, runs in rows:
        shown = f"{limit:>10.0f}" if limit is not None else f"{'-':>10}"
        print(f"{name:<48} {value:>9.0f} {shown}  {', '.join(f'{v:.0f}' for v in runs)}")
    print(f"server peak RSS: {rss:.0f} MiB" if rss is not None else "server peak RSS: n/a")
    env = {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}
    print("environment: " + ", ".join(f"{k}={v}" for k, v in env.items()))
    if args.json:
        Path(args.json).write_text(json.dumps({
            "big_file_mb_s": big, "big_file_raw_mb_s": raw, "small_gets_per_s_curl": by_curl,
            "small_gets_per_s_requests": by_requests, "server_peak_rss_mib": rss,
            "rounds": {"big": big_runs, "raw": raw_runs, "curl": curl_runs, "requests": requests_runs},
            "sizes": {"big_mib": big_mib, "small_count": small_count, "small_kib": small_kib}, "environment": env,
        }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
