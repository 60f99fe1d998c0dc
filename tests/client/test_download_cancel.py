"""Stopping a download: signals, interrupts and permanent refusals stop at once and leave the root as it was."""

from __future__ import annotations

import _thread
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.client._roots_helpers import listing, user_view
from wandb_provider.client import PermissionDeniedError, WandbClient

CHILD = """
import signal, sys
from wandb_provider.client import WandbClient

class Terminated(Exception):
    pass

def on_term(signum, frame):  # what Airflow's task runner does on SIGTERM
    raise Terminated("SIGTERM")

signal.signal(signal.SIGTERM, on_term)
base_url, key, path, root, cache = sys.argv[1:6]
client = WandbClient(base_url, key, cache_dir=cache)
print("starting", flush=True)
try:
    client.download(path, root, max_workers=4)
except (Terminated, KeyboardInterrupt) as exc:
    print("stopped", type(exc).__name__, flush=True)
    sys.exit(3)
print("finished", flush=True)
"""


def _files(count: int, size: int) -> dict[str, bytes]:
    return {f"part-{i:03d}.bin": os.urandom(size) for i in range(count)}


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signalled_download_exits_within_seconds_and_leaves_root_as_it_was(wandb_server, tmp_path: Path,
                                                                            signum: int) -> None:
    wandb_server.seed_artifact("big", _files(24, 64 * 1024), project="p")
    # The storage holds every file GET until the test ends: the signal comes while workers wait on it.
    wandb_server.set_faults([{"route": "files", "kind": "hold", "seconds": 60, "path": ".bin"}])
    root = tmp_path / "out"
    root.mkdir()
    (root / "mine.txt").write_text("the user's")
    before = listing(root)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, wandb_server.base_url, wandb_server.api_key, "demo/p/big", str(root),
         str(tmp_path / "cache")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "starting"
        assert wandb_server.faults.wait_held(2, timeout=60), "the download never asked for its files"
        sent = time.monotonic()
        child.send_signal(signum)
        out, err = child.communicate(timeout=30)
        took = time.monotonic() - sent
    finally:
        child.kill()
        wandb_server.faults.release()
    assert "stopped" in out, err[-2000:]
    assert took < 3.0, f"took {took:.1f}s to stop"
    assert listing(root) == before  # no file, no staging, no lock, no ledger folder


def test_an_interrupted_download_releases_the_root_at_once(wandb_server, tmp_path: Path) -> None:
    wandb_server.seed_artifact("big", _files(12, 32 * 1024), project="p")
    wandb_server.set_faults([{"route": "files", "kind": "hold", "seconds": 60, "path": ".bin"}])
    client = WandbClient(wandb_server.base_url, wandb_server.api_key, entity="demo", project="p",
                         cache_dir=str(tmp_path / "cache"))
    root = tmp_path / "out"

    def interrupt() -> None:
        if wandb_server.faults.wait_held(2, timeout=60):  # workers are waiting on the storage
            _thread.interrupt_main()

    threading.Thread(target=interrupt, daemon=True).start()
    started = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            client.download("big", root)
        assert time.monotonic() - started < 30  # long before the held requests would have been answered
    finally:
        wandb_server.faults.release()
    assert listing(root) == {}
    wandb_server.set_faults(None)
    again = WandbClient(wandb_server.base_url, wandb_server.api_key, entity="demo", project="p",
                        cache_dir=str(tmp_path / "cache2"), deadline=2.0)
    again.download("big", root)  # the lock is free again
    assert len(user_view(root)) == 12


def test_a_permanent_403_is_permission_denied_after_one_refresh(wandb_server, tmp_path: Path) -> None:
    wandb_server.seed_artifact("ds", _files(6, 1024), project="p")
    wandb_server.set_faults([{"route": "files", "kind": "status", "status": 403, "path": ".bin"}])
    wandb_server.reset_stats()
    client = WandbClient(wandb_server.base_url, wandb_server.api_key, entity="demo", project="p",
                         cache_dir=str(tmp_path / "cache"), backoff_min=0.01, backoff_max=0.05)
    started = time.monotonic()
    with pytest.raises(PermissionDeniedError, match="again after the download URLs were renewed") as caught:
        client.download("ds", tmp_path / "out")
    assert not caught.value.transient
    assert wandb_server.stats()["graphql"]["operations"]["ArtifactFileUrls"] == 2
    assert time.monotonic() - started < 10
    assert not (tmp_path / "out").exists()
