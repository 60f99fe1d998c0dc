"""Run ``wandb-artifacts`` as a user would: a subprocess (``python -m wandb_provider.cli``) against the
local server, with a private download cache and no ~/.netrc."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
COMMAND = [sys.executable, "-m", "wandb_provider.cli"]
TIMEOUT = 120


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


@pytest.fixture
def cli_env(wandb_env: Any, tmp_path: Path) -> dict[str, str]:
    """The environment of the command: WANDB_* of the local server (``wandb_env``), a private cache and home."""
    home = tmp_path / "home"
    home.mkdir()
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
            "WANDB_PROVIDER_CACHE_DIR": str(tmp_path / "cache"), "HOME": str(home), "NETRC": str(home / ".netrc")}


@pytest.fixture
def cli(cli_env: dict[str, str], tmp_path: Path) -> Any:
    """``cli("get", "x:v0", env={...}, cwd=...)`` runs the command and returns its exit code and output."""

    def run(*argv: str, env: dict[str, str] | None = None, cwd: Path | None = None,
            drop: tuple[str, ...] = ()) -> Result:
        environment = {k: v for k, v in {**cli_env, **(env or {})}.items() if k not in drop}
        done = subprocess.run([*COMMAND, *argv], capture_output=True, text=True, env=environment,
                              cwd=cwd or tmp_path, timeout=TIMEOUT)
        return Result(done.returncode, done.stdout, done.stderr)

    return run


def sdk(server: Any) -> Any:
    """The official SDK pointed at the local server: the independent observer of W&B state."""
    import wandb

    return wandb.Api(api_key=server.api_key, overrides={"base_url": server.base_url})


def tree(root: Path) -> dict[str, bytes]:
    """The user's view of a folder: every file but the provider's ledger folder."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*")
            if p.is_file() and p.relative_to(root).parts[0] != ".wandb-provider"}
