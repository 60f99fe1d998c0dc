"""materialize(pin): the pinned bytes on another worker (another process, its own cache and root)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from wandb_provider import materialize
from wandb_provider._airflow import version_xcom
from wandb_provider._compat import AirflowFailException
from wandb_provider.client import WandbClient

pytestmark = pytest.mark.wandb_server(seed="demo")
ROOT = Path(__file__).resolve().parents[2]
MODEL = "acme/churn/churn-model:candidate"

WORKER = """
import json, sys
from wandb_provider import materialize
pin, kwargs = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print("ROOT=" + str(materialize(pin, **kwargs)))
"""


def _tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*"))
            if p.is_file() and not p.relative_to(root).parts[0].startswith(".")}  # not the provider's ledger


def _worker(server: Any, home: Path, pin: dict[str, Any], **kwargs: Any) -> Path:
    """Run materialize in a fresh interpreter with its own AIRFLOW_HOME, cache and download root."""
    conn = {"conn_type": "wandb", "host": server.base_url, "password": server.api_key,
            "extra": {"cache_dir": str(home / "cache")}}
    env = {**os.environ, "AIRFLOW_HOME": str(home / "airflow"), "AIRFLOW_CONN_WANDB_DEFAULT": json.dumps(conn),
           "WANDB_PROVIDER_DOWNLOAD_ROOT": str(home / "downloads"), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", WORKER, json.dumps(pin), json.dumps(kwargs)], env=env,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    return Path(next(line[5:] for line in done.stdout.splitlines() if line.startswith("ROOT=")))


@pytest.fixture
def pin(wandb_env, tmp_path: Path) -> dict[str, Any]:
    """What UseArtifactOperator hands downstream, and the files the first worker got."""
    with WandbClient(wandb_env.base_url, wandb_env.api_key) as client:
        version = client.artifact(MODEL)
        client.download(version, tmp_path / "worker-1")
    return {"path": str(tmp_path / "worker-1"), **version_xcom(version)}


def _in_process_worker(server: Any, home: Path, pin: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Path:
    """materialize in this process, as another worker configured like ``_worker``'s would run it."""
    conn = {"conn_type": "wandb", "host": server.base_url, "password": server.api_key,
            "extra": {"cache_dir": str(home / "cache")}}
    with monkeypatch.context() as patched:
        patched.setenv("AIRFLOW_CONN_WANDB_DEFAULT", json.dumps(conn))
        patched.setenv("WANDB_PROVIDER_DOWNLOAD_ROOT", str(home / "downloads"))
        patched.delenv("WANDB_PROVIDER_CACHE_DIR", raising=False)
        return materialize(pin)


def test_another_workers_configuration_gets_the_same_bytes_in_its_own_folder_and_cache(
        wandb_env, pin, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker's own download root and cache, not the pin's path (the subprocess test below runs a
    real second interpreter in the full stage)."""
    home = tmp_path / "worker-2"
    root = _in_process_worker(wandb_env, home, {**pin, "path": "/nonexistent/elsewhere"}, monkeypatch)
    assert root.is_relative_to(home / "downloads")
    assert _tree(root) == _tree(Path(pin["path"]))
    assert any(p.is_file() for p in (home / "cache").rglob("*"))  # its own cache, not worker 1's
    wandb_env.reset_stats()
    again = _in_process_worker(wandb_env, home, pin, monkeypatch)  # idempotent: nothing fetched again
    assert again == root and _tree(again) == _tree(Path(pin["path"]))
    assert wandb_env.stats()["files"] <= 1  # the manifest at most: no file body again


@pytest.mark.full
@pytest.mark.slow
def test_another_worker_gets_the_same_bytes_in_its_own_folder_and_cache(wandb_env, pin, tmp_path) -> None:
    home = tmp_path / "worker-2"
    root = _worker(wandb_env, home, {**pin, "path": "/nonexistent/elsewhere"})
    assert root.is_relative_to(home / "downloads")
    assert _tree(root) == _tree(Path(pin["path"]))
    assert any(p.is_file() for p in (home / "cache").rglob("*"))  # its own cache, not worker 1's
    wandb_env.reset_stats()
    again = _worker(wandb_env, home, pin)  # idempotent: the same folder, nothing fetched again
    assert again == root and _tree(again) == _tree(Path(pin["path"]))
    assert wandb_env.stats()["files"] <= 1  # the manifest at most: no file body again


def test_a_file_edited_since_is_the_users_and_is_never_overwritten(wandb_env, pin, tmp_path) -> None:
    root = tmp_path / "mine"
    materialize(pin, root)
    (root / "model.json").write_text("{}")  # the user's own edit (the file is a copy, not a cache link)
    with pytest.raises(AirflowFailException, match="model.json"):
        materialize(pin, root)
    assert (root / "model.json").read_text() == "{}"


def test_one_include_pattern_as_text(wandb_env, pin, tmp_path) -> None:
    root = materialize(pin, tmp_path / "one", include="model.json")
    assert sorted(_tree(root)) == ["model.json"]


def test_a_pin_whose_digest_changed_is_refused_before_any_download(wandb_env, pin, tmp_path) -> None:
    root = tmp_path / "refused"
    with pytest.raises(AirflowFailException, match="digest"):
        materialize({**pin, "digest": "0" * 32}, root)
    assert not root.exists()


@pytest.mark.parametrize("bad", ["/some/path", None, {"id": "", "digest": "x"}, {"id": "QXJ0aWZhY3Q6MQ=="},
                                 {"id": 3, "digest": "x"}])
def test_malformed_pins_are_refused_without_a_request(wandb_env, bad: Any, tmp_path) -> None:
    wandb_env.reset_stats()
    with pytest.raises(AirflowFailException, match="pin"):
        materialize(bad, tmp_path / "x")
    assert wandb_env.stats()["graphql"]["total"] == 0


def test_an_unknown_version_fails_clearly(wandb_env, tmp_path) -> None:
    with pytest.raises(AirflowFailException, match="no such artifact"):
        materialize({"id": "QXJ0aWZhY3Q6OTk5OQ==", "digest": "x", "qualified_name": "acme/churn/x:v0"}, tmp_path / "x")


def test_an_asset_event_of_a_watcher_or_a_writer_is_a_pin(wandb_env, pin, tmp_path) -> None:
    """A deployed triggerer stores a watcher's extra under "payload"; a writer's outlet event is flat."""
    from types import SimpleNamespace

    from wandb_provider.assets import event_version

    watcher = SimpleNamespace(extra={"from_trigger": True, "payload": {**pin, "reason": "alias"}})
    writer = SimpleNamespace(extra={**pin, "reason": "aliases"})
    assert event_version(watcher)["digest"] == event_version(writer)["digest"] == pin["digest"]
    assert event_version(SimpleNamespace(extra={"from_trigger": True, "payload": {}})) == {}
    assert event_version("v3") == {}
    root = materialize(watcher.extra, tmp_path / "from-watcher")
    assert _tree(root) == _tree(Path(pin["path"]))
    assert _tree(materialize(writer, tmp_path / "from-writer")) == _tree(root)


def _other_version(wandb_env) -> dict[str, Any]:
    with WandbClient(wandb_env.base_url, wandb_env.api_key) as client:
        return version_xcom(client.artifact("acme/churn/churn-dataset:v0"))


def test_a_forged_event_with_another_versions_id_and_digest_is_refused(wandb_env, pin, tmp_path) -> None:
    """Anyone who can write an asset event can put another version's id and digest in its extra: the
    pin is honoured only when id, digest and qualified name agree with W&B."""
    from types import SimpleNamespace

    other = _other_version(wandb_env)
    forged = SimpleNamespace(asset=SimpleNamespace(uri="wandb://acme/churn/churn-model"),
                             extra={**pin, "id": other["id"], "digest": other["digest"]})
    root = tmp_path / "forged"
    with pytest.raises(AirflowFailException, match=r"the pin names acme/churn/churn-model:v2, but its id .* are those "
                                                   r"of acme/churn/churn-dataset:v0"):
        materialize(forged, root)
    assert not root.exists()


def test_an_event_whose_extra_is_about_another_collection_is_refused(wandb_env, pin, tmp_path) -> None:
    from types import SimpleNamespace

    whole_other = SimpleNamespace(asset=SimpleNamespace(uri="wandb://acme/churn/churn-model"),
                                  extra=_other_version(wandb_env))
    with pytest.raises(AirflowFailException, match="the asset event is about acme/churn/churn-model"):
        materialize(whole_other, tmp_path / "other")
    assert not (tmp_path / "other").exists()
    genuine = SimpleNamespace(asset=SimpleNamespace(uri="wandb://acme/churn/churn-model"), extra=pin)
    assert _tree(materialize(genuine, tmp_path / "genuine")) == _tree(Path(pin["path"]))


def test_a_pin_without_its_name_is_not_whole(wandb_env, pin, tmp_path) -> None:
    with pytest.raises(AirflowFailException, match="qualified_name"):
        materialize({"id": pin["id"], "digest": pin["digest"]}, tmp_path / "x")


def test_log_artifact_refuses_a_forged_input_pin_before_logging(wandb_env, pin, tmp_path) -> None:
    from tests.airflow._fakes import RecordingTI, sdk
    from wandb_provider.operators.produce import LogArtifactOperator

    other = _other_version(wandb_env)
    (tmp_path / "features.csv").write_text("a,b\n1,2\n")
    log = LogArtifactOperator(task_id="log", name="acme/churn/features", type="dataset",
                              files=str(tmp_path / "features.csv"),
                              inputs=[{**pin, "id": other["id"], "digest": other["digest"]}])
    with pytest.raises(AirflowFailException, match="disagree"):
        log.execute({"ti": RecordingTI(), "run_id": "r"})
    with pytest.raises(Exception, match="features"):
        sdk(wandb_env).artifact("acme/churn/features:latest")
