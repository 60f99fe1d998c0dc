"""How fast does our client log artifacts, next to the official SDK's ``wandb.init`` + ``run.log_artifact``
and a raw ceiling?

One local W&B server (its own process, data on disk) receives, each client in a fresh process:
  (a) 5,000 files x 16 KiB, new content;      goal: ours >= 2.5x the SDK and >= 80% of the ceiling
  (b) 2 files x 256 MiB, new content;          goal: ours >= 1.5x the SDK; our peak RSS (VmHWM) <= 150 MiB
  (c) case (a) again, unchanged (ours);        goal: <= 10% of (a)'s time and 0 file bytes uploaded
Every measured run of (a) and (b) logs content the server has never seen (a unique header per file),
so no client profits from the other's uploads. Wall times cover hashing, the upload sequence and the
commit (for the SDK: ``wandb.init`` to ``run.finish()``, its run bookkeeping included, since that is
what logging an artifact costs with it; the ratio counting only its ``add_dir`` and
``log_artifact().wait()`` is printed beside), not interpreter start-up. Uploaded file bytes are counted by
the server (``/_admin/stats``). The SDK's uploads run in its ``wandb-core`` sidecar, whose memory is
not in the SDK's RSS column.

The ceiling PUTs the same kind of new files to signed upload URLs of the same server with a raw
parallel client, as many in flight as ours: ``curl --parallel`` (a bare ``http.client`` thread pool
where curl is missing), no hashing, no Content-MD5, no GraphQL, no commit. Its URLs come from our
client's own upload sequence, stopped before its PUTs and not timed.

CPU is reported per file, the client's and the server's apart (the server's from ``/proc/<pid>/stat``
around each run): ours and the ceiling count the measured block of their own process; the SDK its
whole process tree (``wandb-core`` and start-up included, marked ``*``). MB/s per core is the bytes
uploaded over the client's CPU seconds.

Each client runs --repeat times per case (interleaved); the median wall time is reported, and ratios
are the median of each round's ratio. Unless --no-cli, ``wandb-artifacts log`` (as
``python -m wandb_provider.cli log``) is timed against the same ``log_artifact`` call run as a
``python -c`` process, both from start to exit, on cases (a) and (b).

Usage: python bench/upload.py [--quick] [--small-files N] [--big-mib M] [--big-files K] [--repeat 3]
                              [--workers N] [--only-small | --only-big] [--no-cli] [--json out.json]
(the hidden benchmark's sizes: --small-files 1000 --big-mib 128 --big-files 1)
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

ENTITY, PROJECT = "demo", "bench-upload"

OURS = """
from wandb_provider.client import WandbClient
base_url, key, root, name, workers = sys.argv[1:6]
client = WandbClient(base_url, key, entity="demo", project="bench-upload",
                     **({"max_workers": int(workers)} if int(workers) else {}))
t, c = time.perf_counter(), time.process_time()
version = client.log_artifact(name, "dataset", root)
report(time.perf_counter() - t, cpu_s=time.process_time() - c, version=version.version)
"""

# Signed upload URLs for the ceiling: our upload sequence up to its PUTs, which are recorded instead.
UPLOAD_URLS = """
from wandb_provider.client import WandbClient
from wandb_provider.client import _upload
base_url, key, root, name = sys.argv[1:5]
pairs = []
class Stop(Exception):
    pass
def record(self, artifact_id, hashed, node, progress):
    pairs.append((node["uploadUrl"], str(hashed.path)))
    return hashed.size
def stop(self, *args):
    raise Stop()
_upload.Uploader._put = record
_upload.Uploader._commit = stop
client = WandbClient(base_url, key, entity="demo", project="bench-upload")
try:
    client.log_artifact(name, "dataset", root, multipart_threshold=1 << 40)
except Stop:
    pass
report(0.0, pairs=pairs)
"""

LIBRARY_COMMAND = """
import os, sys
from wandb_provider.client import WandbClient
name, root, workers = sys.argv[1:4]
client = WandbClient(os.environ["WANDB_BASE_URL"], os.environ["WANDB_API_KEY"], entity="demo",
                     project="bench-upload", **({"max_workers": int(workers)} if int(workers) else {}))
client.log_artifact(name, "dataset", root)
"""

SDK = """
import wandb
base_url, key, root, name = sys.argv[1:5]
settings = wandb.Settings(base_url=base_url, api_key=key, x_disable_stats=True, x_disable_machine_info=True)
t = time.perf_counter()
run = wandb.init(entity="demo", project="bench-upload", settings=settings)
started = time.perf_counter()
artifact = wandb.Artifact(name, type="dataset")
artifact.add_dir(root)
run.log_artifact(artifact).wait()
logged = time.perf_counter() - started
run.finish()
report(time.perf_counter() - t, log_only_s=logged)
"""


def make_files(root: Path, count: int, size: int, tag: str) -> None:
    """``count`` files of ``size`` bytes, each unique (its own header) and cheap to write."""
    block = os.urandom(min(size, 1 << 20))
    for i in range(count):
        path = root / (f"shard-{i // 500:02d}/item-{i:05d}.bin" if count > 10 else f"big-{i}.bin")
        path.parent.mkdir(parents=True, exist_ok=True)
        header = f"{tag}:{i}:".encode().ljust(64, b".")
        with open(path, "wb") as out:
            out.write(header)
            left = size - len(header)
            while left > 0:
                out.write(block[:left])
                left -= min(left, len(block))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="500 small files and 2 x 32 MiB")
    parser.add_argument("--workers", type=int, default=0, help="0: the client's default (2 per CPU)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per client and case (median reported)")
    parser.add_argument("--only-small", action="store_true", help="run cases (a) and (c) only (for iterating)")
    parser.add_argument("--only-big", action="store_true", help="run case (b) only (for iterating)")
    parser.add_argument("--small-files", type=int, help="override the number of small files")
    parser.add_argument("--big-mib", type=int, help="override the size of each big file (MiB)")
    parser.add_argument("--big-files", type=int, default=2, help="how many big files (b) has")
    parser.add_argument("--no-cli", action="store_true", help="skip the command line against the library")
    parser.add_argument("--json")
    args = parser.parse_args()
    small, big_mib = (500, 32) if args.quick else (5000, 256)
    small, big_mib = args.small_files or small, args.big_mib or big_mib
    work = Path(tempfile.mkdtemp(prefix="bench-upload-"))
    results: dict[str, Any] = {"environment": environment(), "small_files": small, "big_mib": big_mib,
                               "big_files": args.big_files}
    sdk_env = {"WANDB_DIR": str(work / "sdk-dir"), "WANDB_CACHE_DIR": str(work / "sdk-cache"),
               "WANDB_DATA_DIR": str(work / "sdk-data"), "WANDB_ARTIFACT_DIR": str(work / "sdk-artifacts"),
               "WANDB_CONFIG_DIR": str(work / "sdk-config"), "WANDB_SILENT": "true", "WANDB_CONSOLE": "off",
               "WANDB_DISABLE_GIT": "true", "WANDB_DISABLE_CODE": "true", "WANDB_MODE": "online"}
    try:
        (work / "data").mkdir()
        with server_process(work / "data") as base_url:
            w = str(args.workers)
            from wandb_provider.client import ClientConfig

            workers = args.workers or ClientConfig(base_url=base_url, api_key=API_KEY).max_workers
            results["workers"] = workers

            def measured(client: str, root: Path, name: str) -> dict[str, Any]:
                reset_stats(base_url)
                if client == "ceiling":
                    pairs = run_child_args(UPLOAD_URLS, [base_url, API_KEY, str(root), name])["pairs"]
                    reset_stats(base_url)
                server_before = server_cpu_seconds(base_url)
                if client == "ours":
                    out = run_child_args(OURS, [base_url, API_KEY, str(root), name, w])
                elif client == "ceiling":
                    out = ceiling([tuple(p) for p in pairs], upload=True, workers=workers, work=work)
                else:
                    out = run_child_args(SDK, [base_url, API_KEY, str(root), name], sdk_env)
                    out["cpu_s"] = out["tree_cpu_s"]  # its sidecar's CPU is part of its cost
                    shutil.rmtree(work / "sdk-cache", ignore_errors=True)  # the SDK copies files into its cache
                out["server_cpu_s"] = server_cpu_seconds(base_url) - server_before
                out["upload_bytes"] = stats(base_url)["upload_bytes"]
                return out

            def case(client: str, count: int, size: int, name: str, tag: str, again: bool = False) -> list[Any]:
                root = work / f"in-{tag}"
                make_files(root, count, size, tag)
                try:
                    first = per_file(measured(client, root, name), count, count * size)
                    return [first, per_file(measured(client, root, name), count, count * size)] if again else [first]
                finally:
                    shutil.rmtree(root, ignore_errors=True)

            runs: dict[str, dict[str, list[dict[str, Any]]]] = {
                "a_small_new": {"ceiling": [], "ours": [], "sdk": []},
                "b_big_new": {"ceiling": [], "ours": [], "sdk": []}, "c_small_unchanged": {"ours": []},
            }
            case("ceiling", min(small, 200), 16 * 1024, "warm-up", "warm-up")  # untimed: the server's first writes
            for i in range(args.repeat):  # interleaved, so drifts in machine speed hit every client alike
                if not args.only_big:
                    runs["a_small_new"]["ceiling"] += case("ceiling", small, 16 * 1024, "small-ceiling", f"a-raw-{i}")
                    first, unchanged = case("ours", small, 16 * 1024, "small-ours", f"a-ours-{i}", again=True)
                    runs["a_small_new"]["ours"].append(first)
                    runs["c_small_unchanged"]["ours"].append(unchanged)
                    runs["a_small_new"]["sdk"] += case("sdk", small, 16 * 1024, "small-sdk", f"a-sdk-{i}")
                if args.only_small:
                    continue
                big = args.big_files
                runs["b_big_new"]["ceiling"] += case("ceiling", big, big_mib << 20, "big-ceiling", f"b-raw-{i}")
                runs["b_big_new"]["ours"] += case("ours", big, big_mib << 20, "big-ours", f"b-ours-{i}")
                runs["b_big_new"]["sdk"] += case("sdk", big, big_mib << 20, "big-sdk", f"b-sdk-{i}")
            for name, clients in runs.items():
                if all(clients.values()):
                    results[name] = {client: median_run(samples) for client, samples in clients.items()}
            for name in ("a_small_new", "b_big_new"):  # ratios in each interleaved round, then their median
                if name in results:
                    results[name + "_ratios"] = {
                        f"{other}_over_ours": statistics.median(
                            o["seconds"] / u["seconds"]
                            for o, u in zip(runs[name][other], runs[name]["ours"], strict=True))
                        for other in ("sdk", "ceiling")}
                    results[name + "_ratios"]["sdk_log_only_over_ours"] = statistics.median(
                        o["log_only_s"] / u["seconds"]
                        for o, u in zip(runs[name]["sdk"], runs[name]["ours"], strict=True))
            if not args.no_cli:
                results["cli"] = compare_command_line(base_url, work, small, big_mib, args.repeat, args.workers,
                                                      args.only_small, args.big_files)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print_table(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


def compare_command_line(base_url: str, work: Path, small: int, big_mib: int, repeat: int, workers: int,
                         only_small: bool, big_files: int = 2) -> dict[str, Any]:
    """``wandb-artifacts log`` against the same ``log_artifact`` as a ``python -c`` process (start to exit)."""
    env = {"WANDB_BASE_URL": base_url, "WANDB_API_KEY": API_KEY}
    extra = ["--workers", str(workers)] if workers else []
    out: dict[str, Any] = {}
    cases = [("a_small_new", small, 16 * 1024)] + ([] if only_small else [("b_big_new", big_files, big_mib << 20)])
    for case, count, size in cases:
        runs: dict[str, list[dict[str, Any]]] = {"cli": [], "library": []}
        for i in range(repeat):
            for client in ("cli", "library"):
                root = work / f"cli-{case}-{client}-{i}"
                make_files(root, count, size, root.name)
                name = f"cli-{case}-{client}"
                argv = ([sys.executable, "-m", "wandb_provider.cli", "log", name, str(root), "--type", "dataset",
                         "--entity", "demo", "--project", "bench-upload", "-q", *extra] if client == "cli"
                        else [sys.executable, "-c", LIBRARY_COMMAND, name, str(root), str(workers)])
                runs[client].append({"seconds": wall_seconds(argv, env), "peak_rss_mib": 0.0})
                shutil.rmtree(root, ignore_errors=True)
        out[case] = {client: median_run_wall(samples) for client, samples in runs.items()}
        out[case]["cli_over_library"] = statistics.median(
            c["seconds"] / lib["seconds"] for c, lib in zip(runs["cli"], runs["library"], strict=True))
    return out


def median_run_wall(samples: list[dict[str, Any]]) -> dict[str, Any]:
    ordered = sorted(samples, key=lambda r: r["seconds"])
    return {"seconds": ordered[len(ordered) // 2]["seconds"], "all_seconds": [round(r["seconds"], 2) for r in samples]}


def median_run(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median wall time, plus the peak RSS over all runs and every wall time."""
    ordered = sorted(samples, key=lambda r: r["seconds"])
    chosen = dict(ordered[len(ordered) // 2])
    chosen["peak_rss_mib"] = max(r["peak_rss_mib"] for r in samples)
    chosen["all_seconds"] = [round(r["seconds"], 2) for r in samples]
    for key in ("cpu_s", "server_cpu_s", "client_cpu_ms_per_file", "server_cpu_ms_per_file", "mb_s_per_core"):
        chosen[key] = statistics.median(r[key] for r in samples)
    return chosen


def run_child_args(code: str, argv: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    return run_child(f"import sys\nsys.argv[1:] = {argv!r}\n" + code, env)


def print_table(results: dict[str, Any]) -> None:
    print(f"environment: {results['environment']}")
    print(f"files: (a)/(c) {results['small_files']} x 16 KiB, (b) {results.get('big_files', 2)} x "
          f"{results['big_mib']} MiB; {results.get('workers')} transfers in flight")
    print(f"{'case':18} {'client':8} {'wall s':>7} {'CPU s':>7} {'server CPU s':>12} {'CPU ms/file':>11} "
          f"{'server ms/file':>14} {'MB/s/core':>9} {'RSS MiB':>8} {'uploaded MiB':>12}  wall s of every run")
    for case in ("a_small_new", "b_big_new", "c_small_unchanged"):
        for client, row in results.get(case, {}).items():
            star = "*" if client == "sdk" else " "
            print(f"{case:18} {client:8} {row['seconds']:7.2f} {row['cpu_s']:6.2f}{star} {row['server_cpu_s']:12.2f} "
                  f"{row['client_cpu_ms_per_file']:11.2f} {row['server_cpu_ms_per_file']:14.2f} "
                  f"{row['mb_s_per_core']:9.0f} {row['peak_rss_mib']:8.1f} {row['upload_bytes'] / (1 << 20):12.1f}  "
                  f"{row['all_seconds']}")
    print("* the SDK's whole process tree (wandb-core and start-up included); ours and the ceiling: the measured "
          "block. Medians; ratios: median over interleaved rounds.")
    a, b, c = results.get("a_small_new", {}), results.get("b_big_new", {}), results.get("c_small_unchanged", {})
    if a:
        r = results["a_small_new_ratios"]
        print(f"(a) SDK / ours = {r['sdk_over_ours']:.2f}x (goal >= 2.5; {r['sdk_log_only_over_ours']:.2f}x counting "
              f"only the SDK's add_dir + log_artifact().wait()); ours = {r['ceiling_over_ours']:.0%} of the ceiling "
              "(goal >= 80%)")
    if b:
        r = results["b_big_new_ratios"]
        print(f"(b) SDK / ours = {r['sdk_over_ours']:.2f}x (goal >= 1.5; {r['sdk_log_only_over_ours']:.2f}x counting "
              f"only the SDK's add_dir + log_artifact().wait()); ours = {r['ceiling_over_ours']:.0%} of the ceiling; "
              f"our peak RSS {b['ours']['peak_rss_mib']:.0f} MiB (goal <= 150)")
    if a and c:
        print(f"(c) unchanged / new = {c['ours']['seconds'] / a['ours']['seconds']:.0%} (goal <= 10%); "
              f"file bytes uploaded {c['ours']['upload_bytes']} (goal 0)")
    for case, row in (results.get("cli") or {}).items():
        print(f"command line {case}: wandb-artifacts log {row['cli']['seconds']:.2f} s {row['cli']['all_seconds']}, "
              f"library {row['library']['seconds']:.2f} s {row['library']['all_seconds']}; "
              f"log / library = {row['cli_over_library']:.2f} (goal <= 1.05)")


if __name__ == "__main__":
    sys.exit(main())
