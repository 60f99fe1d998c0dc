"""Download integrity under the server's fault injection, kills and concurrent processes."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from wandb_provider.client import ArtifactIntegrityError, WandbClient

CHILD = """
import sys
from wandb_provider.client import WandbClient
base_url, key, path, root, cache = sys.argv[1:6]
client = WandbClient(base_url, key, cache_dir=cache, backoff_min=0.01, backoff_max=0.05, max_retries=20)
print("starting", flush=True)
result = client.download(path, root, max_workers=2)
print("done", result.bytes_downloaded, result.bytes_from_cache, flush=True)
"""


def _client(server, tmp_path: Path, **options) -> WandbClient:
    options.setdefault("backoff_min", 0.005)
    options.setdefault("backoff_max", 0.02)
    return WandbClient(server.base_url, server.api_key, entity="demo", project="p",
                       cache_dir=str(tmp_path / "cache"), **options)


def _files(count: int, size: int) -> dict[str, bytes]:
    return {f"part-{i:04d}.bin": os.urandom(size) for i in range(count)}


def _tree(root: Path) -> dict[str, bytes]:
    """The user's view of ``root``: every file but the provider's ledger folder."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*")
            if p.is_file() and p.relative_to(root).parts[0] != ".wandb-provider"}


def _cache_is_sound(cache: Path) -> None:
    for blob in (cache / "obj").rglob("*"):
        if blob.is_file():  # named <scope key>.<MD5>
            assert hashlib.md5(blob.read_bytes()).hexdigest() == blob.name.rsplit(".", 1)[-1], blob


@pytest.mark.slow
def test_ten_downloads_with_a_fifth_of_file_requests_failing(wandb_server, tmp_path: Path) -> None:
    """3,000 file requests, some 600 of them failed (a status, a reset or a cut body): every download
    still ends whole and verified. Ten rounds still meet each kind of fault some 200 times; thirty took
    ~13 s of CPU, the most of any test of the fast stage."""
    files = _files(300, 512)
    wandb_server.seed_artifact("many", files, project="p")
    client = _client(wandb_server, tmp_path, max_retries=12)
    wandb_server.set_faults({"seed": 11, "rules": [
        {"route": "files", "rate": 0.07, "kind": "status", "status": 503},
        {"route": "files", "rate": 0.07, "kind": "reset"},
        {"route": "files", "rate": 0.07, "kind": "truncate"},
    ]})
    wandb_server.reset_stats()
    for attempt in range(10):
        root = tmp_path / f"out-{attempt}"
        result = client.download("many", root, cache=False)
        assert result.bytes_downloaded == 300 * 512
        assert client.verify("many", root).ok
    assert wandb_server.stats()["files"] > 10 * 301  # faults forced retries


def test_persistently_corrupted_file_fails_and_publishes_nothing(wandb_server, tmp_path: Path) -> None:
    files = _files(20, 2048)
    wandb_server.seed_artifact("ds", files, project="p")
    root = tmp_path / "out"
    root.mkdir()
    (root / "existing.txt").write_text("untouched")
    wandb_server.set_faults([{"route": "files", "kind": "corrupt", "path": "part-0007.bin"}])
    with pytest.raises(ArtifactIntegrityError, match="part-0007.bin"):
        _client(wandb_server, tmp_path).download("ds", root)
    assert _tree(root) == {"existing.txt": b"untouched"}
    assert [p.name for p in tmp_path.iterdir() if "staging" in p.name] == []
    _cache_is_sound(tmp_path / "cache")


def test_expired_signed_url_is_refreshed(wandb_server, tmp_path: Path) -> None:
    wandb_server.seed_artifact("ds", {"a.txt": "a", "b.txt": "b"}, project="p")
    wandb_server.set_faults([{"route": "files", "kind": "status", "status": 403, "path": "/a.txt", "times": 1}])
    wandb_server.reset_stats()
    _client(wandb_server, tmp_path).download("ds", tmp_path / "out", max_workers=1)
    assert _tree(tmp_path / "out") == {"a.txt": b"a", "b.txt": b"b"}
    assert wandb_server.stats()["graphql"]["operations"]["ArtifactFileUrls"] == 2


def test_expired_manifest_url_is_refreshed(wandb_server, tmp_path: Path) -> None:
    wandb_server.seed_artifact("ds", {"a.txt": "a"}, project="p")
    wandb_server.set_faults([{"route": "files", "kind": "status", "status": 403, "path": "wandb_manifest.json",
                              "times": 1}])
    wandb_server.reset_stats()
    assert sorted(_client(wandb_server, tmp_path).manifest("ds").entries) == ["a.txt"]
    assert wandb_server.stats()["graphql"]["operations"]["ArtifactManifestUrl"] == 2


def test_download_killed_midway_then_rerun_completes(wandb_server, tmp_path: Path) -> None:
    files = _files(40, 256 * 1024)
    wandb_server.seed_artifact("big", files, project="p")
    wandb_server.set_faults([{"route": "files", "kind": "delay", "seconds": 0.1, "path": "/storage/blobs/"}])
    root, cache = tmp_path / "out", tmp_path / "cache"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, wandb_server.base_url, wandb_server.api_key, "demo/p/big", str(root),
         str(cache)],
        stdout=subprocess.PIPE, text=True,
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "starting"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not any(cache.rglob("*.bin")) and len(list(cache.rglob("*"))) < 8:
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    assert not root.exists() or _tree(root) == {}, "a killed download must not publish into root"
    wandb_server.set_faults(None)
    result = _client(wandb_server, tmp_path).download("demo/p/big", root)
    assert _tree(root) == files
    assert result.bytes_from_cache > 0
    _cache_is_sound(cache)
    assert [p.name for p in tmp_path.iterdir() if "staging" in p.name] == []


def test_four_processes_share_one_cache(wandb_server, tmp_path: Path) -> None:
    files = _files(60, 64 * 1024)
    wandb_server.seed_artifact("shared", files, project="p")
    cache = tmp_path / "cache"
    children = [
        subprocess.Popen([sys.executable, "-c", CHILD, wandb_server.base_url, wandb_server.api_key,
                          "demo/p/shared", str(tmp_path / f"out-{i}"), str(cache)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in range(4)
    ]
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err[-2000:]
        assert "done" in out
    for i in range(4):
        assert _tree(tmp_path / f"out-{i}") == files
    _cache_is_sound(cache)


def test_corrupt_and_cut_bodies_are_retried_with_logged_backoff_and_bounded(wandb_server, tmp_path: Path,
                                                                             caplog: pytest.LogCaptureFixture) -> None:
    import logging

    wandb_server.seed_artifact("ds", {"a.bin": os.urandom(4096)}, project="p")
    wandb_server.set_faults([{"route": "files", "kind": "corrupt", "path": "a.bin", "times": 2},
                             {"route": "files", "kind": "truncate", "path": "a.bin", "times": 1}])
    client = _client(wandb_server, tmp_path, max_retries=4, backoff_min=0.01, backoff_max=0.04)
    with caplog.at_level(logging.WARNING, logger="wandb_provider.client.download"):
        client.download("ds", tmp_path / "out", cache=False)
    waits = [r.getMessage() for r in caplog.records if "retrying in" in r.getMessage()]
    assert len(waits) == 3 and all("'a.bin'" in w and "of 5" in w for w in waits)
    assert "retrying now" not in caplog.text
    wandb_server.set_faults([{"route": "files", "kind": "corrupt", "path": "a.bin"}])
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="wandb_provider.client.download"), \
            pytest.raises(ArtifactIntegrityError):
        client.download("ds", tmp_path / "again", cache=False)
    assert len([r for r in caplog.records if "retrying in" in r.getMessage()]) == 4  # bounded: 5 attempts


@pytest.mark.parametrize("size", [pytest.param(64 << 10, id="small-cached-as-it-arrives"),
                                  pytest.param(9 << 20, id="big-hashed-behind")])
def test_a_file_is_verified_and_cached_only_when_whole(wandb_server, tmp_path: Path, size: int) -> None:
    """A small file's cache copy is written as it arrives, a big file (9 MiB) is hashed on a helper
    thread: either way a corrupt or cut attempt leaves nothing in the cache, and the retry's
    verified bytes land in the root and the cache."""
    big = os.urandom(size)
    wandb_server.seed_artifact("big", {"model.bin": big}, project="p")
    wandb_server.set_faults([{"route": "files", "kind": "corrupt", "path": "model.bin", "times": 1},
                             {"route": "files", "kind": "truncate", "path": "model.bin", "times": 1}])
    client = _client(wandb_server, tmp_path, max_retries=4)
    result = client.download("big", tmp_path / "out")
    assert (tmp_path / "out" / "model.bin").read_bytes() == big and result.bytes_downloaded == len(big)
    blobs = [p for p in (tmp_path / "cache" / "obj").rglob("*") if p.is_file()]
    assert len(blobs) == 1 and blobs[0].name.endswith(hashlib.md5(big).hexdigest())
    _cache_is_sound(tmp_path / "cache")
    again = client.download("big", tmp_path / "again")
    assert again.bytes_from_cache == len(big) and (tmp_path / "again" / "model.bin").read_bytes() == big

    other = os.urandom(size)
    wandb_server.seed_artifact("bad", {"model.bin": other}, project="p")
    wandb_server.set_faults([{"route": "files", "kind": "corrupt", "path": "model.bin"}])
    with pytest.raises(ArtifactIntegrityError, match="model.bin"):
        client.download("bad", tmp_path / "bad")
    assert [p for p in (tmp_path / "cache" / "obj").rglob("*") if p.is_file()] == blobs
    assert not (tmp_path / "bad" / "model.bin").exists()


NO_CACHE_CHILD = """
import sys
from wandb_provider.client import WandbClient
base_url, key, path, root = sys.argv[1:5]
client = WandbClient(base_url, key, backoff_min=0.01, backoff_max=0.05)
print("starting", flush=True)
client.download(path, root, max_workers=2, cache=False)
"""


def test_a_rerun_after_sigkill_reuses_the_files_already_fetched_and_removes_the_stale_staging(
        wandb_server, tmp_path: Path) -> None:
    files = _files(30, 128 * 1024)
    wandb_server.seed_artifact("big", files, project="p")
    wandb_server.set_faults([{"route": "files", "kind": "delay", "seconds": 0.2, "path": "/storage/blobs/"}])
    root = tmp_path / "out"
    child = subprocess.Popen([sys.executable, "-c", NO_CACHE_CHILD, wandb_server.base_url, wandb_server.api_key,
                              "demo/p/big", str(root)], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdout.readline().strip() == "starting"
    ledger = root / ".wandb-provider"

    def complete() -> int:
        return sum(1 for p in ledger.glob("staging-*/*/*") if p.stat().st_size == 128 * 1024)

    deadline = time.monotonic() + 30  # a bound for a failing run only; the files come in about a second
    while complete() < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    assert complete() >= 4 and _tree(root) == {}
    wandb_server.set_faults(None)
    wandb_server.reset_stats()
    result = _client(wandb_server, tmp_path).download("demo/p/big", root, cache=False)
    assert _tree(root) == files
    assert result.bytes_from_cache >= 4 * 128 * 1024  # what the killed run had verified is reused
    assert wandb_server.stats()["files"] <= 30 - 4 + 1  # the rest, and the manifest
    assert list(ledger.glob("staging-*")) == []
