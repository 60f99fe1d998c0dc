"""Every verb of the client on both server profiles, each request checked against the SDK's documents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from wandb_provider.client import WandbClient

from .plugin import OUR_USER_AGENT, check


@pytest.mark.parametrize("profile", [
    pytest.param("latest", marks=pytest.mark.wandb_server(profile="latest")),
    pytest.param("legacy", marks=pytest.mark.wandb_server(profile="legacy")),
])
def test_every_verb_works_and_sends_only_what_the_sdk_sends(wandb_server: Any, tmp_path: Path, profile: str) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "a.txt").write_text("a\n")
    (source / "big.bin").write_bytes(bytes(range(256)) * 1000)
    client = WandbClient(wandb_server.base_url, wandb_server.api_key, entity=wandb_server.entity, project="p")
    entity = wandb_server.entity

    run = client.upsert_run(None, "p", "run-1", job_type="train")
    version = client.log_artifact("ds", "dataset", files=str(source), aliases=["prod"], run=run,
                                  multipart_threshold=100_000)
    client.use_artifact(run, version)
    assert client.artifact(f"{entity}/p/ds:prod").id == version.id == client.artifact_by_id(version.id).id
    assert [v.id for v in client.versions(f"{entity}/p/ds")] == [version.id]
    client.download(version, tmp_path / "out")
    assert client.verify(version, tmp_path / "out")
    client.update_aliases(version, add=["x"], remove=["prod"])
    client.update_aliases(version, add=["y"], only_if_current={"y": None})
    client.update(version, description="described", metadata={"k": 1})
    client.set_ttl(version, 3600, may_drop=["x", "y"])  # the TTL would delete those aliases with it
    linked = client.link(version, f"{entity}/p/portfolio", aliases=["best"])
    assert "best" in linked.aliases
    client.unlink(linked)
    client.update_collection(f"{entity}/p/ds", description="collection", tags_add=["t"])
    client.finish_run(run, failed=False, used=[version])
    assert client.producer(version) is not None
    assert [r.run_id for r in client.lineage(version)["used_by"]] == ["run-1"]
    spare = client.log_artifact("spare", "dataset", files=str(source))
    client.delete_if_unclaimed(spare)

    ours = [r for r in wandb_server.graphql_requests() if r["userAgent"].startswith(OUR_USER_AGENT)]
    assert check(ours) == []
