"""``WandbClient.log_artifact``: W&B's upload sequence, checked through the official SDK as observer."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from wandb_provider.client import WandbClient
from wandb_provider.client.errors import (
    InvalidArtifactPathError,
    InvalidValueError,
    LocalFileError,
    ReferenceNotAllowedError,
    UnsupportedReferenceError,
    WandbError,
)

MIB = 1 << 20


def b64md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


@pytest.fixture
def client(wandb_env: Any) -> WandbClient:
    return WandbClient(wandb_env.base_url, wandb_env.api_key, entity=wandb_env.entity, project="p", max_retries=1,
                       backoff_min=0.05, backoff_max=0.1)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_bytes(b"hello\n")
    (root / "sub" / "b.bin").write_bytes(b"world")
    return root


def committed(client: WandbClient, server: Any, name: str) -> list[str]:
    """The committed versions of a collection; none is visible under ``latest`` otherwise."""
    try:
        versions = [v.version for v in client.versions(f"{server.entity}/p/{name}") if v.state == "COMMITTED"]
    except WandbError:
        versions = []
    if not versions:
        with pytest.raises(WandbError):
            client.artifact(f"{server.entity}/p/{name}:latest")
    return versions


def sdk_artifact(server: Any, path: str) -> Any:
    import wandb

    return wandb.Api().artifact(f"{server.entity}/p/{path}")


def test_logged_version_reads_back_through_the_sdk(client: WandbClient, wandb_env: Any, folder: Path,
                                                    tmp_path: Path) -> None:
    version = client.log_artifact("ds", "dataset", folder, metadata={"rows": 2, "nested": {"x": [1, 2]}},
                                  description="raw data", aliases=["best"], tags=["daily"])
    assert version.qualified_name == f"{wandb_env.entity}/p/ds:v0"
    # W&B's artifact digest of {a.txt: MD5("hello\n"), sub/b.bin: MD5("world")} (W&B docs: manifest digest)
    lines = f"wandb-artifact-manifest-v1\na.txt:{b64md5(b'hello' + bytes([10]))}\nsub/b.bin:{b64md5(b'world')}\n"
    assert version.digest == hashlib.md5(lines.encode()).hexdigest()
    artifact = sdk_artifact(wandb_env, "ds:best")
    assert artifact.version == "v0" and artifact.digest == version.digest
    assert set(artifact.aliases) == {"best", "latest"}
    assert artifact.metadata == {"rows": 2, "nested": {"x": [1, 2]}}
    assert artifact.description == "raw data" and artifact.type == "dataset"
    assert artifact.manifest.entries["a.txt"].digest == b64md5(b"hello\n")
    assert artifact.manifest.entries["sub/b.bin"].size == 5
    root = artifact.download(str(tmp_path / "sdk"))
    assert (Path(root) / "sub" / "b.bin").read_bytes() == b"world"
    artifact.verify(root)  # raises on any mismatch


def test_same_content_gives_the_existing_version_and_sends_no_bytes(
        client: WandbClient, wandb_env: Any, folder: Path, caplog: pytest.LogCaptureFixture) -> None:
    first = client.log_artifact("ds", "dataset", folder)
    wandb_env.reset_stats()
    with caplog.at_level(logging.INFO, logger="wandb_provider.client.upload"):
        again = client.log_artifact("ds", "dataset", {"": folder}, aliases=["prod"])
    assert again.id == first.id and again.version == "v0"
    stats = wandb_env.stats()
    assert stats["uploads"] == 0 and stats["upload_bytes"] == 0
    assert "CreateArtifactFiles" not in stats["graphql"]["operations"]
    assert "already has exactly this content" in caplog.text
    assert set(sdk_artifact(wandb_env, "ds:prod").aliases) == {"prod", "latest"}
    assert [v.version for v in client.versions(f"{wandb_env.entity}/p/ds")] == ["v0"]


def test_only_files_the_server_lacks_are_uploaded(client: WandbClient, wandb_env: Any, folder: Path) -> None:
    client.log_artifact("ds", "dataset", folder)
    (folder / "c.txt").write_bytes(b"new file")
    wandb_env.reset_stats()
    version = client.log_artifact("ds", "dataset", folder)
    assert version.version == "v1"
    assert wandb_env.stats()["upload_bytes"] == len(b"new file")
    assert sorted(sdk_artifact(wandb_env, "ds:v1").manifest.entries) == ["a.txt", "c.txt", "sub/b.bin"]


def test_mapping_glob_and_single_file(client: WandbClient, wandb_env: Any, folder: Path, tmp_path: Path) -> None:
    (folder / "x.csv").write_text("1\n")
    (folder / "y.csv").write_text("2\n")
    version = client.log_artifact("mixed", "dataset", {"raw": folder / "sub", "tables": str(folder / "*.csv"),
                                                       "README": folder / "a.txt"})
    assert sorted(sdk_artifact(wandb_env, "mixed:v0").manifest.entries) == [
        "README", "raw/b.bin", "tables/x.csv", "tables/y.csv"]
    assert version.file_count == 4
    single = client.log_artifact("one", "model", folder / "a.txt")
    assert list(sdk_artifact(wandb_env, "one:v0").manifest.entries) == ["a.txt"]
    assert single.size == 6


def test_symlinks_are_followed_only_inside_the_folder(client: WandbClient, wandb_env: Any, folder: Path,
                                                      tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("do not upload")
    (folder / "escape.txt").symlink_to(secret)
    (folder / "escape-dir").symlink_to(tmp_path)
    (folder / "alias.txt").symlink_to(folder / "a.txt")
    (folder / "loop").symlink_to(folder)
    client.log_artifact("links", "dataset", folder)
    names = sorted(sdk_artifact(wandb_env, "links:v0").manifest.entries)
    assert names == ["a.txt", "alias.txt", "sub/b.bin"]
    client.log_artifact("globbed", "dataset", {"g": str(folder / "*.txt")})
    assert sorted(sdk_artifact(wandb_env, "globbed:v0").manifest.entries) == ["g/a.txt", "g/alias.txt"]


@pytest.mark.parametrize(("kwargs", "error"), [
    ({"name": "too/many/parts/name"}, InvalidArtifactPathError),
    ({"name": "p//name"}, InvalidArtifactPathError),
    ({"name": "bad:name"}, InvalidArtifactPathError),
    ({"type": "wandb-history"}, InvalidValueError),
    ({"aliases": ["v3"]}, InvalidArtifactPathError),
    ({"aliases": ["a/b"]}, InvalidArtifactPathError),
    ({"tags": ["no!"]}, InvalidValueError),
    ({"metadata": {"x": float("nan")}}, InvalidValueError),
    ({"metadata": "{not json"}, InvalidValueError),
    ({"metadata": {"x": object()}}, InvalidValueError),
    ({"files": "does/not/exist"}, LocalFileError),
    ({"files": "nothing-*.matches"}, LocalFileError),
    ({"files": {"../up.txt": "a.txt"}}, InvalidValueError),
    ({"files": {"/abs.txt": "a.txt"}}, InvalidValueError),
    ({"files": {"same.txt": "a.txt", "same.txt/": "sub/b.bin"}}, InvalidValueError),
    ({"files": []}, InvalidValueError),
    ({"files": {"line\nbreak.txt": "a.txt"}}, InvalidValueError),
    ({"aliases": "['ok', 'bad/alias']"}, InvalidArtifactPathError),
    ({"multipart_threshold": "many"}, InvalidValueError),
    ({"run": {"entity": "demo", "project": "p", "run_id": "has space"}}, InvalidValueError),
    ({"project": "bad/project"}, InvalidArtifactPathError),
    ({"project": "wandb-registry-model"}, InvalidValueError),
    ({"project": 42}, InvalidValueError),
    ({"entity": ["demo"]}, InvalidValueError),
    ({"multipart_threshold": 0}, InvalidValueError),
    ({"references": ["s3://bucket/key"]}, UnsupportedReferenceError),
    ({"references": ["file:///etc/passwd"]}, ReferenceNotAllowedError),
    ({"references": ["http://127.0.0.1:1/x"]}, ReferenceNotAllowedError),
    ({"references": ["http://169.254.169.254/latest/meta-data"]}, ReferenceNotAllowedError),
])
def test_bad_input_is_refused_before_any_request(client: WandbClient, wandb_env: Any, folder: Path,
                                                 monkeypatch: pytest.MonkeyPatch, kwargs: dict[str, Any],
                                                 error: type[WandbError]) -> None:
    monkeypatch.chdir(folder)
    arguments: dict[str, Any] = {"name": "ds", "type": "dataset", "files": "a.txt", **kwargs}
    wandb_env.reset_stats()
    with pytest.raises(error) as raised:
        client.log_artifact(**arguments)
    assert isinstance(raised.value, WandbError) and str(raised.value)
    assert wandb_env.stats()["graphql"]["total"] == 0 and wandb_env.stats()["uploads"] == 0


def test_file_references_only_under_allowed_roots(wandb_env: Any, folder: Path, tmp_path: Path) -> None:
    client = WandbClient(wandb_env.base_url, wandb_env.api_key, entity=wandb_env.entity, project="p",
                         allowed_file_reference_roots=(str(folder),))
    client.log_artifact("refs", "dataset", references={"ref": f"file://{folder}/sub", "a": f"file://{folder}/a.txt"})
    entries = sdk_artifact(wandb_env, "refs:v0").manifest.entries
    assert entries["ref/b.bin"].ref == f"file://{folder}/sub/b.bin"
    assert entries["a"].digest == b64md5(b"hello\n") and entries["a"].size == 6
    assert wandb_env.stats()["upload_bytes"] == 0
    outside = tmp_path / "outside.txt"
    outside.write_text("x")
    (folder / "link.txt").symlink_to(outside)
    with pytest.raises(ReferenceNotAllowedError):
        client.log_artifact("refs", "dataset", references=[f"file://{folder}/link.txt"])


def test_http_reference_records_etag_and_size(wandb_env: Any, folder: Path) -> None:
    seeded = wandb_env.seed_artifact("src", {"x.bin": b"0123456789"}, project="p")
    reader = WandbClient(wandb_env.base_url, wandb_env.api_key, entity=wandb_env.entity)
    url = next(u.url for u in reader.file_urls(reader.artifact(f"{wandb_env.entity}/p/src:v0")))
    del seeded
    client = WandbClient(wandb_env.base_url, wandb_env.api_key, entity=wandb_env.entity, project="p",
                         allowed_reference_hosts=("127.0.0.1",))
    client.log_artifact("web", "dataset", folder / "a.txt", references={"remote.bin": url})
    entry = sdk_artifact(wandb_env, "web:v0").manifest.entries["remote.bin"]
    assert entry.ref == url and entry.size == 10
    assert entry.digest == hashlib.md5(b"0123456789").hexdigest()
    assert entry.extra["etag"] == f'"{entry.digest}"'


def test_multipart_upload_with_a_small_threshold(client: WandbClient, wandb_env: Any, tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    data = os.urandom(12 * MIB + 123)
    big.write_bytes(data)
    (tmp_path / "small.txt").write_bytes(b"small")
    wandb_env.reset_stats()
    client.log_artifact("big", "model", {"big.bin": big, "small.txt": tmp_path / "small.txt"},
                        multipart_threshold=5 * MIB)
    operations = wandb_env.stats()["graphql"]["operations"]
    assert operations["CompleteMultipartUploadArtifact"] == 1
    assert wandb_env.stats()["uploads"] == 3 + 1 + 1  # three 5 MiB parts, the small file, the manifest
    artifact = sdk_artifact(wandb_env, "big:v0")
    assert artifact.manifest.entries["big.bin"].digest == b64md5(data)
    root = artifact.download(str(tmp_path / "sdk"))
    assert hashlib.md5((Path(root) / "big.bin").read_bytes()).digest() == hashlib.md5(data).digest()
    # The same content again: nothing is sent, not even parts.
    wandb_env.reset_stats()
    client.log_artifact("big", "model", {"big.bin": big, "small.txt": tmp_path / "small.txt"},
                        multipart_threshold=5 * MIB)
    assert wandb_env.stats()["upload_bytes"] == 0


def test_server_refuses_a_completion_whose_parts_do_not_match(wandb_env: Any, tmp_path: Path) -> None:
    from wandb_provider.client import _queries as q

    client = WandbClient(wandb_env.base_url, wandb_env.api_key, entity=wandb_env.entity, project="p")
    real = client._graphql.execute

    def tampering(operation: Any, variables: Any = None, **kw: Any) -> Any:
        if operation is q.COMPLETE_MULTIPART_UPLOAD:
            variables = {**variables, "completedParts": variables["completedParts"][:-1]}
        return real(operation, variables, **kw)

    client._graphql.execute = tampering  # type: ignore[method-assign]
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(11 * MIB))
    with pytest.raises(InvalidValueError, match="lists parts"):
        client.log_artifact("big", "model", big, multipart_threshold=5 * MIB)
    assert committed(client, wandb_env, "big") == []


@contextlib.contextmanager
def _while_held(wandb_env: Any, rule: dict[str, Any], action: Callable[[], None]) -> Iterator[None]:
    """Hold the first request ``rule`` names, run ``action`` while it is held, then let it go on
    (the server's event, no timer); the block runs the call that makes the request."""
    wandb_env.set_faults({"rules": [{"kind": "hold", "seconds": 120, **rule}]})

    def act_while_held() -> None:
        try:
            if wandb_env.faults.wait_held(timeout=120):
                action()
        finally:
            wandb_env.faults.release()

    actor = threading.Thread(target=act_while_held)
    actor.start()
    try:
        yield
    finally:
        wandb_env.faults.release()
        actor.join()


def test_a_file_changing_during_the_upload_commits_nothing(client: WandbClient, wandb_env: Any,
                                                           tmp_path: Path) -> None:
    """The storage holds the file's PUT; the file is rewritten meanwhile, then the PUT goes on."""
    target = tmp_path / "growing.bin"
    target.write_bytes(b"a" * (3 * MIB))
    with _while_held(wandb_env, {"route": "uploads"}, lambda: target.write_bytes(b"b" * (3 * MIB))), \
            pytest.raises(LocalFileError, match="changed while it was being logged") as raised:
        client.log_artifact("changing", "dataset", target)
    assert raised.value.transient and wandb_env.stats()["uploads"] == 1
    assert "CommitArtifact" not in wandb_env.stats()["graphql"]["operations"]
    assert committed(client, wandb_env, "changing") == []


def test_a_rewrite_that_keeps_size_and_mtime_during_the_upload_is_named_as_such(client: WandbClient, wandb_env: Any,
                                                                                tmp_path: Path) -> None:
    """The file is rewritten in place after it was hashed, before its PUT (while W&B is asked for the
    upload URLs), its size kept and its mtime put back: its signature is the same. Storage refuses
    the PUT (the bytes do not match the Content-MD5), and the client reads the file again to say
    what happened."""
    target = tmp_path / "model.bin"
    target.write_bytes(b"a" * (3 * MIB))

    def rewrite_in_place() -> None:
        info = target.stat()
        with open(target, "r+b") as fh:
            fh.write(b"b" * (3 * MIB))
        os.utime(target, ns=(info.st_atime_ns, info.st_mtime_ns))

    with _while_held(wandb_env, {"route": "graphql", "operation": "CreateArtifactFiles", "times": 1},
                     rewrite_in_place), \
            pytest.raises(LocalFileError, match="its bytes differ from the bytes hashed") as raised:
        client.log_artifact("rewritten", "model", target)
    assert raised.value.transient
    assert "CommitArtifact" not in wandb_env.stats()["graphql"]["operations"]
    assert committed(client, wandb_env, "rewritten") == []


def test_a_file_changed_after_hashing_is_detected(client: WandbClient, wandb_env: Any, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from wandb_provider.client import _upload

    target = tmp_path / "f.txt"
    target.write_bytes(b"before")
    real = _upload.Uploader._upload_files

    def change_then_upload(self: Any, *args: Any, **kwargs: Any) -> Any:
        target.write_bytes(b"after!")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(_upload.Uploader, "_upload_files", change_then_upload)
    with pytest.raises(LocalFileError, match="changed while it was being logged"):
        client.log_artifact("changed", "dataset", target)
    assert committed(client, wandb_env, "changed") == []


KILLED_CHILD = textwrap.dedent("""
    import sys, threading, os, signal
    from wandb_provider.client import WandbClient, _upload
    base_url, key, entity, root = sys.argv[1:5]
    real = _upload.Uploader._put
    count = [0]
    lock = threading.Lock()
    def put(self, *args, **kwargs):
        result = real(self, *args, **kwargs)
        with lock:
            count[0] += 1
            if count[0] == 20:
                print("HALFWAY", flush=True)
                threading.Event().wait(60)
        return result
    _upload.Uploader._put = put
    WandbClient(base_url, key, entity=entity, project="p", max_workers=2).log_artifact("killed", "dataset", root)
""")


def test_an_upload_killed_midway_commits_nothing_and_a_rerun_completes(client: WandbClient, wandb_env: Any,
                                                                       tmp_path: Path) -> None:
    root = tmp_path / "many"
    root.mkdir()
    for i in range(60):
        (root / f"f{i:03d}.txt").write_text(f"file {i}\n")
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_CHILD, wandb_env.base_url, wandb_env.api_key, wandb_env.entity, str(root)],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "HALFWAY"
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    with pytest.raises(WandbError):
        client.artifact(f"{wandb_env.entity}/p/killed:latest")
    version = client.log_artifact("killed", "dataset", root)
    assert version.version == "v0" and version.state == "COMMITTED"
    assert [v.version for v in client.versions(f"{wandb_env.entity}/p/killed")] == ["v0"]
    assert len(sdk_artifact(wandb_env, "killed:latest").manifest.entries) == 60


def test_a_retried_create_makes_no_second_version(client: WandbClient, wandb_env: Any, folder: Path) -> None:
    # The answer to createArtifact is cut off after W&B made the version: the retry carries the
    # same clientID and gets the same version back.
    wandb_env.set_faults({"rules": [{"route": "graphql", "kind": "truncate", "times": 1}]})
    client = WandbClient(wandb_env.base_url, wandb_env.api_key, entity=wandb_env.entity, project="p",
                         backoff_min=0.01, backoff_max=0.02)
    version = client.log_artifact("ds", "dataset", folder)
    assert version.version == "v0"
    assert [v.version for v in client.versions(f"{wandb_env.entity}/p/ds")] == ["v0"]


def test_progress_is_reported(client: WandbClient, wandb_env: Any, folder: Path) -> None:
    updates: list[Any] = []
    client.log_artifact("ds", "dataset", folder, progress=updates.append)
    assert updates and updates[-1].files_done == updates[-1].files_total == 2
    assert updates[-1].describe().startswith("uploaded 2/2 files")


def test_manifest_is_what_the_sdk_would_write(client: WandbClient, wandb_env: Any, folder: Path) -> None:
    version = client.log_artifact("ds", "dataset", folder)
    manifest = client.manifest(version)
    assert {e.path for e in manifest} == {"a.txt", "sub/b.bin"}
    assert all(e.birth_artifact_id == version.id for e in manifest)


def test_upload_headers_from_the_server_cannot_set_framing_or_credentials() -> None:
    from wandb_provider.client._upload import upload_headers

    given = ["Content-MD5:abc==", "Content-Type: application/json", "Authorization:Basic x", "Host:evil",
             "Content-Length:1", "Transfer-Encoding:chunked", "X-Evil:a\r\nInjected: 1", "no colon", 42]
    assert upload_headers(given) == {"Content-MD5": "abc==", "Content-Type": "application/json"}
    assert upload_headers("Content-Type:x") == {}


def test_cancelled_before_upload_sends_nothing(client: WandbClient, wandb_env: Any, folder: Path) -> None:
    from wandb_provider.client.errors import CancelledError

    cancel = threading.Event()
    cancel.set()
    wandb_env.reset_stats()
    with pytest.raises(CancelledError):
        client.log_artifact("ds", "dataset", folder, cancel=cancel)
    assert wandb_env.stats()["graphql"]["total"] == 0


def test_values_are_typed_text_is_one_value(client: WandbClient, wandb_env: Any, folder: Path) -> None:
    """One ``str`` is one path, alias or tag; rendered list literals are read by the Airflow layer
    (tests/airflow/test_log_artifact_operator.py)."""
    wandb_env.reset_stats()
    with pytest.raises(LocalFileError):
        client.log_artifact("ds", "dataset", f"['{folder / 'a.txt'}', '{folder / 'sub'}']")
    with pytest.raises(InvalidArtifactPathError):
        client.log_artifact("ds", "dataset", folder / "a.txt", aliases="['candidate', 'latest']")
    assert wandb_env.stats()["graphql"]["total"] == 0
    version = client.log_artifact("ds", "dataset", [str(folder / "a.txt"), folder / "sub"],
                                  aliases="candidate", tags="nightly", metadata={"rows": 2})
    assert set(version.aliases) == {"candidate", "latest"} and version.metadata == {"rows": 2}
    assert sorted(e.path for e in client.manifest(version)) == ["a.txt", "b.bin"]


def test_one_refused_upload_stops_the_rest_and_commits_nothing(client: WandbClient, wandb_env: Any,
                                                               tmp_path: Path) -> None:
    from wandb_provider.client.errors import PermissionDeniedError

    root = tmp_path / "many"
    root.mkdir()
    for i in range(40):
        (root / f"f{i:02d}.txt").write_text(f"file {i}\n")
    wandb_env.set_faults({"rules": [{"route": "uploads", "kind": "status", "status": 403, "times": 1}]})
    with pytest.raises(PermissionDeniedError):  # the cause, not the cancellation of the other PUTs
        client.log_artifact("refused", "dataset", root)
    assert "CommitArtifact" not in wandb_env.stats()["graphql"]["operations"]
    assert committed(client, wandb_env, "refused") == []
    wandb_env.set_faults(None)
    assert client.log_artifact("refused", "dataset", root).version == "v0"


def test_two_runs_of_the_same_request_at_once_make_one_version(wandb_env: Any, tmp_path: Path) -> None:
    root = tmp_path / "same"
    root.mkdir()
    for i in range(30):
        (root / f"f{i:02d}.txt").write_text(f"file {i}\n")
    # Slow storage, so both calls are uploading into the same PENDING version at the same time.
    wandb_env.set_faults({"rules": [{"route": "uploads", "kind": "delay", "seconds": 0.3}]})
    results: list[Any] = []

    def log() -> None:
        client = WandbClient(wandb_env.base_url, wandb_env.api_key, entity=wandb_env.entity, project="p")
        try:
            results.append(client.log_artifact("same", "dataset", root, aliases=["x"]))
        except WandbError as exc:  # pragma: no cover - reported by the assertion below
            results.append(exc)

    threads = [threading.Thread(target=log) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(not isinstance(r, Exception) for r in results), results
    assert {r.id for r in results} == {results[0].id}
    reader = WandbClient(wandb_env.base_url, wandb_env.api_key, entity=wandb_env.entity, project="p")
    assert committed(reader, wandb_env, "same") == ["v0"]


def test_cancelled_during_the_uploads_stops_them_and_commits_nothing(client: WandbClient, wandb_env: Any,
                                                                     tmp_path: Path) -> None:
    from wandb_provider.client.errors import CancelledError

    root = tmp_path / "many"
    root.mkdir()
    for i in range(200):
        (root / f"f{i:03d}.txt").write_text(f"file {i}\n")
    # Two files are stored, then the storage holds every further PUT until the test releases them:
    # the cancel comes while uploads are under way (the server's event, no timer), and the call must
    # end by abandoning the held PUTs, long before the hold would end by itself.
    wandb_env.set_faults({"rules": [{"route": "uploads", "kind": "hold", "after": 2, "seconds": 120}]})
    cancel = threading.Event()

    def cancel_while_a_put_is_held() -> None:
        if wandb_env.faults.wait_held(timeout=120):
            cancel.set()

    canceller = threading.Thread(target=cancel_while_a_put_is_held)
    canceller.start()
    started = time.monotonic()
    try:
        with pytest.raises(CancelledError):
            client.log_artifact("cancelled", "dataset", root, cancel=cancel, max_workers=2)
        assert time.monotonic() - started < 60
    finally:
        wandb_env.faults.release()
        canceller.join()
    assert cancel.is_set()
    stats = wandb_env.stats()
    assert "CommitArtifact" not in stats["graphql"]["operations"]
    assert 0 < stats["upload_bytes"] < sum(f.stat().st_size for f in root.iterdir())
    assert committed(client, wandb_env, "cancelled") == []


def test_puts_carry_the_servers_upload_headers_and_parts_their_own_md5(client: WandbClient, wandb_env: Any,
                                                                      tmp_path: Path) -> None:
    """As wandb-core: a whole file and the manifest send only ``uploadHeaders`` (with which W&B asks
    for the MD5 it signed); a part sends its Content-MD5 and Content-Type; ETags go back raw."""
    from wandb_provider.client import _queries as q

    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(11 * MIB))
    (tmp_path / "small.txt").write_bytes(b"small")
    completions: list[Any] = []
    real = client._graphql.execute

    def observing(operation: Any, variables: Any = None, **kw: Any) -> Any:
        if operation is q.COMPLETE_MULTIPART_UPLOAD:
            completions.append(variables)
        return real(operation, variables, **kw)

    client._graphql.execute = observing  # type: ignore[method-assign]
    wandb_env.reset_stats()
    version = client.log_artifact("hdr", "model", {"big.bin": big, "small.txt": tmp_path / "small.txt"},
                                  multipart_threshold=5 * MIB)
    sent = wandb_env.upload_requests()
    framing = {"path", "host", "content-length", "accept-encoding", "user-agent", "connection", "content-type"}
    small = [r for r in sent if "/parts/" not in r["path"] and r.get("content-type") != "application/json"]
    assert len(small) == 1 and small[0]["content-md5"] == b64md5(b"small")
    assert set(small[0]) - framing == {"content-md5"}
    manifest = [r for r in sent if r.get("content-type") == "application/json"]
    assert len(manifest) == 1 and set(manifest[0]) - framing == {"content-md5"}
    parts = [r for r in sent if "/parts/" in r["path"] or r.get("content-type") == "application/octet-stream"]
    assert len(parts) == 3
    data = big.read_bytes()
    sizes = [5 * MIB, 5 * MIB, MIB]
    for part in parts:
        assert set(part) - framing == {"content-md5"} and part["content-type"] == "application/octet-stream"
    expected_md5s = {b64md5(data[i * 5 * MIB:i * 5 * MIB + size]) for i, size in enumerate(sizes)}
    assert {p["content-md5"] for p in parts} == expected_md5s
    assert sorted(int(p["content-length"]) for p in parts) == sorted(sizes)
    (completion,) = completions
    assert all(p["hexMD5"].startswith('"') and p["hexMD5"].endswith('"') for p in completion["completedParts"])
    assert completion["artifactID"] == version.id
    assert {e.path for e in client.manifest(version)} == {"big.bin", "small.txt"}


def test_part_sizes_follow_the_sdk_rule() -> None:
    from wandb_provider.client._hashing_files import MAX_PARTS, part_size_for

    two_gib, hundred = 2 << 30, 100 * MIB
    assert part_size_for(two_gib - 1, two_gib) == 0
    assert part_size_for(two_gib, two_gib) == hundred
    assert part_size_for(hundred * MAX_PARTS, two_gib) == hundred  # exactly 10,000 parts
    grown = part_size_for(hundred * MAX_PARTS + 1, two_gib)  # one byte more: bigger parts, 4 KiB aligned
    assert grown % 4096 == 0 and grown >= (hundred * MAX_PARTS + 1) / MAX_PARTS and grown - hundred == 4096
    assert part_size_for(1 << 40, two_gib) == -(-((1 << 40) // MAX_PARTS + 1) // 4096) * 4096
    assert part_size_for(12 * MIB, 5 * MIB) == 5 * MIB  # a smaller threshold scales the parts


def test_an_etag_naming_other_bytes_is_an_integrity_error() -> None:
    from wandb_provider.client._upload import check_stored, expected_md5
    from wandb_provider.client.errors import ArtifactIntegrityError

    md5 = hashlib.md5(b"sent").digest()
    other = hashlib.md5(b"other").hexdigest()
    check_stored(f'"{md5.hex()}"', md5, "upload", {})
    check_stored('"0x8DC0A1B2C3D4E5F"', md5, "upload", {})  # Azure's ETag says nothing about the bytes
    check_stored(f'"{md5.hex()}-3"', md5, "upload", {})  # a multipart object's ETag neither
    check_stored(None, md5, "upload", {})
    # Storage checked a Content-MD5 itself; an S3 SSE-KMS ETag is no MD5 and must not fail the upload.
    check_stored(f'"{other}"', md5, "upload", {"Content-MD5": b64md5(b"sent")})
    with pytest.raises(ArtifactIntegrityError, match="not the"):
        check_stored(f'"{other}"', md5, "upload", {"Content-Type": "text/plain"})
    expected_md5({"Content-MD5": b64md5(b"sent")}, md5, "upload")
    with pytest.raises(ArtifactIntegrityError, match="W&B expects bytes"):
        expected_md5({"content-md5": b64md5(b"other")}, md5, "upload")


def test_same_content_with_new_metadata_description_and_tags_applies_them_to_the_existing_version(
        client: WandbClient, wandb_env: Any, folder: Path, caplog: pytest.LogCaptureFixture) -> None:
    first = client.log_artifact("ds", "dataset", folder, metadata={"rows": 2}, description="v1 data")
    client.update(first, metadata={"eval": {"accuracy": 0.9}})  # written by a later step: must be kept
    created: list[bool] = []
    with caplog.at_level(logging.WARNING, logger="wandb_provider.client.upload"):
        again = client.log_artifact("ds", "dataset", folder, metadata={"rows": 3, "source": "nightly"},
                                    description="nightly data", tags=["nightly"], created=created.append)
    assert created == [False] and again.id == first.id
    assert "applied the new metadata, description, tags" in caplog.text
    artifact = sdk_artifact(wandb_env, "ds:v0")
    assert artifact.metadata == {"rows": 3, "source": "nightly", "eval": {"accuracy": 0.9}}
    assert artifact.description == "nightly data" and artifact.tags == ["nightly"]
    assert again.metadata == artifact.metadata and again.tags == ("nightly",)
    assert [v.version for v in client.versions(f"{wandb_env.entity}/p/ds")] == ["v0"]
    wandb_env.reset_stats()
    caplog.clear()
    client.log_artifact("ds", "dataset", folder, metadata={"rows": 3}, tags=["nightly"])  # nothing new: no write
    assert "UpdateArtifact" not in wandb_env.stats()["graphql"]["operations"] and "applied" not in caplog.text
