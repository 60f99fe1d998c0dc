"""Logging with ``digest_algorithm="XXH128"`` (client, LogArtifactOperator, command line) behaves as the
SDK's: XXH128 entries and version digest, MD5 for storage, MD5 where W&B says so; the SDK observes."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest
import xxhash

from wandb_provider.client import WandbClient
from wandb_provider.client.errors import InvalidValueError

wandb = pytest.importorskip("wandb")

pytestmark = [pytest.mark.sdk, pytest.mark.timeout(240)]
MIB = 1 << 20


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@pytest.fixture
def client(wandb_env: Any, tmp_path: Path) -> WandbClient:
    return WandbClient(wandb_env.base_url, wandb_env.api_key, entity=wandb_env.entity, project="p",
                       cache_dir=str(tmp_path / "cache"))


def sdk(server: Any) -> Any:
    return wandb.Api(api_key=server.api_key, overrides={"base_url": server.base_url})


def test_an_xxh128_version_is_what_the_sdk_logs_and_reads(client: WandbClient, wandb_env: Any,
                                                         tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_bytes(b"hello\n")
    big = os.urandom(11 * MIB)
    (src / "big.bin").write_bytes(big)
    requests: list[tuple[str, Any]] = []
    real = client._graphql.execute

    def observing(operation: Any, variables: Any = None, **kw: Any) -> Any:
        requests.append((operation.name, variables))
        return real(operation, variables, **kw)

    client._graphql.execute = observing  # type: ignore[method-assign]
    version = client.log_artifact("fast", "dataset", src, digest_algorithm="xxh128", multipart_threshold=5 * MIB)
    names = [name for name, _ in requests]
    assert names.index("XXHashDigestsEnabled") < names.index("FetchArtifactDigestAlgorithm") \
        < names.index("CreateArtifact")
    create = dict(requests)["CreateArtifact"]["input"]
    assert create["digestAlgorithm"] == "MANIFEST_XXH128"
    files = dict(requests)["CreateArtifactFiles"]["input"]
    assert files["digestAlgorithm"] == "MANIFEST_XXH128"
    spec = {s["name"]: s for s in files["artifactFiles"]}
    assert spec["a.txt"]["md5"] == b64(hashlib.md5(b"hello\n").digest())  # storage still checks MD5
    assert spec["a.txt"]["digest"] == b64(xxhash.xxh3_128(b"hello\n").digest())

    observed = sdk(wandb_env).artifact(version.qualified_name)
    assert observed.digest_algorithm.value == "MANIFEST_XXH128"
    assert observed.digest == version.digest
    entries = observed.manifest.entries
    assert entries["big.bin"].digest == b64(xxhash.xxh3_128(big).digest())
    assert entries["a.txt"].extra == {"alg": "XXH128"}
    root = observed.download(root=str(tmp_path / "sdk"))
    observed.verify(root=root)
    assert (Path(root) / "big.bin").read_bytes() == big

    requests.clear()  # the same content again: the same version, nothing uploaded
    again = client.log_artifact("fast", "dataset", src, digest_algorithm="XXH128", multipart_threshold=5 * MIB)
    assert again.id == version.id and "CreateArtifactFiles" not in [n for n, _ in requests]


def test_a_collection_of_md5_versions_stays_md5(client: WandbClient, wandb_env: Any, tmp_path: Path) -> None:
    (tmp_path / "one.txt").write_text("one\n")
    (tmp_path / "two.txt").write_text("two\n")
    client.log_artifact("mixed", "dataset", tmp_path / "one.txt")
    second = client.log_artifact("mixed", "dataset", tmp_path / "two.txt", digest_algorithm="XXH128")
    observed = sdk(wandb_env).artifact(second.qualified_name)
    assert observed.digest_algorithm.value == "MANIFEST_MD5"
    assert observed.manifest.entries["two.txt"].digest == b64(hashlib.md5(b"two\n").digest())


def test_an_unknown_digest_algorithm_is_refused_before_any_request(client: WandbClient, wandb_env: Any,
                                                                  tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("x\n")
    wandb_env.reset_stats()
    with pytest.raises(InvalidValueError, match="digest_algorithm"):
        client.log_artifact("x", "dataset", tmp_path / "x.txt", digest_algorithm="SHA256")
    assert wandb_env.stats()["graphql"]["total"] == 0


def test_log_operator_and_command_line_log_xxh128(wandb_env: Any, run_dag: Any, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from wandb_provider.cli import main

    (tmp_path / "model.bin").write_bytes(b"weights\n")
    out = tmp_path / "xcom.json"
    monkeypatch.setenv("WANDB_PROVIDER_TEST_OUT", str(out))
    run = run_dag("xxh128_log", run_conf={"files": str(tmp_path / "model.bin")})
    assert run.state == "success"
    logged = json.loads(out.read_text())["log"]
    observed = sdk(wandb_env).artifact(logged["qualified_name"])
    assert observed.digest_algorithm.value == "MANIFEST_XXH128"
    assert observed.manifest.entries["model.bin"].digest == b64(xxhash.xxh3_128(b"weights\n").digest())

    (tmp_path / "cli.bin").write_bytes(b"from the command line\n")
    assert main(["log", "cli-xxh", str(tmp_path / "cli.bin"), "--type", "model", "--project", "sdk",
                 "--digest-algorithm", "xxh128"]) == 0
    observed = sdk(wandb_env).artifact(f"{wandb_env.entity}/sdk/cli-xxh:latest")
    assert observed.digest_algorithm.value == "MANIFEST_XXH128"
    observed.verify(root=observed.download(root=str(tmp_path / "cli-sdk")))


@pytest.mark.wandb_server(profile="legacy")
def test_a_server_without_per_file_digests_gets_md5(client: WandbClient, wandb_env: Any, tmp_path: Path) -> None:
    """As wandb-core: no ARTIFACT_DIGEST_ALGORITHM, no XXH128 (and no question about it)."""
    (tmp_path / "old.txt").write_text("old server\n")
    wandb_env.reset_stats()
    version = client.log_artifact("legacy", "dataset", tmp_path / "old.txt", digest_algorithm="XXH128")
    assert "XXHashDigestsEnabled" not in wandb_env.stats()["graphql"]["operations"]
    (entry,) = client.manifest(version)
    assert entry.extra == {} and entry.digest == b64(hashlib.md5(b"old server\n").digest())
