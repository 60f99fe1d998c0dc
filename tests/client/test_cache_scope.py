"""The shared download cache never hands bytes verified for one W&B deployment (or project) to another:
W&B's digests are MD5, and a cache shared by several deployments must not make a collision cheaper
than W&B itself does (README, "Safety")."""

from __future__ import annotations

from pathlib import Path

from wandb_provider.client import WandbClient
from wandb_provider.testing import LocalWandbServer, ServerConfig

FILES = {"model.bin": b"the same bytes in both deployments\n" * 64}


def _client(server, cache: Path, project: str = "p") -> WandbClient:
    return WandbClient(server.base_url, server.api_key, entity="demo", project=project, cache_dir=str(cache))


def test_another_deployments_cached_bytes_are_never_handed_out(wandb_server, tmp_path: Path) -> None:
    cache = tmp_path / "shared-cache"
    wandb_server.seed_artifact("m", FILES, project="p")
    with LocalWandbServer(ServerConfig()) as other:
        other.seed_artifact("m", FILES, project="p")  # same MD5 (a collision would look the same)
        first = _client(other, cache).download("m", tmp_path / "other-root")
        assert first.bytes_downloaded == len(FILES["model.bin"])
    mine = _client(wandb_server, cache)
    result = mine.download("m", tmp_path / "root")
    assert result.bytes_from_cache == 0 and result.bytes_downloaded == len(FILES["model.bin"])
    again = mine.download("m", tmp_path / "root-2")  # this deployment's own verified bytes are reused
    assert again.bytes_from_cache == len(FILES["model.bin"]) and again.bytes_downloaded == 0


def test_another_projects_cached_bytes_are_not_reused_but_other_versions_of_one_project_are(
        wandb_server, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    wandb_server.seed_artifact("m", FILES, project="p")
    wandb_server.seed_artifact("m", FILES, project="q")
    wandb_server.seed_artifact("m2", {**FILES, "extra.txt": b"x"}, project="p")
    _client(wandb_server, cache).download("m", tmp_path / "p")
    assert _client(wandb_server, cache, "q").download("m", tmp_path / "q").bytes_from_cache == 0
    assert _client(wandb_server, cache).download("m2", tmp_path / "p2").bytes_from_cache == len(FILES["model.bin"])
