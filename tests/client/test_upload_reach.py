"""What ``log_artifact(files=...)`` may reach: literal paths before globs, no home folder or system
root, bounded walks, and no link swapped in between listing and upload (README, "Safety")."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import pytest

from wandb_provider.client import WandbClient, _hashing_files, _sources
from wandb_provider.client.errors import LocalFileError, UnsafePathError, WandbError


@pytest.fixture
def client(wandb_env: Any) -> WandbClient:
    return WandbClient(wandb_env.base_url, wandb_env.api_key, entity=wandb_env.entity, project="p", max_retries=1,
                       backoff_min=0.05, backoff_max=0.1)


def sdk_entries(server: Any, path: str) -> dict[str, Any]:
    import wandb

    return dict(wandb.Api().artifact(f"{server.entity}/p/{path}").manifest.entries)


def test_an_existing_path_with_glob_characters_is_taken_literally(client: WandbClient, wandb_env: Any,
                                                                  tmp_path: Path) -> None:
    (tmp_path / "run[1]").mkdir()
    (tmp_path / "run1").mkdir()
    (tmp_path / "run[1]" / "model.bin").write_bytes(b"the literal one")
    (tmp_path / "run1" / "model.bin").write_bytes(b"the glob's match")
    (tmp_path / "[draft].csv").write_bytes(b"a,b\n")
    version = client.log_artifact("m", "model", str(tmp_path / "run[1]" / "model.bin"))
    entries = sdk_entries(wandb_env, "m:v0")
    assert list(entries) == ["model.bin"] and entries["model.bin"].size == len(b"the literal one")
    assert version.size == len(b"the literal one")
    client.log_artifact("d", "dataset", str(tmp_path / "[draft].csv"))
    assert list(sdk_entries(wandb_env, "d:v0")) == ["[draft].csv"]


def test_a_pattern_is_a_glob_only_when_no_such_path_exists_and_its_matches_are_logged(
        client: WandbClient, wandb_env: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "a.csv").write_text("1\n")
    (tmp_path / "out" / ".hidden.csv").write_text("2\n")
    with caplog.at_level(logging.INFO, logger="wandb_provider.client.upload"):
        client.log_artifact("t", "dataset", str(tmp_path / "out" / "*.csv"))
    assert list(sdk_entries(wandb_env, "t:v0")) == ["a.csv"]
    assert "matched 1 path(s)" in caplog.text and "a.csv" in caplog.text
    with pytest.raises(LocalFileError, match="matches no file"):
        client.log_artifact("t", "dataset", str(tmp_path / "out" / "run[9]" / "x"))


def test_a_name_with_a_colon_is_a_relative_name(client: WandbClient, wandb_env: Any, tmp_path: Path) -> None:
    (tmp_path / "1:2.txt").write_text("ratio\n")
    client.log_artifact("c", "dataset", {"1:2.txt": tmp_path / "1:2.txt"})
    assert list(sdk_entries(wandb_env, "c:v0")) == ["1:2.txt"]
    with pytest.raises(WandbError):
        client.log_artifact("c", "dataset", {"C:/x.txt": tmp_path / "1:2.txt"})


@pytest.mark.parametrize("files", ["~", "~/", "/", "/etc", "/**/id_rsa", "~/**", "/*"])
def test_home_root_and_system_folders_are_refused_before_any_request(
        client: WandbClient, wandb_env: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, files: str) -> None:
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_text("PRIVATE KEY")
    (home / ".netrc").write_text("machine api.wandb.ai password secret")
    monkeypatch.setenv("HOME", str(home))
    wandb_env.reset_stats()
    with pytest.raises(UnsafePathError, match="refusing"):
        client.log_artifact("h", "dataset", files)
    assert wandb_env.stats()["graphql"]["total"] == 0 and wandb_env.stats()["uploads"] == 0


def test_a_folder_holding_the_home_folder_is_refused(client: WandbClient, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "users" / "me").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(tmp_path / "users" / "me"))
    with pytest.raises(UnsafePathError):
        client.log_artifact("h", "dataset", str(tmp_path / "users"))
    with pytest.raises(UnsafePathError):
        client.log_artifact("h", "dataset", {"all": str(tmp_path / "users" / "**")})


def test_a_walk_that_would_look_at_too_many_entries_stops_with_a_clear_error(
        client: WandbClient, wandb_env: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(30):
        (tmp_path / "deep" / f"d{i}").mkdir(parents=True)
        (tmp_path / "deep" / f"d{i}" / "f.txt").write_text(str(i))
    monkeypatch.setattr(_sources, "MAX_ENTRIES_LISTED", 20)
    wandb_env.reset_stats()
    for files in (str(tmp_path / "deep" / "**" / "nothing"), str(tmp_path / "deep")):
        with pytest.raises(LocalFileError, match="more than 20 folder entries"):
            client.log_artifact("w", "dataset", files)
    assert wandb_env.stats()["graphql"]["total"] == 0


def _swap_for_link(path: Path, target: Path) -> None:
    os.replace(path, path.with_name(path.name + ".moved"))
    os.symlink(target, path)


def test_a_link_swapped_in_between_listing_and_hashing_is_not_followed(
        client: WandbClient, wandb_env: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"SECRET")
    (tmp_path / "data").mkdir()
    listed = tmp_path / "data" / "model.bin"
    listed.write_bytes(b"model")
    real_hash = _hashing_files.hash_file

    def swap_then_hash(name: str, path: Path, *args: Any, **kwargs: Any) -> Any:
        _swap_for_link(listed, secret)  # the attacker's move, after the listing
        return real_hash(name, path, *args, **kwargs)

    monkeypatch.setattr(_hashing_files, "hash_file", swap_then_hash)
    wandb_env.reset_stats()
    with pytest.raises(LocalFileError, match="symbolic link|another file"):
        client.log_artifact("s", "model", tmp_path / "data")
    assert wandb_env.stats()["uploads"] == 0 and wandb_env.stats()["upload_bytes"] == 0


def test_a_link_swapped_in_after_hashing_sends_nothing_of_its_target(
        client: WandbClient, wandb_env: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"SECRET")
    (tmp_path / "data").mkdir()
    listed = tmp_path / "data" / "model.bin"
    listed.write_bytes(b"model")
    real_hash = _hashing_files.hash_file

    def hash_then_swap(name: str, path: Path, *args: Any, **kwargs: Any) -> Any:
        hashed = real_hash(name, path, *args, **kwargs)
        _swap_for_link(listed, secret)
        return hashed

    monkeypatch.setattr(_hashing_files, "hash_file", hash_then_swap)
    wandb_env.reset_stats()
    with pytest.raises(LocalFileError, match="changed while it was being logged"):
        client.log_artifact("s", "model", tmp_path / "data")
    assert wandb_env.stats()["upload_bytes"] == 0
