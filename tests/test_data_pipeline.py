"""The data-pipeline example runs under ``airflow dags test`` against the local server with demo data, and
W&B's lineage graph (read through the official SDK) shows the derived version made from the raw one."""

from __future__ import annotations

import ast
import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.airflow._fakes import sdk

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "dags_examples"


def _dags_test(env: dict[str, str], log: Path) -> str:
    """Run the example; its output goes to ``log`` (readable while it runs) and is returned."""
    airflow = os.path.join(os.path.dirname(sys.executable), "airflow")
    with log.open("w") as out:
        code = subprocess.run([airflow, "dags", "test", "data_pipeline"], stdout=out, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, env=env, timeout=900).returncode
    text = log.read_text()
    assert code == 0, text[-4000:]
    return text


@pytest.mark.full
@pytest.mark.slow
@pytest.mark.parametrize("profile", [
    pytest.param("latest", marks=pytest.mark.wandb_server(seed="demo")),
    pytest.param("legacy", marks=pytest.mark.wandb_server(seed="demo", profile="legacy")),
])
def test_the_derived_dataset_is_logged_by_a_run_that_used_the_raw_one(wandb_env, airflow_db: None,
                                                                     tmp_path: Path, profile: str) -> None:
    summary = tmp_path / "summary.txt"
    env = {**os.environ, "AIRFLOW__CORE__DAGS_FOLDER": str(EXAMPLES), "WANDB_ENTITY": "acme", "WANDB_PROJECT": "churn",
           "WANDB_PROVIDER_DOWNLOAD_ROOT": str(tmp_path / "downloads"),
           "WANDB_PROVIDER_CACHE_DIR": str(tmp_path / "cache"), "WANDB_PROVIDER_DEMO_WORKDIR": str(tmp_path / "work"),
           "WANDB_PROVIDER_DEMO_SUMMARY": str(summary)}
    _dags_test(env, tmp_path / "dags-test.log")
    api = sdk(wandb_env)
    raw = api.artifact("acme/churn/churn-raw:latest")
    derived = api.artifact("acme/churn/churn-features:latest")
    assert derived.version == "v0" and derived.type == "dataset"

    producer = derived.logged_by()
    assert producer is not None
    assert raw.id in [used.id for used in producer.used_artifacts()]
    assert producer.id in [run.id for run in raw.used_by()]

    assert derived.metadata["source"] == f"acme/churn/churn-raw:{raw.version}"
    rows_kept = derived.metadata["rows_kept"]
    assert isinstance(rows_kept, int) and 0 < rows_kept < derived.metadata["rows_in"]
    files = Path(derived.download(root=str(tmp_path / "observed")))
    derived.verify(root=str(files))
    with (files / "customers.csv").open() as f:
        customers = list(csv.DictReader(f))
    ids = [row["customer_id"] for row in customers]
    assert len(ids) == rows_kept == len(set(ids))
    assert all(all(value.strip() == value and value for value in row.values()) for row in customers)
    assert {row["plan"] for row in customers} == {"basic", "pro", "enterprise"}
    with (files / "churn_by_plan.csv").open() as f:
        plans = list(csv.DictReader(f))
    assert sum(int(row["customers"]) for row in plans) == rows_kept
    assert "Verified acme/churn/churn-features:v0" in summary.read_text()


def test_the_examples_import_only_public_api() -> None:
    """What the examples import is what users may: no module or name starting with an underscore."""
    private = []
    for path in sorted(EXAMPLES.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("wandb_provider"):
                names = [node.module or "", *(alias.name for alias in node.names)]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names if alias.name.startswith("wandb_provider")]
            else:
                continue
            private += [f"{path.name}: {name}" for name in names
                        if any(part.startswith("_") for part in name.split("."))]
    assert not private
    assert (EXAMPLES / "data_pipeline.py").exists() and (EXAMPLES / "model_promotion.py").exists()
