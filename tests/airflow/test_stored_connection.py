"""A deferrable sensor under ``airflow dags test`` with the connection stored in Airflow's database
(``airflow connections add``, no environment variable), and the plugin's ``wandb_airflow`` fixture."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.wandb_server(seed="demo")
ROOT = Path(__file__).resolve().parents[2]
DAGS = Path(__file__).parent / "dags"


def _promote_after_the_trigger_polls(server: Any) -> threading.Thread:
    """Move ``production`` to v2 with the official SDK once the sensor poked and its trigger polled."""

    def move() -> None:
        deadline = time.monotonic() + 120
        while not server.stats()["graphql"]["operations"].get("WatchCollections"):  # the trigger's batched poll
            if time.monotonic() > deadline:
                return
            time.sleep(0.1)
        import wandb

        api = wandb.Api(overrides={"base_url": server.base_url}, api_key=server.api_key)
        version = api.artifact("acme/churn/churn-model:v2")
        version.aliases.append("production")
        version.save()

    thread = threading.Thread(target=move, daemon=True)
    thread.start()
    return thread


@pytest.mark.full
@pytest.mark.slow
def test_deferrable_sensor_under_airflow_dags_test_with_a_stored_connection(wandb_server, tmp_path: Path) -> None:
    dags = tmp_path / "dags"
    dags.mkdir()
    shutil.copy(DAGS / "wait_for_promotion.py", dags)
    out = tmp_path / "xcom.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "WANDB_"))}
    env.update(AIRFLOW_HOME=str(tmp_path / "home"), AIRFLOW__CORE__LOAD_EXAMPLES="False",
               AIRFLOW__CORE__DAGS_FOLDER=str(dags), PYTHONPATH=str(ROOT), WANDB_PROVIDER_TEST_OUT=str(out))
    airflow = str(Path(sys.executable).parent / "airflow")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([airflow, *args], env=env, capture_output=True, text=True, timeout=240)

    assert cli("db", "migrate").returncode == 0
    added = cli("connections", "add", "wandb_default", "--conn-type", "wandb", "--conn-host", wandb_server.base_url,
                "--conn-password", wandb_server.api_key)
    assert added.returncode == 0, added.stderr[-2000:]
    wandb_server.reset_stats()
    mover = _promote_after_the_trigger_polls(wandb_server)
    done = cli("dags", "test", "wait_for_promotion")
    mover.join(timeout=5)
    log = done.stdout + done.stderr
    assert "cannot use connection" not in log
    assert "running trigger in line" in log  # it did defer
    assert done.returncode == 0, log[-4000:]
    assert json.loads(out.read_text())["qualified_name"] == "acme/churn/churn-model:v2"


def test_wandb_airflow_fixture_needs_no_setup(wandb_airflow, tmp_path: Path, monkeypatch) -> None:
    from tests.conftest import dag_bag_class

    DagBag = dag_bag_class()

    assert "AIRFLOW_CONN_WANDB_DEFAULT" not in os.environ  # the connection is the stored one
    monkeypatch.setenv("WANDB_PROVIDER_TEST_OUT", str(tmp_path / "xcom.json"))
    wandb_airflow.reset_stats()
    mover = _promote_after_the_trigger_polls(wandb_airflow)
    run = DagBag(dag_folder=str(DAGS)).get_dag("wait_for_promotion").test()
    mover.join(timeout=5)
    assert run.state == "success"
    assert json.loads((tmp_path / "xcom.json").read_text())["version"] == "v2"


def test_wandb_airflow_refuses_a_database_outside_the_temp_folder(monkeypatch) -> None:
    from airflow.configuration import conf

    from wandb_provider.testing.pytest_plugin import _check_disposable_database

    monkeypatch.setattr(conf, "get", lambda *args, **kwargs: "postgresql://user:secret@db.example/airflow")
    with pytest.raises(pytest.fail.Exception, match="refusing") as info:
        _check_disposable_database()
    assert "secret" not in str(info.value)
