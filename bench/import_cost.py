"""How much does importing us cost a DAG file at parse time?

Cases, each in fresh interpreters (median of N runs, warm .pyc):
  * ``import wandb_provider.client`` (wall time)
  * our Airflow modules on top of an already imported ``airflow.sdk`` (the extra cost a DAG file pays)
  * ``import airflow.sdk`` alone, and ``import wandb`` (the SDK we replace), for scale.
Goals (issue 3): the client under 100 ms; our Airflow modules add under 100 ms to ``import airflow.sdk``.

Usage: python bench/import_cost.py [--runs N] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

AIRFLOW_MODULES = ["wandb_provider.hooks.wandb", "wandb_provider.get_provider_info"]
for optional in ("wandb_provider.operators.artifacts", "wandb_provider.sensors.artifacts",
                 "wandb_provider.triggers.artifacts"):
    try:
        import importlib.util

        if importlib.util.find_spec(optional) is not None:
            AIRFLOW_MODULES.append(optional)
    except ModuleNotFoundError:
        pass

TIMER = """
import time
{setup}
t = time.perf_counter()
{stmt}
print(time.perf_counter() - t)
"""


def measure(setup: str, stmt: str, runs: int, env: dict[str, str]) -> list[float]:
    code = TIMER.format(setup=setup, stmt=stmt)
    subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)  # warm .pyc
    return [float(subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True,
                                 text=True).stdout) for _ in range(runs)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--json")
    args = parser.parse_args()
    env = {**os.environ, "AIRFLOW_HOME": os.environ.get("AIRFLOW_HOME") or tempfile.mkdtemp(),
           "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    ours = "; ".join(f"import {m}" for m in AIRFLOW_MODULES)
    cases = {
        "wandb_provider.client": ("", "import wandb_provider.client"),
        "our Airflow modules over airflow.sdk": ("import airflow.sdk", ours),
        "airflow.sdk": ("", "import airflow.sdk"),
        "wandb (the SDK)": ("", "import wandb"),
    }
    results = {}
    print(f"{'case':40} {'median ms':>10} {'min ms':>8} {'max ms':>8}")
    for name, (setup, stmt) in cases.items():
        try:
            samples = measure(setup, stmt, args.runs, env)
        except subprocess.CalledProcessError as exc:
            print(f"{name:40} failed: {exc.stderr[-200:]!r}")
            continue
        results[name] = {"median_ms": 1000 * statistics.median(samples), "min_ms": 1000 * min(samples),
                         "max_ms": 1000 * max(samples), "runs": args.runs}
        r = results[name]
        print(f"{name:40} {r['median_ms']:10.1f} {r['min_ms']:8.1f} {r['max_ms']:8.1f}")
    if "wandb_provider.client" in results and "wandb (the SDK)" in results:
        ratio = results["wandb (the SDK)"]["median_ms"] / results["wandb_provider.client"]["median_ms"]
        print(f"client imports {ratio:.1f}x faster than wandb")
    print(f"modules measured: {AIRFLOW_MODULES}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
