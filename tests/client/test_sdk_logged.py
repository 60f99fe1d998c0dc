"""Versions logged by the official SDK pass the manifest integrity check and download intact."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.client._roots_helpers import user_view
from wandb_provider.client import WandbClient

wandb = pytest.importorskip("wandb")

pytestmark = [pytest.mark.sdk, pytest.mark.timeout(120)]


def test_sdk_logged_versions_pass_the_digest_check(wandb_env, tmp_path: Path,
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
