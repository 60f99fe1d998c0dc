"""How fast does our client download artifacts, next to the official SDK and the raw limit?

One local W&B server (its own process, data on disk) serves three cases, each client in a fresh
process:
  (a) 5,000 files x 16 KiB, cold caches;      goal: ours >= 3x faster than ``Artifact.download()``
  (b) 2 files x 256 MiB, cold caches;          goal: ours >= the SDK and >= 80% of the raw limit;
                                               our peak RSS <= 150 MiB
  (c) case (a) again into a new folder with our warm cache; goal: no file bytes over the network and
      <= 20% of (a)'s cold time
The raw limit is parallel plain GETs of the same signed URLs to disk: no hashing, no verification.
Wall times cover resolve + download (not interpreter start-up). The SDK's GraphQL goes through its
``wandb-core`` sidecar, whose memory is not in the SDK's RSS column.

Each client runs --repeat times per case (interleaved); the median wall time is reported.

The command lines are compared on the same cases: ``wandb-artifacts get`` (run as
``python -m wandb_provider.cli get``, what the console script runs) against the SDK's
``wandb artifact get``, each a fresh process timed from start to exit (interpreter start-up, and
for the SDK its ``wandb-core`` sidecar, included); case (c) for ours only.

Usage: python bench/download.py [--quick] [--repeat 3] [--workers N] [--cli-only | --no-cli] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from _harness import API_KEY, environment, reset_stats, run_child, server_process, stats

ENTITY, PROJECT = "demo", "bench"

OURS = """
from wandb_provider.client import WandbClient
base_url, key, path, root, cache, workers = sys.argv[1:7]
client = WandbClient(base_url, key, cache_dir=cache, **({"max_workers": int(workers)} if int(workers) else {}))
t = time.perf_counter()
result = client.download(path, root)
report(time.perf_counter() - t, bytes_downloaded=result.bytes_downloaded, bytes_from_cache=result.bytes_from_cache)
"""

SDK = """
import os, wandb
base_url, key, path, root = sys.argv[1:5]
api = wandb.Api(api_key=key, overrides={"base_url": base_url})
t = time.perf_counter()
artifact = api.artifact(path)
artifact.download(root=root)
report(time.perf_counter() - t)
"""

RAW = """
import requests
from concurrent.futures import ThreadPoolExecutor
from wandb_provider.client import WandbClient
base_url, key, path, root, workers = sys.argv[1:6]
client = WandbClient(base_url, key)
urls = client.file_urls(client.artifact(path))
import os, threading
local = threading.local()
def get(item):
    session = getattr(local, "session", None) or requests.Session()
    local.session = session
    target = os.path.join(root, item.name)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with session.get(item.url, stream=True) as r, open(target, "wb") as out:
        for chunk in r.iter_content(1 << 20):
            out.write(chunk)
t = time.perf_counter()
with ThreadPoolExecutor(int(workers) or client.config.max_workers) as pool:
    list(pool.map(get, urls))
report(time.perf_counter() - t)
"""


def seed(data_dir: Path, small: int, big_mib: int) -> None:
    from wandb_provider.testing.config import DEFAULT_USER
    from wandb_provider.testing.store import SeedFile, Store

    data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(str(data_dir / "wandb.sqlite3"), data_dir / "blobs")
    user = store.add_user(DEFAULT_USER, API_KEY)
    block = os.urandom(1 << 20)
    small_files = [SeedFile(f"shard-{i // 500:02d}/item-{i:05d}.bin", os.urandom(16 * 1024)) for i in range(small)]
    store.seed_artifact(user, ENTITY, PROJECT, "small-files", "dataset", small_files)
    big_files = [SeedFile(f"big-{n}.bin", bytes([n]) + block * big_mib) for n in range(2)]
    store.seed_artifact(user, ENTITY, PROJECT, "big-files", "model", big_files)
    store.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="500 small files and 2 x 32 MiB")
    parser.add_argument("--workers", type=int, default=0, help="0: the client's default (2 per CPU)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per client and case (median reported)")
    parser.add_argument("--json")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--cli-only", action="store_true", help="only the command lines")
    which.add_argument("--no-cli", action="store_true", help="only the libraries")
    args = parser.parse_args()
    small, big_mib = (500, 32) if args.quick else (5000, 256)
    work = Path(tempfile.mkdtemp(prefix="bench-download-"))
    results: dict[str, Any] = {"environment": environment(), "small_files": small, "big_mib": big_mib}
    try:
        seed(work / "data", small, big_mib)
        with server_process(work / "data") as base_url:
            small_path, big_path = f"{ENTITY}/{PROJECT}/small-files:v0", f"{ENTITY}/{PROJECT}/big-files:v0"
            w = str(args.workers)

            def ours(path: str, name: str, cache: str) -> dict[str, Any]:
                root = work / name
                reset_stats(base_url)
                out = run_child_args(OURS, [base_url, API_KEY, path,
                                                     str(root), cache, w])
                out["files_requests"] = stats(base_url)["files"]
                shutil.rmtree(root, ignore_errors=True)
                return out

            def sdk(path: str, name: str) -> dict[str, Any]:
                root = work / name
                env = {"WANDB_CACHE_DIR": str(work / f"sdk-cache-{name}"), "WANDB_DATA_DIR": str(work / "sdk-data"),
                       "WANDB_SILENT": "true", "WANDB_CONFIG_DIR": str(work / "sdk-config")}
                out = run_child_args(SDK, [base_url, API_KEY, path, str(root)], env)
                shutil.rmtree(root, ignore_errors=True)
                shutil.rmtree(work / f"sdk-cache-{name}", ignore_errors=True)
                return out

            def raw(path: str, name: str) -> dict[str, Any]:
                root = work / name
                out = run_child_args(RAW, [base_url, API_KEY, path, str(root), w])
                shutil.rmtree(root, ignore_errors=True)
                return out

            # An untimed raw pass first: the first process to write N MiB on a fresh VM pays for
            # faulting in guest memory, which would otherwise penalise whichever client runs first.
            raw(small_path, "a-warmup")
            raw(big_path, "b-warmup")
            if not args.cli_only:
                runs: dict[str, dict[str, list[dict[str, Any]]]] = {
                    "a_small_cold": {"raw": [], "ours": [], "sdk": []}, "c_small_warm": {"ours": []},
                    "b_big_cold": {"raw": [], "ours": [], "sdk": []},
                }
                for i in range(args.repeat):  # interleaved, so drifts in machine speed hit every client alike
                    cache = str(work / f"our-cache-{i}")
                    runs["a_small_cold"]["raw"].append(raw(small_path, "a-raw"))
                    runs["a_small_cold"]["ours"].append(ours(small_path, "a-ours", cache))
                    runs["a_small_cold"]["sdk"].append(sdk(small_path, "a-sdk"))
                    runs["c_small_warm"]["ours"].append(ours(small_path, "c-ours", cache))
                    shutil.rmtree(cache, ignore_errors=True)
                    runs["b_big_cold"]["raw"].append(raw(big_path, "b-raw"))
                    runs["b_big_cold"]["ours"].append(ours(big_path, "b-ours", str(work / f"our-cache-b-{i}")))
                    runs["b_big_cold"]["sdk"].append(sdk(big_path, "b-sdk"))
                    shutil.rmtree(work / f"our-cache-b-{i}", ignore_errors=True)
                for case, clients in runs.items():
                    results[case] = {client: median_run(samples) for client, samples in clients.items()}
            if not args.no_cli:
                results["cli"] = compare_command_lines(base_url, work, small_path, big_path, args.repeat,
                                                       args.workers)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print_table(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


def compare_command_lines(base_url: str, work: Path, small_path: str, big_path: str, repeat: int,
                          workers: int) -> dict[str, dict[str, Any]]:
    """``wandb-artifacts get`` against ``wandb artifact get`` on cases (a) and (b), and ours warm (c)."""
    wandb_cli = shutil.which("wandb", path=str(Path(sys.executable).parent)) or shutil.which("wandb")
    if wandb_cli is None:
        raise RuntimeError("the SDK's 'wandb' command is not installed next to this Python")
    env = {"WANDB_BASE_URL": base_url, "WANDB_API_KEY": API_KEY, "WANDB_SILENT": "true",
           "WANDB_CONFIG_DIR": str(work / "sdk-config"), "WANDB_DATA_DIR": str(work / "sdk-data")}
    extra = ["--workers", str(workers)] if workers else []

    def ours(path: str, name: str, cache: str) -> dict[str, Any]:
        root = work / name
        out = timed_command([sys.executable, "-m", "wandb_provider.cli", "get", path, "--root", str(root), "-q",
                             *extra], {**env, "WANDB_PROVIDER_CACHE_DIR": cache})
        shutil.rmtree(root, ignore_errors=True)
        return out

    def sdk(path: str, name: str) -> dict[str, Any]:
        root, cache = work / name, work / f"sdk-cli-cache-{name}"
        out = timed_command([wandb_cli, "artifact", "get", path, "--root", str(root)],
                            {**env, "WANDB_CACHE_DIR": str(cache)})
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(cache, ignore_errors=True)
        return out

    runs: dict[str, dict[str, list[dict[str, Any]]]] = {
        "a_small_cold": {"ours": [], "sdk": []}, "c_small_warm": {"ours": []}, "b_big_cold": {"ours": [], "sdk": []},
    }
    for i in range(repeat):
        cache = str(work / f"cli-cache-{i}")
        runs["a_small_cold"]["ours"].append(ours(small_path, "cli-a-ours", cache))
        runs["a_small_cold"]["sdk"].append(sdk(small_path, "cli-a-sdk"))
        runs["c_small_warm"]["ours"].append(ours(small_path, "cli-c-ours", cache))
        shutil.rmtree(cache, ignore_errors=True)
        runs["b_big_cold"]["ours"].append(ours(big_path, "cli-b-ours", str(work / f"cli-cache-b-{i}")))
        runs["b_big_cold"]["sdk"].append(sdk(big_path, "cli-b-sdk"))
        shutil.rmtree(work / f"cli-cache-b-{i}", ignore_errors=True)
    return {case: {client: median_run(samples) for client, samples in clients.items()}
            for case, clients in runs.items()}


def timed_command(argv: list[str], env: dict[str, str], timeout: float = 1800) -> dict[str, Any]:
    """Run a command to its end and return its wall time from start to exit. (No peak RSS: a child
    forked from this large process would report this process's peak; the library table has it.)"""
    began = time.perf_counter()
    done = subprocess.run(argv, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          timeout=timeout)
    seconds = time.perf_counter() - began
    if done.returncode != 0:
        raise RuntimeError(f"{argv[0]} {argv[1]} failed (exit {done.returncode}):\n{done.stderr[-3000:].decode()}")
    return {"seconds": seconds, "peak_rss_mib": 0.0}


def median_run(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median wall time, plus the peak RSS over all runs and every wall time."""
    ordered = sorted(samples, key=lambda r: r["seconds"])
    chosen = dict(ordered[len(ordered) // 2])
    chosen["peak_rss_mib"] = max(r["peak_rss_mib"] for r in samples)
    chosen["all_seconds"] = [round(r["seconds"], 2) for r in samples]
    return chosen


def run_child_args(code: str, argv: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    return run_child(f"import sys\nsys.argv[1:] = {argv!r}\n" + code, env)


def print_table(results: dict[str, Any]) -> None:
    print(f"environment: {results['environment']}")
    print_library_table(results)
    cli = results.get("cli")
    if cli:
        print("command lines (wall time from start to exit, interpreter start-up included):")
        for case in ("a_small_cold", "b_big_cold", "c_small_warm"):
            for client, row in cli[case].items():
                name = "wandb-artifacts get" if client == "ours" else "wandb artifact get"
                print(f"  {case:26} {name:20} {row['seconds']:8.2f} s  runs={row['all_seconds']}")
        a, b, c = cli["a_small_cold"], cli["b_big_cold"], cli["c_small_warm"]
        print(f"  (a) wandb artifact get / wandb-artifacts get = {a['sdk']['seconds'] / a['ours']['seconds']:.2f}x; "
              f"(b) = {b['sdk']['seconds'] / b['ours']['seconds']:.2f}x; "
              f"(c) warm / cold = {c['ours']['seconds'] / a['ours']['seconds']:.0%}")


def print_library_table(results: dict[str, Any]) -> None:
    if "a_small_cold" not in results:
        return
    print(f"{'case':28} {'client':6} {'wall s':>8} {'peak RSS MiB':>13} {'notes'}")
    for case in ("a_small_cold", "b_big_cold", "c_small_warm"):
        for client, row in results.get(case, {}).items():
            notes = ""
            if client == "ours":
                notes = f"bytes_downloaded={row.get('bytes_downloaded')} from_cache={row.get('bytes_from_cache')} " \
                        f"file_requests={row.get('files_requests')}"
            print(f"{case:28} {client:6} {row['seconds']:8.2f} {row['peak_rss_mib']:13.1f} {notes} "
                  f"runs={row.get('all_seconds')}")
    a, b, c = results.get("a_small_cold", {}), results.get("b_big_cold", {}), results.get("c_small_warm", {})
    if a and b and c:
        print(f"(a) SDK / ours = {a['sdk']['seconds'] / a['ours']['seconds']:.2f}x (goal >= 3)")
        print(f"(b) SDK / ours = {b['sdk']['seconds'] / b['ours']['seconds']:.2f}x (goal >= 1); "
              f"ours / raw speed = {b['raw']['seconds'] / b['ours']['seconds']:.0%} (goal >= 80%); "
              f"our peak RSS {b['ours']['peak_rss_mib']:.0f} MiB (goal <= 150)")
        print(f"(c) warm / cold = {c['ours']['seconds'] / a['ours']['seconds']:.0%} (goal <= 20%); "
              f"file requests {c['ours']['files_requests']} (the manifest only = 1)")


if __name__ == "__main__":
    sys.exit(main())
