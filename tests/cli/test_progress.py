"""Progress: a ``rich`` bar when stderr is a terminal, plain lines otherwise; a cheap import."""

from __future__ import annotations

import io
import os
import pty
import subprocess
import sys
from pathlib import Path
from typing import Any

from wandb_provider.cli._progress import BAR_EVERY, PLAIN_EVERY, Progress
from wandb_provider.client.models import ProgressUpdate

from .conftest import COMMAND, REPO

UPDATE = ProgressUpdate(files_done=3, files_total=8, bytes_done=3 << 20, bytes_total=8 << 20, mb_per_second=2.0,
                        eta_seconds=2.5)


def test_importing_the_cli_loads_neither_airflow_nor_rich_nor_the_http_stack() -> None:
    code = ("import sys, wandb_provider.cli; heavy = ('airflow', 'rich', 'requests', 'urllib3', 'tenacity', "
            "'pendulum'); print(sorted({m.split('.')[0] for m in sys.modules if m.split('.')[0] in heavy}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    assert out.stdout.strip() == "[]"


def test_plain_lines_when_not_a_terminal() -> None:
    stream = io.StringIO()
    with Progress("get x:v0", stream=stream) as progress:
        assert progress.interval == PLAIN_EVERY  # the client calls back at most every few seconds
        progress(UPDATE)
        progress.finish()
    assert stream.getvalue() == "wandb-artifacts: get x:v0: " + UPDATE.describe() + "\n"
    quiet = io.StringIO()
    with Progress("get x:v0", stream=quiet, enabled=False) as progress:
        progress(UPDATE)
    assert quiet.getvalue() == ""


def test_a_bar_on_a_terminal() -> None:
    master, slave = pty.openpty()
    try:
        with os.fdopen(slave, "w", closefd=True) as terminal, Progress("get x:v0", stream=terminal) as progress:
            assert progress.interval == BAR_EVERY
            progress(UPDATE)
            progress.finish()
        drawn = _read_all(master).decode(errors="replace")
    finally:
        os.close(master)
    assert "get x:v0" in drawn and "3/8 files" in drawn and "\x1b[" in drawn  # drawn with terminal codes


def _read_all(master: int) -> bytes:
    """Everything written to a pseudo-terminal whose other end is closed."""
    drawn = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the other end is closed and everything has been read
            return drawn
        if not chunk:
            return drawn
        drawn += chunk


def _seed(server: Any) -> None:
    server.seed_artifact("ds", {f"part-{i}.bin": bytes([i]) * 65536 for i in range(8)})
    server.set_faults([{"route": "files", "kind": "delay", "seconds": 1.0, "path": "part-5.bin"}])


def test_the_command_draws_a_bar_on_a_terminal_stderr(wandb_env: Any, cli_env: dict[str, str],
                                                      tmp_path: Path) -> None:
    _seed(wandb_env)
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen([*COMMAND, "get", "test-project/ds:v0", "--root", str(tmp_path / "out")],
                                env=cli_env, stdout=subprocess.DEVNULL, stderr=slave)
        os.close(slave)
        drawn = _read_all(master)  # while the command runs: a full terminal buffer would block it
        proc.wait(timeout=120)
    finally:
        os.close(master)
    assert proc.returncode == 0
    text = drawn.decode(errors="replace")
    assert "files" in text and "\x1b[" in text
    assert "demo/test-project/ds:v0: 8 file(s)" in text


def test_the_command_prints_no_terminal_codes_into_a_pipe(wandb_env: Any, cli: Any, tmp_path: Path) -> None:
    _seed(wandb_env)
    result = cli("get", "test-project/ds:v0", "--root", str(tmp_path / "out"))
    assert result.code == 0
    assert "\x1b[" not in result.stderr and "\r" not in result.stderr
    quiet = cli("get", "test-project/ds:v0", "--root", str(tmp_path / "out2"), "-q")
    assert quiet.code == 0 and quiet.stderr == ""


def test_download_calls_back_as_often_as_progress_interval_asks(wandb_server: Any, tmp_path: Path) -> None:
    import pytest

    from wandb_provider.client import InvalidValueError, WandbClient

    _seed(wandb_server)
    seen: list[ProgressUpdate] = []
    with WandbClient(wandb_server.base_url, wandb_server.api_key, cache_dir=str(tmp_path / "cache")) as client:
        for bad in (0, -1, float("nan"), True, "1"):
            with pytest.raises(InvalidValueError):
                client.download("test-project/ds:v0", tmp_path / "bad", progress_interval=bad)  # type: ignore[arg-type]
        client.download("test-project/ds:v0", tmp_path / "out", progress=seen.append, progress_interval=0.05)
    assert len(seen) >= 2  # the delayed file takes a second; the default interval (5 s) would report nothing
