"""How fast does our client download artifacts, next to the official SDK and the raw ceiling?

One local W&B server (its own process, data on disk) serves three cases, each client in a fresh
process:
  (a) 5,000 files x 16 KiB, cold caches;      goal: ours >= 3.5x the SDK and >= 85% of the ceiling
  (b) 2 files x 256 MiB, cold caches;          goal: ours >= 1.5x the SDK and >= 85% of the ceiling;
                                               our peak RSS <= 150 MiB
  (c) case (a) again into a new folder with our warm cache; goal: no file bytes over the network and
      <= 10% of (a)'s cold time
The ceiling is a raw parallel client over the same signed URLs, with as many transfers in flight as
ours: ``curl --parallel`` (Debian's curl; a bare ``http.client`` thread pool where curl is missing),
no hashing, no verification, no bookkeeping. Its URLs are listed before it is timed. Wall times
cover resolve + download (not interpreter start-up).

CPU is reported per file, the client's and the server's apart (the server runs in its own process;
its CPU is read from ``/proc/<pid>/stat`` around each run): ours and the ceiling count the measured
block of their own process; the SDK counts its whole process tree (its ``wandb-core`` sidecar and
start-up included, marked ``*``). MB/s per core is the bytes moved over the client's CPU seconds.

Each client runs --repeat times per case (interleaved); the median wall time is reported, and
ratios are the median of each round's ratio (a round runs every client back to back).

The command lines are compared on the same cases: ``wandb-artifacts get`` (run as
``python -m wandb_provider.cli get``, what the console script runs) against the library (the same
call in a fresh process, timed from start to exit the same way) and the SDK's ``wandb artifact get``.

Usage: python bench/download.py [--quick] [--small-files N] [--big-mib M] [--big-files K] [--repeat 3]
                                [--workers N] [--cases abc] [--cli-only | --no-cli] [--json out.json]
(the hidden benchmark's sizes: --small-files 2000 --big-mib 128 --big-files 1)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from _harness import (
    API_KEY,
    ceiling,
    environment,
    per_file,
    reset_stats,
    run_child,
    server_cpu_seconds,
    server_process,
    stats,
    wall_seconds,
)

ENTITY, PROJECT = "demo", "bench"

OURS = """
from wandb_provider.client import WandbClient
base_url, key, path, root, cache, workers = sys.argv[1:7]
client = WandbClient(base_url, key, cache_dir=cache, **({"max_workers": int(workers)} if int(workers) else {}))
t, c = time.perf_counter(), time.process_time()
result = client.download(path, root)
report(time.perf_counter() - t, cpu_s=time.process_time() - c, bytes_downloaded=result.bytes_downloaded,
       bytes_from_cache=result.bytes_from_cache)
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


def seed(data_dir: Path, small: int, big_mib: int, big_files: int = 2) -> None:
    from wandb_provider.testing.config import DEFAULT_USER
    from wandb_provider.testing.store import SeedFile, Store

    data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(str(data_dir / "wandb.sqlite3"), data_dir / "blobs")
    user = store.accounts.add_user(DEFAULT_USER, API_KEY)
    block = os.urandom(1 << 20)
    small_files = [SeedFile(f"shard-{i // 500:02d}/item-{i:05d}.bin", os.urandom(16 * 1024)) for i in range(small)]
    store.seeder.seed_artifact(user, ENTITY, PROJECT, "small-files", "dataset", small_files)
    bigs = [SeedFile(f"big-{n}.bin", bytes([n]) + block * big_mib) for n in range(big_files)]
    store.seeder.seed_artifact(user, ENTITY, PROJECT, "big-files", "model", bigs)
    store.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="500 small files and 2 x 32 MiB")
    parser.add_argument("--small-files", type=int, help="override the number of small files")
    parser.add_argument("--big-mib", type=int, help="override the size of each big file (MiB)")
    parser.add_argument("--big-files", type=int, default=2, help="how many big files (b) has")
    parser.add_argument("--cases", default="abc", help="which library cases to run (a, b, c; c needs a)")
    parser.add_argument("--workers", type=int, default=0, help="0: the client's default (2 per CPU)")
    parser.add_argument("--python-ceiling", action="store_true",
                        help="also a bare http.client thread pool (the limit of any CPython client) in case (a)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per client and case (median reported)")
    parser.add_argument("--json")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--cli-only", action="store_true", help="only the command lines")
    which.add_argument("--no-cli", action="store_true", help="only the libraries")
    args = parser.parse_args()
    small, big_mib = (500, 32) if args.quick else (5000, 256)
    small, big_mib = args.small_files or small, args.big_mib or big_mib
    work = Path(tempfile.mkdtemp(prefix="bench-download-"))
    results: dict[str, Any] = {"environment": environment(), "small_files": small, "big_mib": big_mib,
                               "big_files": args.big_files}
    try:
        seed(work / "data", small, big_mib, args.big_files)
        with server_process(work / "data") as base_url:
            small_path, big_path = f"{ENTITY}/{PROJECT}/small-files:v0", f"{ENTITY}/{PROJECT}/big-files:v0"
            w = str(args.workers)
            from wandb_provider.client import WandbClient

            lister = WandbClient(base_url, API_KEY)
            workers = args.workers or lister.config.max_workers
            results["workers"] = workers
            big_bytes = args.big_files * ((big_mib << 20) + 1)
            sizes = {small_path: (small, small * 16 * 1024), big_path: (args.big_files, big_bytes)}

            def serving(path: str, run: Any) -> dict[str, Any]:
                before = server_cpu_seconds(base_url)
                out: dict[str, Any] = run()
                out["server_cpu_s"] = server_cpu_seconds(base_url) - before
                return per_file(out, *sizes[path])

            def ours(path: str, name: str, cache: str) -> dict[str, Any]:
                root = work / name
                reset_stats(base_url)
                out = serving(path, lambda: run_child_args(OURS, [base_url, API_KEY, path, str(root), cache, w]))
                out["files_requests"] = stats(base_url)["files"]
                shutil.rmtree(root, ignore_errors=True)
                return out

            def sdk(path: str, name: str) -> dict[str, Any]:
                root = work / name
                env = {"WANDB_CACHE_DIR": str(work / f"sdk-cache-{name}"), "WANDB_DATA_DIR": str(work / "sdk-data"),
                       "WANDB_SILENT": "true", "WANDB_CONFIG_DIR": str(work / "sdk-config")}
                out = serving(path, lambda: run_child_args(SDK, [base_url, API_KEY, path, str(root)], env))
                out["cpu_s"] = out["tree_cpu_s"]  # its sidecar's CPU is part of its cost
                shutil.rmtree(root, ignore_errors=True)
                shutil.rmtree(work / f"sdk-cache-{name}", ignore_errors=True)
                return out

            def raw(path: str, name: str, tool: str = "curl") -> dict[str, Any]:
                root = work / name
                pairs = [(u.url, str(root / u.name)) for u in lister.file_urls(lister.artifact(path))]
                out = serving(path, lambda: ceiling(pairs, upload=False, workers=workers, work=work, tool=tool))
                shutil.rmtree(root, ignore_errors=True)
                return out

            # An untimed raw pass first: the first process to write N MiB on a fresh VM pays for
            # faulting in guest memory, which would otherwise penalise whichever client runs first.
            if "a" in args.cases or args.cli_only:
                raw(small_path, "a-warmup")
            if "b" in args.cases or args.cli_only:
                raw(big_path, "b-warmup")
            if not args.cli_only:
                runs: dict[str, dict[str, list[dict[str, Any]]]] = {
                    "a_small_cold": {"ceiling": [], "ours": [], "sdk": [], **({"py-pool": []} if args.python_ceiling
                                                                                else {})},
                    "c_small_warm": {"ours": []},
                    "b_big_cold": {"ceiling": [], "ours": [], "sdk": []},
                }
                for i in range(args.repeat):  # interleaved, so drifts in machine speed hit every client alike
                    cache = str(work / f"our-cache-{i}")
                    if "a" in args.cases:
                        runs["a_small_cold"]["ceiling"].append(raw(small_path, "a-raw"))
                        runs["a_small_cold"]["ours"].append(ours(small_path, "a-ours", cache))
                        runs["a_small_cold"]["sdk"].append(sdk(small_path, "a-sdk"))
                        if args.python_ceiling:
                            runs["a_small_cold"]["py-pool"].append(raw(small_path, "a-py", "http.client"))
                        if "c" in args.cases:
                            runs["c_small_warm"]["ours"].append(ours(small_path, "c-ours", cache))
                        shutil.rmtree(cache, ignore_errors=True)
                    if "b" in args.cases:
                        runs["b_big_cold"]["ceiling"].append(raw(big_path, "b-raw"))
                        runs["b_big_cold"]["ours"].append(ours(big_path, "b-ours", str(work / f"our-cache-b-{i}")))
                        runs["b_big_cold"]["sdk"].append(sdk(big_path, "b-sdk"))
                        shutil.rmtree(work / f"our-cache-b-{i}", ignore_errors=True)
                for case, clients in runs.items():
                    if all(clients.values()):
                        results[case] = {client: median_run(samples) for client, samples in clients.items()}
                        results[case]["ratios"] = round_ratios(clients)
                if runs["c_small_warm"]["ours"]:
                    results["c_small_warm"]["ratios"] = {"warm_over_cold": statistics.median(
                        c["seconds"] / a["seconds"]
                        for c, a in zip(runs["c_small_warm"]["ours"], runs["a_small_cold"]["ours"], strict=True))}
            if not args.no_cli:
                results["cli"] = compare_command_lines(base_url, work, small_path, big_path, args.repeat,
                                                       args.workers)
            lister.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print_table(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


def round_ratios(clients: dict[str, list[dict[str, Any]]]) -> dict[str, float]:
    """Median over rounds of SDK / ours and ceiling / ours (wall times; ours as a fraction of the ceiling)."""
    ratios: dict[str, float] = {}
    for other in ("sdk", "ceiling", "py-pool"):
        if clients.get(other) and clients.get("ours"):
            ratios[f"{other}_over_ours"] = statistics.median(
                o["seconds"] / u["seconds"] for o, u in zip(clients[other], clients["ours"], strict=True))
    return ratios


def compare_command_lines(base_url: str, work: Path, small_path: str, big_path: str, repeat: int,
                          workers: int) -> dict[str, dict[str, Any]]:
    """``wandb-artifacts get`` against ``wandb artifact get`` on cases (a) and (b), and ours warm (c)."""
    wandb_cli = shutil.which("wandb", path=str(Path(sys.executable).parent)) or shutil.which("wandb")
    if wandb_cli is None:
        raise RuntimeError("the SDK's 'wandb' command is not installed next to this Python")
    env = {"WANDB_BASE_URL": base_url, "WANDB_API_KEY": API_KEY, "WANDB_SILENT": "true",
           "WANDB_CONFIG_DIR": str(work / "sdk-config"), "WANDB_DATA_DIR": str(work / "sdk-data")}
    extra = ["--workers", str(workers)] if workers else []
    # Each command's cache comes from WANDB_PROVIDER_CACHE_DIR, the library's default as well.

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

    def library(path: str, name: str, cache: str) -> dict[str, Any]:
        root = work / name
        out = timed_command([sys.executable, "-c", LIBRARY_COMMAND, path, str(root), str(workers)],
                            {**env, "WANDB_PROVIDER_CACHE_DIR": cache})
        shutil.rmtree(root, ignore_errors=True)
        return out

    runs: dict[str, dict[str, list[dict[str, Any]]]] = {
        "a_small_cold": {"ours": [], "library": [], "sdk": []}, "c_small_warm": {"ours": [], "library": []},
        "b_big_cold": {"ours": [], "library": [], "sdk": []},
    }
    for i in range(repeat):
        for client, fetch in (("ours", ours), ("library", library)):
            cache = str(work / f"cli-cache-{i}")
            runs["a_small_cold"][client].append(fetch(small_path, f"cli-a-{client}", cache))
            runs["c_small_warm"][client].append(fetch(small_path, f"cli-c-{client}", cache))
            shutil.rmtree(cache, ignore_errors=True)
        runs["a_small_cold"]["sdk"].append(sdk(small_path, "cli-a-sdk"))
        for client, fetch in (("ours", ours), ("library", library)):
            runs["b_big_cold"][client].append(fetch(big_path, f"cli-b-{client}", str(work / f"cli-cache-b-{i}")))
            shutil.rmtree(work / f"cli-cache-b-{i}", ignore_errors=True)
        runs["b_big_cold"]["sdk"].append(sdk(big_path, "cli-b-sdk"))
    out: dict[str, dict[str, Any]] = {}
    for case, clients in runs.items():
        out[case] = {client: median_run(samples) for client, samples in clients.items()}
        out[case]["ratios"] = {"cli_over_library": statistics.median(
            c["seconds"] / lib["seconds"] for c, lib in zip(clients["ours"], clients["library"], strict=True))}
    return out


LIBRARY_COMMAND = """
import os, sys
from wandb_provider.client import WandbClient
path, root, workers = sys.argv[1:4]
client = WandbClient(os.environ["WANDB_BASE_URL"], os.environ["WANDB_API_KEY"],
                     **({"max_workers": int(workers)} if int(workers) else {}))
client.download(path, root)
"""


def timed_command(argv: list[str], env: dict[str, str]) -> dict[str, Any]:
    """A command's wall time from start to exit. (No peak RSS: a child forked from this large process
    would report this process's peak; the library table has it.)"""
    return {"seconds": wall_seconds(argv, env), "peak_rss_mib": 0.0}


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
    print(f"files: (a)/(c) {results['small_files']} x 16 KiB, (b) {results.get('big_files', 2)} x "
          f"{results['big_mib']} MiB; "
          f"{results.get('workers')} transfers in flight")
    print_library_table(results)
    cli = results.get("cli")
    if cli:
        print("command lines (wall time from start to exit, interpreter start-up included; library = the same "
              "download as a python -c process):")
        names = {"ours": "wandb-artifacts get", "library": "python -c download()", "sdk": "wandb artifact get"}
        for case in ("a_small_cold", "b_big_cold", "c_small_warm"):
            for client, row in cli[case].items():
                if client != "ratios":
                    print(f"  {case:14} {names[client]:22} {row['seconds']:8.2f} s  runs={row['all_seconds']}")
            print(f"  {case:14} wandb-artifacts get / library = {cli[case]['ratios']['cli_over_library']:.2f} "
                  "(goal <= 1.05)")
        a, b = cli["a_small_cold"], cli["b_big_cold"]
        print(f"  wandb artifact get / wandb-artifacts get: (a) {a['sdk']['seconds'] / a['ours']['seconds']:.2f}x; "
              f"(b) {b['sdk']['seconds'] / b['ours']['seconds']:.2f}x")


def print_library_table(results: dict[str, Any]) -> None:
    cases = [case for case in ("a_small_cold", "b_big_cold", "c_small_warm") if case in results]
    if not cases:
        return
    print(f"{'case':14} {'client':8} {'wall s':>7} {'CPU s':>7} {'server CPU s':>12} {'CPU ms/file':>11} "
          f"{'server ms/file':>14} {'MB/s/core':>9} {'RSS MiB':>8}  notes")
    for case in cases:
        for client, row in results[case].items():
            if client == "ratios":
                continue
            notes = f"runs={row.get('all_seconds')}"
            if client == "ours":
                notes += f" downloaded={row.get('bytes_downloaded')} from_cache={row.get('bytes_from_cache')} " \
                         f"file_requests={row.get('files_requests')}"
            star = "*" if client == "sdk" else " "
            print(f"{case:14} {client:8} {row['seconds']:7.2f} {row['cpu_s']:6.2f}{star} {row['server_cpu_s']:12.2f} "
                  f"{row['client_cpu_ms_per_file']:11.2f} {row['server_cpu_ms_per_file']:14.2f} "
                  f"{row['mb_s_per_core']:9.0f} {row['peak_rss_mib']:8.1f}  {notes}")
    print("* the SDK's whole process tree (wandb-core and start-up included); ours and the ceiling: the measured "
          "block. Ratios: median over interleaved rounds.")
    a, b, c = results.get("a_small_cold"), results.get("b_big_cold"), results.get("c_small_warm")
    if a:
        r = a["ratios"]
        print(f"(a) SDK / ours = {r['sdk_over_ours']:.2f}x (goal >= 3.5); ours = {r['ceiling_over_ours']:.0%} of "
              "the ceiling (goal >= 85%)" + (f"; ours = {r['py-pool_over_ours']:.0%} of a bare http.client pool"
                                             if "py-pool_over_ours" in r else ""))
    if b:
        r = b["ratios"]
        print(f"(b) SDK / ours = {r['sdk_over_ours']:.2f}x (goal >= 1.5); ours = {r['ceiling_over_ours']:.0%} of "
              f"the ceiling (goal >= 85%); our peak RSS {b['ours']['peak_rss_mib']:.0f} MiB (goal <= 150)")
    if c:
        print(f"(c) warm / cold = {c['ratios']['warm_over_cold']:.0%} (goal <= 10%); file requests "
              f"{c['ours']['files_requests']} (the manifest only = 1), bytes downloaded "
              f"{c['ours']['bytes_downloaded']} (goal 0)")


if __name__ == "__main__":
    sys.exit(main())
