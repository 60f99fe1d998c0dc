"""Manifest integrity: damaged or hostile manifests are refused before anything is written."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import unicodedata
from pathlib import Path

import pytest

from tests.client._roots_helpers import manifest_doc, put_manifest
from wandb_provider.client import ArtifactIntegrityError, Manifest, UnsafePathError, WandbClient
from wandb_provider.client.manifest import artifact_digest


@pytest.fixture
def client(wandb_server, tmp_path: Path) -> WandbClient:
    return WandbClient(wandb_server.base_url, wandb_server.api_key, entity="demo", project="p",
                       cache_dir=str(tmp_path / "cache"), backoff_min=0.01, backoff_max=0.05)


def _md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def _digest(contents: dict[str, dict[str, object]], algorithm: str = "md5") -> str:
    hasher = hashlib.md5() if algorithm == "md5" else __import__("xxhash").xxh3_128()
    hasher.update(b"wandb-artifact-manifest-v1\n")
    for path in sorted(contents):
        hasher.update(f"{path}:{contents[path]['digest']}\n".encode())
    return str(hasher.hexdigest())


def _manifest_gets(server) -> int:
    return int(server.stats()["graphql"]["operations"].get("ArtifactManifestUrl", 0))


@pytest.mark.parametrize("body", [b"<html>proxy error</html>", b'{"version": 1, "contents": {', b"",
                                  json.dumps({"version": 2, "contents": {}}).encode(),
                                  json.dumps({"version": 1, "contents": []}).encode(), b"[1, 2]"])
def test_a_damaged_manifest_is_an_integrity_error_after_one_more_fetch(wandb_server, client: WandbClient,
                                                                     tmp_path: Path, body: bytes) -> None:
    version = wandb_server.seed_artifact("ds", {"a.txt": "a"}, project="p")
    put_manifest(wandb_server, version, body)
    wandb_server.reset_stats()
    with pytest.raises(ArtifactIntegrityError, match="fetched twice") as caught:
        client.download("ds", tmp_path / "out")
    assert not caught.value.transient
    assert _manifest_gets(wandb_server) == 2
    assert not (tmp_path / "out").exists()


def test_a_manifest_that_does_not_hash_to_the_version_digest_is_refused(wandb_server, client: WandbClient,
                                                                       tmp_path: Path) -> None:
    version = wandb_server.seed_artifact("ds", {"a.txt": "a", "b.txt": "b"}, project="p")
    swapped = {"a.txt": {"digest": _md5(b"evil"), "size": 4}, "b.txt": {"digest": _md5(b"b"), "size": 1}}
    put_manifest(wandb_server, version, manifest_doc(swapped))  # digest stays the seeded one
    with pytest.raises(ArtifactIntegrityError, match="does not match the version"):
        client.download("ds", tmp_path / "out")
    with pytest.raises(ArtifactIntegrityError, match="does not match the version"):
        client.manifest("ds")
    assert not (tmp_path / "out").exists()


def test_a_manifest_damaged_once_is_fetched_again(wandb_server, client: WandbClient, tmp_path: Path) -> None:
    wandb_server.seed_artifact("ds", {"a.txt": "a"}, project="p")
    wandb_server.set_faults([{"route": "files", "kind": "corrupt", "path": "wandb_manifest.json", "times": 1}])
    client.download("ds", tmp_path / "out")
    assert (tmp_path / "out" / "a.txt").read_text() == "a"


@pytest.mark.parametrize(("field", "value", "problem"), [
    ("size", "12", "size '12'"), ("size", -1, "size -1"), ("size", True, "size True"),
    ("digest", 5, "no digest"), ("digest", "", "no digest"), ("ref", 7, "ref 7"), ("extra", "x", "extra 'x'"),
    ("birthArtifactID", [], "birthArtifactID []"),
])
def test_entry_fields_of_the_wrong_type_name_the_entry(wandb_server, client: WandbClient, field: str,
                                                       value: object, problem: str) -> None:
    contents: dict[str, dict[str, object]] = {"ok.txt": {"digest": _md5(b"ok"), "size": 2},
                                              "bad.txt": {"digest": _md5(b"x"), "size": 1}}
    contents["bad.txt"][field] = value
    version = wandb_server.seed_artifact("ds", {"ok.txt": "ok"}, project="p")
    digest = _digest(contents) if isinstance(contents["bad.txt"]["digest"], str) else None
    put_manifest(wandb_server, version, manifest_doc(contents), digest=digest)
    with pytest.raises(ArtifactIntegrityError, match=re.escape(f"entry 'bad.txt' has {problem}")):
        client.manifest("ds")


@pytest.mark.parametrize("path", [".", "./x", "dir/", "a//b", "x/./y", "x/.", "/abs", "../up", "a/../b", "a\\b",
                                  "a\x00b", "n" * 256, "é/" + "é" * 128])
def test_unsafe_entry_paths_are_refused_before_any_write(wandb_server, client: WandbClient, tmp_path: Path,
                                                         path: str) -> None:
    wandb_server.seed_artifact("ds", {path: "x", "fine.txt": "fine"}, project="p")
    root = tmp_path / "nested" / "out"
    with pytest.raises(UnsafePathError, match="refusing manifest entry"):
        client.download("ds", root, mode="checkout")
    assert not (tmp_path / "nested").exists()


def test_an_entry_named_dot_is_refused_at_once_not_retried(wandb_server, client: WandbClient,
                                                           tmp_path: Path) -> None:
    wandb_server.seed_artifact("dot", {".": "x"}, project="p")
    wandb_server.reset_stats()
    with pytest.raises(UnsafePathError):
        client.download("dot", tmp_path / "out")
    assert wandb_server.stats()["files"] == 1  # the manifest, no file requests
    assert "ArtifactFileUrls" not in wandb_server.stats()["graphql"]["operations"]


@pytest.mark.parametrize(("paths", "problem"), [
    (["a", "a/b"], "needs it to be a folder"),
    ([unicodedata.normalize("NFC", "café.txt"), unicodedata.normalize("NFD", "café.txt")], "same file"),
])
def test_entries_that_collide_are_refused(wandb_server, client: WandbClient, tmp_path: Path,
                                          paths: list[str], problem: str) -> None:
    wandb_server.seed_artifact("ds", {p: p for p in paths}, project="p")
    with pytest.raises(UnsafePathError, match=problem):
        client.download("ds", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_duplicate_json_keys_are_refused() -> None:
    digest = _md5(b"x")
    entry = json.dumps({"digest": digest, "size": 1})
    body = f'{{"version": 1, "contents": {{"a.txt": {entry}, "a.txt": {entry}}}}}'.encode()
    with pytest.raises(UnsafePathError, match="appears twice"):
        Manifest.from_json(body)


def test_an_xxh128_version_digest_is_accepted(wandb_server, client: WandbClient, tmp_path: Path) -> None:
    pytest.importorskip("xxhash")
    contents = {"a.txt": {"digest": _md5(b"a"), "size": 1}}
    version = wandb_server.seed_artifact("ds", {"a.txt": "a"}, project="p")
    put_manifest(wandb_server, version, manifest_doc(contents), digest=_digest(contents, "xxh128"))
    client.download("ds", tmp_path / "out")
    assert (tmp_path / "out" / "a.txt").read_text() == "a"


def test_artifact_digest_is_wandbs_formula() -> None:
    manifest = Manifest.from_json(json.dumps(manifest_doc({"b": {"digest": "B"}, "a": {"digest": "A"}})))
    expected = hashlib.md5(b"wandb-artifact-manifest-v1\na:A\nb:B\n").hexdigest()
    assert artifact_digest(manifest.entries.values()) == expected
    Manifest.from_json(json.dumps(manifest_doc({"b": {"digest": "B"}, "a": {"digest": "A"}})),
                       digest=expected.upper())


def test_manifests_of_seeded_and_sdk_versions_pass(client: WandbClient, wandb_server) -> None:
    wandb_server.seed_artifact("ds", {"a.txt": "a", "deep/b.txt": "b"}, project="p")
    assert sorted(client.manifest("ds").entries) == ["a.txt", "deep/b.txt"]
