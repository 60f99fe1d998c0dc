"""How fast does our client log artifacts, next to the official SDK's ``wandb.init`` + ``run.log_artifact``?

One local W&B server (its own process, data on disk) receives, each client in a fresh process:
  (a) 5,000 files x 16 KiB, new content;      goal: ours >= 2x faster than the SDK
  (b) 2 files x 256 MiB, new content;          goal: ours >= the SDK; our peak RSS (VmHWM) <= 150 MiB
  (c) case (a) again, unchanged (ours);        goal: <= 10% of (a)'s time and 0 file bytes uploaded
Every measured run of (a) and (b) logs content the server has never seen (a unique header per file),
so no client profits from the other's uploads. Wall times cover hashing, the upload sequence and the
commit (for the SDK: ``wandb.init`` to ``run.finish()``, its run bookkeeping included, since that is
what logging an artifact costs with it), not interpreter start-up. Uploaded file bytes are counted by
the server (``/_admin/stats``). The SDK's uploads run in its ``wandb-core`` sidecar, whose memory is
not in the SDK's RSS column.

Each client runs --repeat times per case (interleaved); the median wall time is reported.

Usage: python bench/upload.py [--quick] [--repeat 3] [--workers N] [--json out.json]
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

from _harness import API_KEY, environment, reset_stats, run_child, server_cpu_seconds, server_process, stats

ENTITY, PROJECT = "demo", "bench-upload"

OURS = """
from wandb_provider.client import WandbClient
base_url, key, root, name, workers = sys.argv[1:6]
client = WandbClient(base_url, key, entity="demo", project="bench-upload",
                     **({"max_workers": int(workers)} if int(workers) else {}))
t = time.perf_counter()
version = client.log_artifact(name, "dataset", root)
report(time.perf_counter() - t, version=version.version)
"""

SDK = """
import wandb
base_url, key, root, name = sys.argv[1:5]
settings = wandb.Settings(base_url=base_url, api_key=key, x_disable_stats=True, x_disable_machine_info=True)
t = time.perf_counter()
run = wandb.init(entity="demo", project="bench-upload", settings=settings)
artifact = wandb.Artifact(name, type="dataset")
artifact.add_dir(root)
run.log_artifact(artifact).wait()
run.finish()
report(time.perf_counter() - t)
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
    parser.add_argument("--small-files", type=int, help="override the number of small files")
    parser.add_argument("--json")
    args = parser.parse_args()
    small, big_mib = (500, 32) if args.quick else (5000, 256)
    small = args.small_files or small
    work = Path(tempfile.mkdtemp(prefix="bench-upload-"))
    results: dict[str, Any] = {"environment": environment(), "small_files": small, "big_mib": big_mib}
    sdk_env = {"WANDB_DIR": str(work / "sdk-dir"), "WANDB_CACHE_DIR": str(work / "sdk-cache"),
               "WANDB_DATA_DIR": str(work / "sdk-data"), "WANDB_ARTIFACT_DIR": str(work / "sdk-artifacts"),
               "WANDB_CONFIG_DIR": str(work / "sdk-config"), "WANDB_SILENT": "true", "WANDB_CONSOLE": "off",
               "WANDB_DISABLE_GIT": "true", "WANDB_DISABLE_CODE": "true", "WANDB_MODE": "online"}
    try:
        (work / "data").mkdir()
        with server_process(work / "data") as base_url:
            w = str(args.workers)

            def measured(client: str, root: Path, name: str) -> dict[str, Any]:
                reset_stats(base_url)
                server_before = server_cpu_seconds(base_url)
                if client == "ours":
                    out = run_child_args(OURS, [base_url, API_KEY, str(root), name, w])
                else:
                    out = run_child_args(SDK, [base_url, API_KEY, str(root), name], sdk_env)
                    shutil.rmtree(work / "sdk-cache", ignore_errors=True)  # the SDK copies files into its cache
                out["server_cpu_s"] = server_cpu_seconds(base_url) - server_before
                out["upload_bytes"] = stats(base_url)["upload_bytes"]
                return out

            def case(client: str, count: int, size: int, name: str, tag: str, again: bool = False) -> list[Any]:
                root = work / f"in-{tag}"
                make_files(root, count, size, tag)
                try:
                    first = measured(client, root, name)
                    return [first, measured(client, root, name)] if again else [first]
                finally:
                    shutil.rmtree(root, ignore_errors=True)

            runs: dict[str, dict[str, list[dict[str, Any]]]] = {
                "a_small_new": {"ours": [], "sdk": []}, "b_big_new": {"ours": [], "sdk": []},
                "c_small_unchanged": {"ours": []},
            }
            for i in range(args.repeat):  # interleaved, so drifts in machine speed hit every client alike
                first, unchanged = case("ours", small, 16 * 1024, "small-ours", f"a-ours-{i}", again=True)
                runs["a_small_new"]["ours"].append(first)
                runs["c_small_unchanged"]["ours"].append(unchanged)
                runs["a_small_new"]["sdk"] += case("sdk", small, 16 * 1024, "small-sdk", f"a-sdk-{i}")
                if args.only_small:
                    continue
                runs["b_big_new"]["ours"] += case("ours", 2, big_mib << 20, "big-ours", f"b-ours-{i}")
                runs["b_big_new"]["sdk"] += case("sdk", 2, big_mib << 20, "big-sdk", f"b-sdk-{i}")
            for name, clients in runs.items():
                if all(clients.values()):
                    results[name] = {client: median_run(samples) for client, samples in clients.items()}
            for name in ("a_small_new", "b_big_new"):  # SDK / ours in each interleaved round
                pairs = zip(runs[name]["sdk"], runs[name]["ours"], strict=False)
                results[name + "_round_ratios"] = [round(sdk["seconds"] / ours["seconds"], 2) for sdk, ours in pairs]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print_table(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


def median_run(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median wall time, plus the peak RSS over all runs and every wall time."""
    ordered = sorted(samples, key=lambda r: r["seconds"])
    chosen = dict(ordered[len(ordered) // 2])
    chosen["peak_rss_mib"] = max(r["peak_rss_mib"] for r in samples)
    chosen["all_seconds"] = [round(r["seconds"], 2) for r in samples]
    for key in ("tree_cpu_s", "server_cpu_s"):
        chosen[key] = statistics.median(r[key] for r in samples)
    return chosen


def run_child_args(code: str, argv: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    return run_child(f"import sys\nsys.argv[1:] = {argv!r}\n" + code, env)


def print_table(results: dict[str, Any]) -> None:
    print(f"environment: {results['environment']}")
    print(f"files: (a)/(c) {results['small_files']} x 16 KiB, (b) 2 x {results['big_mib']} MiB")
    print(f"{'case':18} {'client':6} {'wall s':>7} {'peak RSS MiB':>12} {'uploaded MiB':>12} {'CPU s':>6} "
          f"{'server CPU s':>12}  wall s of every run")
    for case in ("a_small_new", "b_big_new", "c_small_unchanged"):
        for client, row in results.get(case, {}).items():
            print(f"{case:18} {client:6} {row['seconds']:7.2f} {row['peak_rss_mib']:12.1f} "
                  f"{row['upload_bytes'] / (1 << 20):12.1f} {row['tree_cpu_s']:6.1f} {row['server_cpu_s']:12.1f}  "
                  f"{row['all_seconds']}")
    print("CPU s: the client's process tree (start-up and the SDK's wandb-core included); server CPU s: what the "
          "server spent on that client's requests. Medians.")
    a, b, c = results.get("a_small_new", {}), results.get("b_big_new", {}), results.get("c_small_unchanged", {})
    if a:
        print(f"(a) SDK / ours = {a['sdk']['seconds'] / a['ours']['seconds']:.2f}x (goal >= 2); "
              f"per round {results['a_small_new_round_ratios']}")
    if b:
        print(f"(b) SDK / ours = {b['sdk']['seconds'] / b['ours']['seconds']:.2f}x (goal >= 1); "
              f"per round {results['b_big_new_round_ratios']}; "
              f"our peak RSS {b['ours']['peak_rss_mib']:.0f} MiB (goal <= 150)")
    if a and c:
        print(f"(c) unchanged / new = {c['ours']['seconds'] / a['ours']['seconds']:.0%} (goal <= 10%); "
              f"file bytes uploaded {c['ours']['upload_bytes']} (goal 0)")


if __name__ == "__main__":
    sys.exit(main())
