"""Versions logged by the official SDK pass the manifest integrity check and download intact."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

import pytest
import xxhash

from tests.client._roots_helpers import user_view
from wandb_provider.client import WandbClient

wandb = pytest.importorskip("wandb")

pytestmark = [pytest.mark.sdk, pytest.mark.timeout(240)]


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def test_sdk_logged_versions_pass_the_digest_check(wandb_env, tmp_path: Path, run_dag: Any,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    for key, sub in {"WANDB_DIR": "wandb-dir", "WANDB_CACHE_DIR": "wandb-cache", "WANDB_DATA_DIR": "wandb-data",
                     "WANDB_ARTIFACT_DIR": "artifacts", "WANDB_CONFIG_DIR": "wandb-config"}.items():
        monkeypatch.setenv(key, str(tmp_path / sub))
    for key, value in {"WANDB_MODE": "online", "WANDB_CONSOLE": "off", "WANDB_SILENT": "true",
                       "WANDB_DISABLE_GIT": "true", "WANDB_DISABLE_CODE": "true"}.items():
        monkeypatch.setenv(key, value)
    (tmp_path / "wandb-dir").mkdir()
    src = tmp_path / "src"
    (src / "sub" / "deep").mkdir(parents=True)
    (src / "a.txt").write_text("hello\n")
    (src / "sub" / "deep" / "c.json").write_text('{"k": 1}\n')
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "referenced.txt").write_text("kept outside the artifact\n")

    settings = wandb.Settings(base_url=wandb_env.base_url, api_key=wandb_env.api_key, x_disable_stats=True,
                              x_disable_machine_info=True)
    run = wandb.init(entity=wandb_env.entity, project="sdk", id="sdk-logged", settings=settings)
    art = wandb.Artifact("sdk-ds", "dataset")
    art.add_dir(str(src))
    art.add_reference((shared / "referenced.txt").as_uri(), name="refs/referenced.txt")
    run.log_artifact(art).wait()
    fast = wandb.Artifact("sdk-xxh", "dataset", digest_algorithm="XXH128")
    fast.add_file(str(src / "a.txt"), name="a.txt")
    run.log_artifact(fast).wait()
    run.finish()

    client = WandbClient(wandb_env.base_url, wandb_env.api_key, entity=wandb_env.entity, project="sdk",
                         cache_dir=str(tmp_path / "cache"), allowed_file_reference_roots=(str(shared),))
    root = tmp_path / "out"
    client.download("sdk-ds", root, mode="checkout")
    assert {k: v for k, v in user_view(root).items() if v != "<dir>"} == {
        "a.txt": b"hello\n", "sub/deep/c.json": b'{"k": 1}\n', "refs/referenced.txt": b"kept outside the artifact\n"}
    assert client.verify("sdk-ds", root).ok
    client.download("sdk-xxh", tmp_path / "xxh")
    assert (tmp_path / "xxh" / "a.txt").read_text() == "hello\n"
    check_xxh128_version(wandb_env, client, tmp_path, run_dag, monkeypatch)


def check_xxh128_version(server: Any, client: WandbClient, tmp_path: Path, run_dag: Any,
                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK's XXH128 version: our client, the command line and the operators download and verify it;
    the download cache keeps its bytes apart; damaged stored bytes are an integrity error."""
    import json

    from wandb_provider.cli import main
    from wandb_provider.client.errors import ArtifactIntegrityError

    version = client.artifact("sdk-xxh:latest")
    (entry,) = client.manifest(version)
    assert entry.extra == {"alg": "XXH128"} and entry.digest == b64(xxhash.xxh3_128(b"hello\n").digest())
    assert version.digest == xxhash.xxh3_128(f"wandb-artifact-manifest-v1\na.txt:{entry.digest}\n".encode()).hexdigest()
    assert client.verify("sdk-xxh", tmp_path / "xxh").ok
    (tmp_path / "xxh" / "a.txt").write_text("hellO\n")
    assert not client.verify("sdk-xxh", tmp_path / "xxh").ok
    cached = [p for p in (tmp_path / "cache" / "obj").rglob("*xxh128-*") if p.is_file()]  # apart from MD5 blobs
    assert [p.read_bytes() for p in cached] == [b"hello\n"]
    client.download("sdk-xxh", tmp_path / "again")  # from the cache, hashed again on the way out
    assert (tmp_path / "again" / "a.txt").read_bytes() == b"hello\n"

    monkeypatch.setenv("WANDB_PROVIDER_CACHE_DIR", str(tmp_path / "cli-cache"))
    assert main(["get", "sdk/sdk-xxh:latest", "--root", str(tmp_path / "cli")]) == 0
    assert main(["verify", "sdk/sdk-xxh:latest", str(tmp_path / "cli")]) == 0
    (tmp_path / "cli" / "a.txt").write_text("changed\n")
    assert main(["verify", "sdk/sdk-xxh:latest", str(tmp_path / "cli")]) == 5

    out = tmp_path / "xcom.json"
    monkeypatch.setenv("WANDB_PROVIDER_TEST_OUT", str(out))
    monkeypatch.setenv("WANDB_PROVIDER_DOWNLOAD_ROOT", str(tmp_path / "dag-downloads"))
    monkeypatch.setenv("WANDB_PROVIDER_CACHE_DIR", str(tmp_path / "dag-cache"))
    assert run_dag("xxh128_use_and_verify").state == "success"
    report = json.loads(out.read_text())["verify"]
    assert report["ok"] is True and report["files"]["checked"] == 1

    # The stored bytes damaged (same size): the XXH128 check refuses them, nothing is published.
    blob = server.store.blobs.path(hashlib.md5(b"hello\n").hexdigest())
    blob.write_bytes(b"jello\n")
    fresh = WandbClient(server.base_url, server.api_key, entity=server.entity, project="sdk",
                        cache_dir=str(tmp_path / "empty-cache"), max_retries=0)
    with pytest.raises(ArtifactIntegrityError):
        fresh.download("sdk-xxh", tmp_path / "damaged")
    assert not (tmp_path / "damaged" / "a.txt").exists()
