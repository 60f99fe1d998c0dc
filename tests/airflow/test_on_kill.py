"""on_kill: Airflow 3's task runner answers SIGTERM by calling the task's on_kill() and letting it go
on; the operators cancel their transfers, so a real `airflow dags test` process stops within seconds
of SIGTERM while the server holds every file body, and the download root is left as it was."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.client._roots_helpers import user_view

pytestmark = pytest.mark.wandb_server(seed="demo")
HELD_FOR = 120  # seconds the server holds each file body: far beyond any bound below


def _seed_big_and_a_user_root(server, tmp_path: Path) -> tuple[Path, dict[str, str | bytes]]:
    """A 24-file version to download, and a root holding one file of the user's: (root, its view)."""
    server.seed_artifact("big", {f"part-{i:03d}.bin": os.urandom(64 * 1024) for i in range(24)},
                         project="churn", entity="acme")
    root = tmp_path / "root"
    root.mkdir()
    (root / "mine.txt").write_text("the user's own file\n")
    return root, user_view(root)


def _wait_for_file_requests(server, process: subprocess.Popen, count: int = 3, timeout: float = 300.0) -> None:
    """Until the download has asked for files (it is then held by the fault hook)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "airflow exited before the download started"
        if server.stats()["files"] >= count:
            return
        time.sleep(0.05)
    raise AssertionError("the download never asked for its files")


@pytest.mark.full  # starts `airflow dags test` in a subprocess
@pytest.mark.slow
def test_sigterm_cancels_a_held_download_within_seconds_and_leaves_root_as_it_was(
        wandb_env, airflow_db: None, tmp_path: Path) -> None:
    root, before = _seed_big_and_a_user_root(wandb_env, tmp_path)
    wandb_env.set_faults([{"route": "files", "kind": "delay", "seconds": HELD_FOR, "path": ".bin"}])
    wandb_env.reset_stats()
    airflow = os.path.join(os.path.dirname(sys.executable), "airflow")
    log = tmp_path / "airflow.log"
    with log.open("w") as out:
        process = subprocess.Popen([airflow, "dags", "test", "on_kill_download"], stdout=out, stderr=subprocess.STDOUT,
                                   env={**os.environ, "WANDB_PROVIDER_TEST_ROOT": str(root)})
        try:
            _wait_for_file_requests(wandb_env, process)
            signalled = time.monotonic()
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
            took = time.monotonic() - signalled
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    text = log.read_text()
    assert took < 15, f"airflow went on for {took:.1f}s after SIGTERM:\n{text[-3000:]}"
    assert "download cancelled" in text, text[-3000:]
    assert user_view(root) == before  # nothing published, the user's file untouched
    assert not [p for p in root.rglob("*") if "staging" in p.name]  # no half-download left behind


def test_on_kill_cancels_a_held_download_and_leaves_root_as_it_was(wandb_env, tmp_path: Path) -> None:
    """What the task runner does on SIGTERM, in this process: ``on_kill()`` while the server holds every
    file body (its hold hook, no timer) ends ``execute`` with the cancellation and publishes nothing."""
    import threading

    from tests.airflow._fakes import RecordingTI
    from wandb_provider.client.errors import CancelledError
    from wandb_provider.operators.artifacts import UseArtifactOperator

    root, before = _seed_big_and_a_user_root(wandb_env, tmp_path)
    wandb_env.set_faults([{"route": "files", "kind": "hold", "seconds": HELD_FOR, "path": ".bin"}])
    operator = UseArtifactOperator(task_id="download", artifact="acme/churn/big:v0", max_workers=4, use_cache=False,
                                   root=str(root))
    outcome: list[BaseException | None] = []

    def execute() -> None:
        try:
            operator.execute({"ti": RecordingTI(), "run_id": "r"})
            outcome.append(None)
        except BaseException as exc:  # the test asserts on it
            outcome.append(exc)

    task = threading.Thread(target=execute)
    task.start()
    try:
        assert wandb_env.faults.wait_held(timeout=HELD_FOR), "the download never asked for its files"
        signalled = time.monotonic()
        operator.on_kill()
        task.join(timeout=60)
        took = time.monotonic() - signalled
    finally:
        wandb_env.faults.release()
        task.join()
    assert took < 15, f"execute went on for {took:.1f}s after on_kill"
    assert outcome and outcome[0] is not None, "execute finished the download"
    chain: list[BaseException] = []
    exc: BaseException | None = outcome[0]
    while exc is not None and exc not in chain:
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__
    assert any(isinstance(e, CancelledError) or "cancel" in str(e).lower() for e in chain), repr(outcome[0])
    assert user_view(root) == before  # nothing published, the user's file untouched
    assert not [p for p in root.rglob("*") if "staging" in p.name]  # no half-download left behind
