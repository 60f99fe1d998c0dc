"""The official SDK works against the legacy profile too: it negotiates the same features we do.

Run in a fresh process: the SDK's ``wandb-core`` sidecar and caches are process-wide.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.sdk, pytest.mark.timeout(180)]

SCRIPT = textwrap.dedent("""
    import os, sys, wandb
    folder = sys.argv[1]
    with open(os.path.join(folder, "a.txt"), "w") as f:
        f.write("hello legacy\\n")
    with wandb.init(project="p", dir=folder, settings={"x_disable_stats": True,
                                                       "x_disable_machine_info": True}) as run:
        artifact = wandb.Artifact("ds", "dataset")
        artifact.add_file(os.path.join(folder, "a.txt"))
        run.log_artifact(artifact).wait()
        run.link_artifact(artifact, os.environ["WANDB_ENTITY"] + "/p/portfolio", aliases=["best"])
    seen = wandb.Api().artifact(os.environ["WANDB_ENTITY"] + "/p/portfolio:best")
    root = seen.download(root=os.path.join(folder, "out"))
    print(open(os.path.join(root, "a.txt")).read().strip(), seen.version)
""")


@pytest.mark.wandb_server(profile="legacy")
def test_the_sdk_logs_and_links_on_the_legacy_profile(wandb_server: Any, tmp_path: Path) -> None:
    env = {**os.environ, "WANDB_BASE_URL": wandb_server.base_url, "WANDB_API_KEY": wandb_server.api_key,
           "WANDB_ENTITY": wandb_server.entity, "WANDB_SILENT": "true", "WANDB_MODE": "online"}
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], env=env, capture_output=True, text=True,
                          timeout=150, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "hello legacy v0"
    queries = "\n".join(r["query"] for r in wandb_server.graphql_requests())
    for field in ("serverInfo", "createArtifactFiles", "linkArtifact"):
        assert field in queries
