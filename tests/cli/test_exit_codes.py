"""Exit codes of ``wandb-artifacts``: one per kind of failure, and never the API key on stderr."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from wandb_provider.cli import main
from wandb_provider.testing import DEFAULT_API_KEY

from .conftest import COMMAND, tree

FILES = {f"part-{i}.bin": bytes([i]) * 4096 for i in range(8)}
OTHER_KEY = "alice-" + "a" * 40


@pytest.fixture
def seeded(wandb_env: Any) -> Any:
    wandb_env.seed_artifact("ds", FILES, aliases=["production"])
    return wandb_env


def _no_key(result: Any, *keys: str) -> None:
    for key in keys:
        assert key not in result.stderr and key not in result.stdout


@pytest.mark.parametrize("argv", [
    (), ("nope",), ("get",), ("get", "x", "--mode", "sideways"), ("get", "x", "--max-retries", "-1"),
    ("get", "x", "--workers", "0"), ("get", "x", "--timeout", "inf"), ("versions", "p/ds", "--limit", "x"),
], ids=["no-command", "unknown-command", "missing-arg", "bad-choice", "negative", "zero-workers", "inf", "limit"])
def test_usage_errors_exit_2_in_process(argv: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(list(argv)) == 2
    assert "usage: wandb-artifacts" in capsys.readouterr().err


def test_help_documents_the_exit_codes_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for line in ("2  usage error", "3  not found", "4  authentication or permission", "5  integrity",
                 "7  transient", "WANDB_API_KEY", "WANDB_BASE_URL", "WANDB_ENTITY", "WANDB_PROJECT"):
        assert line in out
    assert main(["get", "--help"]) == 0 and "5  integrity" in capsys.readouterr().out


def test_invalid_path_is_a_usage_error_before_any_request(seeded: Any, cli: Any) -> None:
    seeded.reset_stats()
    result = cli("get", "a/b/c/d")
    assert result.code == 2 and "invalid artifact path" in result.stderr
    assert seeded.stats()["graphql"]["total"] == 0


def test_not_found_exits_3(seeded: Any, cli: Any, tmp_path: Path) -> None:
    for argv in (("get", "test-project/nope:v0"), ("get", "test-project/ds:v9"), ("lineage", "nowhere/ds"),
                 ("verify", "test-project/ds:v0", str(tmp_path / "missing-folder"))):
        result = cli(*argv)
        assert result.code == 3, (argv, result.stderr)
        _no_key(result, seeded.api_key)


def test_bad_key_exits_4_and_is_never_printed(seeded: Any, cli: Any) -> None:
    bad = "local-" + "z" * 40
    for argv in (("get", "test-project/ds:v0"), ("versions", "test-project/ds", "-v")):
        result = cli(*argv, env={"WANDB_API_KEY": bad})
        assert result.code == 4, result.stderr
        assert "API key" in result.stderr
        _no_key(result, bad, seeded.api_key)


def test_missing_key_exits_4_and_netrc_is_read_like_the_sdk(seeded: Any, cli: Any, cli_env: dict[str, str],
                                                            tmp_path: Path) -> None:
    result = cli("versions", "test-project/ds", drop=("WANDB_API_KEY",))
    assert result.code == 4 and "WANDB_API_KEY is not set" in result.stderr
    Path(cli_env["NETRC"]).write_text(f"machine 127.0.0.1\n  login user\n  password {seeded.api_key}\n")
    Path(cli_env["NETRC"]).chmod(0o600)
    result = cli("versions", "test-project/ds", drop=("WANDB_API_KEY",))
    assert result.code == 0, result.stderr
    assert result.stdout.splitlines()[1].startswith("v0")


@pytest.mark.wandb_server(users=[f"demo:{DEFAULT_API_KEY}", f"alice:{OTHER_KEY}"],
                          teams=["acme:demo:admin,alice:viewer"])
def test_permission_denied_exits_4(wandb_env: Any, cli: Any) -> None:
    wandb_env.seed_artifact("ds", FILES, entity="acme", project="p")
    result = cli("alias", "acme/p/ds:v0", "--add", "production", env={"WANDB_API_KEY": OTHER_KEY})
    assert result.code == 4, result.stderr
    _no_key(result, OTHER_KEY)


def test_corrupted_bytes_exit_5_and_publish_nothing(seeded: Any, cli: Any, tmp_path: Path) -> None:
    root = tmp_path / "out"
    seeded.set_faults([{"route": "files", "kind": "corrupt", "path": "part-3.bin"}])
    result = cli("get", "test-project/ds:v0", "--root", str(root), "--max-retries", "1")
    assert result.code == 5, result.stderr
    assert "part-3.bin" in result.stderr
    assert not root.exists() or tree(root) == {}
    _no_key(result, seeded.api_key)


def test_a_clash_in_the_folder_exits_1(seeded: Any, cli: Any, tmp_path: Path) -> None:
    root = tmp_path / "out"
    root.mkdir()
    (root / "part-0.bin").write_text("the user's own file")
    result = cli("get", "test-project/ds:v0", "--root", str(root))
    assert result.code == 1 and "part-0.bin" in result.stderr
    assert tree(root) == {"part-0.bin": b"the user's own file"}


@pytest.mark.parametrize("route", ["graphql", "files"])
def test_persistent_503_exits_7_and_says_retrying_later_can_help(seeded: Any, cli: Any, tmp_path: Path,
                                                                 route: str) -> None:
    seeded.set_faults([{"route": route, "kind": "status", "status": 503}])
    result = cli("get", "test-project/ds:v0", "--root", str(tmp_path / "out"), "--max-retries", "0")
    assert result.code == 7, result.stderr
    assert "Trying again later can help" in result.stderr
    _no_key(result, seeded.api_key)


def test_retries_are_logged_then_succeed(seeded: Any, cli: Any, tmp_path: Path) -> None:
    seeded.set_faults([{"route": "graphql", "kind": "status", "status": 503, "times": 2}])
    result = cli("versions", "test-project/ds", "--max-retries", "3")
    assert result.code == 0, result.stderr
    assert result.stderr.count("retrying") == 2
    _no_key(result, seeded.api_key)


def test_sigterm_cancels_a_download_exits_130_and_publishes_nothing(seeded: Any, cli_env: dict[str, str],
                                                                     tmp_path: Path) -> None:
    root = tmp_path / "out"
    seeded.set_faults([{"route": "files", "kind": "delay", "seconds": 30, "path": "part-5.bin"}])
    proc = subprocess.Popen([*COMMAND, "get", "test-project/ds:v0", "--root", str(root), "--workers", "2"],
                            env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while seeded.stats()["files"] < 7 and time.monotonic() < deadline:  # the delayed file is in flight
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        began = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    assert time.monotonic() - began < 15
    assert "interrupted" in stderr
    assert not root.exists() or tree(root) == {}


def test_sigterm_cancels_a_log_exits_130_and_commits_nothing(wandb_env: Any, cli_env: dict[str, str],
                                                             tmp_path: Path) -> None:
    from .conftest import sdk

    folder = tmp_path / "data"
    folder.mkdir()
    for i in range(6):
        (folder / f"f{i}.bin").write_bytes(bytes([i]) * 4096)
    wandb_env.set_faults([{"route": "uploads", "kind": "delay", "seconds": 30}])
    proc = subprocess.Popen([*COMMAND, "log", "cancelled", str(folder), "--type", "dataset", "--project", "p"],
                            env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while wandb_env.stats()["uploads"] < 1 and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        began = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    assert time.monotonic() - began < 15
    states = [v.state for v in sdk(wandb_env).artifacts("dataset", "demo/p/cancelled")]
    assert "COMMITTED" not in states


def test_main_in_process_returns_the_code_and_leaves_logging_as_it_was(seeded: Any,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    import logging

    logger = logging.getLogger("wandb_provider")
    before = (list(logger.handlers), logger.level, logger.propagate)
    assert main(["versions", "test-project/ds", "--json"]) == 0
    assert [row["version"] for row in json.loads(capsys.readouterr().out)] == ["v0"]
    assert main(["get", "test-project/nope"]) == 3
    assert (list(logger.handlers), logger.level, logger.propagate) == before


def test_an_untyped_error_exits_1_without_the_key(seeded: Any, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from wandb_provider.cli import _commands

    def broken(client: Any, args: Any) -> int:
        raise RuntimeError(f"a bug that quotes the key {seeded.api_key}")

    monkeypatch.setattr(_commands, "cmd_versions", broken)
    assert main(["versions", "test-project/ds", "-v"]) == 1
    err = capsys.readouterr().err
    assert "unexpected RuntimeError: a bug that quotes the key ***" in err and "Traceback" in err
    assert seeded.api_key not in err
