"""Downloads against the local server: whole, partial, single file, modes, references, re-runs, verify."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

import pytest
import requests

from wandb_provider.client import (
    ArtifactIntegrityError,
    NotFoundError,
    ProgressUpdate,
    UnsafePathError,
    UnsupportedReferenceError,
    WandbClient,
)
from wandb_provider.testing import SeedFile

FILES = {"a.txt": "alpha\n", "data/b.csv": "x,y\n1,2\n", "data/deep/c.bin": os.urandom(3000)}


@pytest.fixture
def client(wandb_server, tmp_path: Path) -> WandbClient:
    return WandbClient(wandb_server.base_url, wandb_server.api_key, entity="demo", project="p",
                       cache_dir=str(tmp_path / "cache"), backoff_min=0.01, backoff_max=0.05)


def _b64md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def _tree(root: Path) -> dict[str, bytes]:
    """The user's view of ``root``: every file but the provider's ledger folder."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*")
            if p.is_file() and p.relative_to(root).parts[0] != ".wandb-provider"}


def _expected(files: dict[str, str | bytes]) -> dict[str, bytes]:
    return {k: v.encode() if isinstance(v, str) else v for k, v in files.items()}


def test_whole_download_then_rerun_skips(wandb_server, client: WandbClient, tmp_path: Path) -> None:
    wandb_server.seed_artifact("ds", FILES, project="p")
    root = tmp_path / "out"
    first = client.download("ds", root)
    assert _tree(root) == _expected(FILES)
    assert first.bytes_downloaded == sum(len(v) for v in _expected(FILES).values())
    assert (first.skipped_existing, first.bytes_from_cache) == (0, 0)
    wandb_server.reset_stats()
    again = client.download("ds", root)
    assert (again.skipped_existing, again.bytes_downloaded, again.bytes_from_cache) == (3, 0, 0)
    assert wandb_server.stats()["files"] == 1  # the manifest only


def test_cache_serves_a_second_root_without_file_bytes(wandb_server, client: WandbClient, tmp_path: Path) -> None:
    wandb_server.seed_artifact("ds", FILES, project="p")
    client.download("ds", tmp_path / "one")
    wandb_server.reset_stats()
    result = client.download("ds", tmp_path / "two")
    assert result.bytes_downloaded == 0 and result.bytes_from_cache > 0
    assert wandb_server.stats()["files"] == 1  # the manifest; no file bytes over the network
    assert _tree(tmp_path / "two") == _expected(FILES)


def test_cache_false_bypasses_the_cache(wandb_server, client: WandbClient, tmp_path: Path) -> None:
    wandb_server.seed_artifact("ds", FILES, project="p")
    client.download("ds", tmp_path / "one", cache=False)
    assert not (tmp_path / "cache").exists()


def test_corrupt_cache_entry_is_replaced(wandb_server, client: WandbClient, tmp_path: Path) -> None:
    wandb_server.seed_artifact("ds", {"a.txt": "alpha\n"}, project="p")
    client.download("ds", tmp_path / "one")
    (blob,) = [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    blob.write_bytes(b"evil!!")
    result = client.download("ds", tmp_path / "two")
    assert (tmp_path / "two" / "a.txt").read_bytes() == b"alpha\n"
    assert result.bytes_downloaded == 6
    assert blob.read_bytes() == b"alpha\n"


@pytest.mark.parametrize("size", [16 << 10, (1 << 20) + 5], ids=["small-one-read", "large-kernel-copy"])
@pytest.mark.parametrize("damage", ["flipped-byte", "longer", "shorter"])
def test_a_damaged_cache_blob_of_any_size_is_never_published(wandb_server, client: WandbClient, tmp_path: Path,
                                                             size: int, damage: str) -> None:
    """Copies out of the cache (one read for small files, a kernel copy for large ones) are checked
    against the manifest's digest, whatever the damage: the file is fetched again, the blob mended."""
    data = os.urandom(size)
    wandb_server.seed_artifact("ds", {"f.bin": data}, project="p")
    client.download("ds", tmp_path / "one")
    (blob,) = [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    bad = {"flipped-byte": data[:-1] + bytes([data[-1] ^ 1]), "longer": data + b"x", "shorter": data[:-1]}[damage]
    blob.write_bytes(bad)
    result = client.download("ds", tmp_path / "two")
    assert (tmp_path / "two" / "f.bin").read_bytes() == data
    assert (result.bytes_downloaded, result.bytes_from_cache) == (size, 0)
    assert blob.read_bytes() == data
    again = client.download("ds", tmp_path / "three")
    assert (again.bytes_downloaded, again.bytes_from_cache) == (0, size)
    assert (tmp_path / "three" / "f.bin").read_bytes() == data


@pytest.mark.parametrize(
    ("include", "exclude", "expected"),
    [
        pytest.param("*.txt", None, {"a.txt"}, id="glob"),
        pytest.param(["data/b.csv"], None, {"data/b.csv"}, id="exact"),
        pytest.param("data", None, {"data/b.csv", "data/deep/c.bin"}, id="folder"),
        pytest.param(None, ["data/deep/*"], {"a.txt", "data/b.csv"}, id="exclude"),
        pytest.param("data/*", "*.bin", {"data/b.csv"}, id="both"),
    ],
)
def test_partial_downloads(wandb_server, client: WandbClient, tmp_path: Path, include, exclude, expected) -> None:
    wandb_server.seed_artifact("ds", FILES, project="p")
    result = client.download("ds", tmp_path / "out", include=include, exclude=exclude)
    assert set(result.files) == expected
    assert set(_tree(tmp_path / "out")) == expected


def test_single_file(wandb_server, client: WandbClient, tmp_path: Path) -> None:
    wandb_server.seed_artifact("ds", FILES, project="p")
    path = client.download_file("ds:v0", "data/deep/c.bin", tmp_path / "out")
    assert path.read_bytes() == FILES["data/deep/c.bin"]
    assert set(_tree(tmp_path / "out")) == {"data/deep/c.bin"}
    with pytest.raises(NotFoundError, match="no file 'nope.txt'"):
        client.download_file("ds:v0", "nope.txt", tmp_path / "out")


def test_merge_keeps_and_checkout_removes_only_with_remove_foreign(wandb_server, client: WandbClient,
                                                                   tmp_path: Path) -> None:
    wandb_server.seed_artifact("ds", FILES, project="p")
    root = tmp_path / "out"
    (root / "mine").mkdir(parents=True)
    (root / "mine" / "notes.txt").write_text("keep me")
    client.download("ds", root, mode="merge")
    assert (root / "mine" / "notes.txt").exists()
    client.download("ds", root, mode="checkout")  # the provider did not place mine/notes.txt: it stays
    assert (root / "mine" / "notes.txt").read_text() == "keep me"
    client.download("ds", root, mode="checkout", remove_foreign=True)
    assert _tree(root) == _expected(FILES)
    assert not (root / "mine").exists()


def test_verify_report(wandb_server, client: WandbClient, tmp_path: Path) -> None:
    wandb_server.seed_artifact("ds", FILES, project="p")
    root = tmp_path / "out"
    client.download("ds", root)
    assert client.verify("ds", root).ok
    (root / "a.txt").write_text("changed")
    (root / "data" / "b.csv").unlink()
    (root / "extra.txt").write_text("?")
    report = client.verify("ds", root)
    assert (report.missing, report.mismatched, report.unexpected) == (("data/b.csv",), ("a.txt",), ("extra.txt",))
    assert not report.ok
    client.download("ds", root, remove_foreign=True)  # repairs: a.txt was edited, so it needs the opt-in
    assert client.verify("ds", root).mismatched == ()


def test_file_reference(wandb_server, client: WandbClient, tmp_path: Path) -> None:
    source = tmp_path / "source.txt"
    source.write_bytes(b"referenced\n")
    uri = source.as_uri()
    wandb_server.seed_artifact("refs", {"ref.txt": SeedFile("ref.txt", ref=uri, digest=_b64md5(b"referenced\n"),
                                                             size=11)}, project="p")
    allowed = WandbClient(wandb_server.base_url, wandb_server.api_key, entity="demo", project="p",
                          cache_dir=str(tmp_path / "cache"), allowed_file_reference_roots=(str(tmp_path),))
    allowed.download("refs", tmp_path / "out")
    assert (tmp_path / "out" / "ref.txt").read_bytes() == b"referenced\n"
    source.write_bytes(b"changed!!!\n")
    with pytest.raises(ArtifactIntegrityError, match="has changed since it was logged"):
        allowed.download("refs", tmp_path / "out2")
    assert not (tmp_path / "out2").exists() or not any((tmp_path / "out2").iterdir())


def test_http_reference_checked_by_etag(wandb_server, client: WandbClient, tmp_path: Path) -> None:
    stored = wandb_server.seed_artifact("plain", {"h.txt": "over http\n"}, project="p")
    url = client.file_urls(client.artifact_by_id(_gid(stored.id)))[0].url
    etag = requests.head(url, timeout=60).headers["ETag"]
    wandb_server.seed_artifact(
        "httpref", {"h.txt": SeedFile("h.txt", ref=url, digest=etag.strip('"'), size=10, extra={"etag": etag})},
        project="p",
    )
    client = WandbClient(wandb_server.base_url, wandb_server.api_key, entity="demo", project="p",
                         cache_dir=str(tmp_path / "cache"), allowed_reference_hosts=("127.0.0.1",))
    client.download("httpref", tmp_path / "out")
    assert (tmp_path / "out" / "h.txt").read_bytes() == b"over http\n"
    wandb_server.seed_artifact(
        "stale", {"h.txt": SeedFile("h.txt", ref=url, digest="0" * 32, size=10, extra={"etag": '"' + "0" * 32 + '"'})},
        project="p",
    )
    with pytest.raises(ArtifactIntegrityError, match="ETag"):
        client.download("stale", tmp_path / "out2")


def test_s3_references_are_refused_clearly(wandb_server, client: WandbClient, tmp_path: Path) -> None:
    wandb_server.seed_artifact("s3", {"k": SeedFile("k", ref="s3://bucket/key", digest="etag", size=3)}, project="p")
    with pytest.raises(UnsupportedReferenceError, match="object store for s3://"):
        client.download("s3", tmp_path / "out")
    assert client.download("s3", tmp_path / "out", exclude="k", allow_empty=True).files == ()


def test_progress_is_reported(wandb_server, client: WandbClient, tmp_path: Path,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    wandb_server.seed_artifact("ds", FILES, project="p")
    updates: list[ProgressUpdate] = []
    from wandb_provider.client import _download

    original = _download._Progress.__init__

    def eager(self, *args, **kwargs):  # report every change, not every 5 s
        original(self, *args, **kwargs)
        self.interval = 0.0

    monkeypatch.setattr(_download._Progress, "__init__", eager)
    client.download("ds", tmp_path / "out", progress=updates.append, max_workers=1)
    assert updates and updates[-1].files_done == 3 and updates[-1].files_total == 3
    assert "3/3 files" in updates[-1].describe()


def test_unsafe_manifest_is_refused_before_any_write(wandb_server, client: WandbClient, tmp_path: Path) -> None:
    wandb_server.seed_artifact("evil", {"ok.txt": "fine", "../escape.txt": "x"}, project="p")
    root = tmp_path / "nested" / "out"
    with pytest.raises(UnsafePathError, match="escape.txt"):
        client.download("evil", root)
    assert not (tmp_path / "nested").exists()
    assert not (tmp_path / "escape.txt").exists()


def _gid(number: int) -> str:
    from wandb_provider.testing import ids

    return ids.encode("Artifact", number)


def test_cache_size_limit_evicts_least_recently_used(wandb_server, tmp_path: Path) -> None:
    for name in ("old", "mid", "new"):
        wandb_server.seed_artifact(name, {f"{name}.bin": os.urandom(1000)}, project="p")
    client = WandbClient(wandb_server.base_url, wandb_server.api_key, entity="demo", project="p",
                         cache_dir=str(tmp_path / "cache"), cache_max_bytes=2500)
    for name in ("old", "mid", "new"):
        client.download(name, tmp_path / name)
        os.utime(tmp_path / name / f"{name}.bin", (0, 0) if name == "old" else None)  # "old" was used first
    blobs = [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    assert len(blobs) == 2
    kept = {b.read_bytes() for b in blobs}
    assert (tmp_path / "old" / "old.bin").read_bytes() not in kept
    assert (tmp_path / "new" / "new.bin").read_bytes() in kept


def test_from_env(wandb_server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_BASE_URL", wandb_server.base_url + "/")
    monkeypatch.setenv("WANDB_API_KEY", wandb_server.api_key)
    monkeypatch.setenv("WANDB_ENTITY", "demo")
    monkeypatch.setenv("WANDB_PROJECT", "p")
    wandb_server.seed_artifact("ds", {"a.txt": "a"}, project="p")
    client = WandbClient.from_env()
    assert client.config.base_url == wandb_server.base_url
    assert client.artifact("ds").qualified_name == "demo/p/ds:v0"


def test_a_cache_that_cannot_be_written_costs_only_speed(wandb_server, tmp_path: Path,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    """The cache folder cannot be made (a file stands in its way): every file still downloads, and
    the cache says so once, not once per file."""
    import logging

    wandb_server.seed_artifact("ds", FILES, project="p")
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file, not a folder")
    client = WandbClient(wandb_server.base_url, wandb_server.api_key, entity="demo", project="p",
                         cache_dir=str(blocker / "cache"))
    with caplog.at_level(logging.WARNING, logger="wandb_provider.client.cache"):
        result = client.download("ds", tmp_path / "out")
    assert _tree(tmp_path / "out") == _expected(FILES) and result.bytes_from_cache == 0
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1 and messages[0].startswith(f"The download cache {blocker / 'cache'} cannot be written")


def test_a_cache_write_that_fails_midway_is_said_once_and_names_nothing(tmp_path: Path) -> None:
    from wandb_provider.client._cache import BlobWriter

    reasons: list[OSError] = []
    folder = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    unwritable = os.open(tmp_path / "opened-read-only", os.O_RDONLY | os.O_CREAT)  # every write fails (EBADF)
    writer = BlobWriter(unwritable, "blob", folder, reasons.append)
    try:
        writer.write(b"bytes")
        writer.write(b"more bytes")
        assert not writer.commit() and len(reasons) == 1
    finally:
        writer.close()
        os.close(folder)
    assert not (tmp_path / "blob").exists()
