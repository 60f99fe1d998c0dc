"""The README's first command (the main job) works: the demo DAG runs green against the local server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.full
@pytest.mark.slow
@pytest.mark.parametrize("profile", ["latest", "legacy"])
def test_demo_runs_the_promotion_dag(tmp_path: Path, profile: str) -> None:
    """Also on the oldest W&B Server the SDK supports (``WANDB_PROVIDER_SERVER_PROFILE=legacy``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "WANDB_"))}
    env.update(VENV=sys.prefix, DEMO_DIR=str(tmp_path), WANDB_PROVIDER_SERVER_PROFILE=profile)
    done = subprocess.run(["bash", str(ROOT / "scripts" / "demo.sh")], capture_output=True, text=True, env=env,
                          timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "model_promotion succeeded" in done.stdout
    assert "Promoted 'production' of acme/churn/churn-model from v1 to v2" in done.stdout
    assert "Linked into the registry as acme-corp-org/wandb-registry-model/churn:v0" in done.stdout
    downloads = tmp_path / "downloads" / "model_promotion"
    assert list(downloads.rglob("model.json"))
