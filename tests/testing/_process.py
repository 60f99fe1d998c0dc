"""Run ``wandb-provider-server`` in a subprocess, as a user's CI job would, for the CLI tests."""

from __future__ import annotations

import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from wandb_provider.testing import DEFAULT_API_KEY

READY = re.compile(r"WANDB_BASE_URL=(http://(.+):(\d+))\n")
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
MODULE = [sys.executable, "-m", "wandb_provider.testing"]
SCRIPT = shutil.which("wandb-provider-server", path=str(Path(sys.executable).parent))


@dataclass
class Remote:
    """What the GraphQL helpers need of a server: its URL and a key."""

    base_url: str
    api_key: str = DEFAULT_API_KEY


class Running:
    """A server subprocess whose first stdout line has been read (and nothing after it yet)."""

    def __init__(self, command: Sequence[str]) -> None:
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        try:
            self.first_line = self._lines.get(timeout=START_TIMEOUT)
        except queue.Empty:
            self.proc.kill()
            raise AssertionError(f"no ready line within {START_TIMEOUT}s; stderr: {self.proc.stderr.read()}") from None
        match = READY.fullmatch(self.first_line)
        assert match, f"unexpected first stdout line {self.first_line!r}"
        self.remote = Remote(match.group(1))
        self.local = Remote(f"http://127.0.0.1:{match.group(3)}")  # where to send traffic, whatever the bind
        self.host = match.group(2)
        self.port = int(match.group(3))

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put("")  # EOF

    def stop(self, signum: int = signal.SIGTERM) -> tuple[int, str, str]:
        """Send ``signum``; return (exit code, stdout after the ready line, stderr)."""
        self.proc.send_signal(signum)
        try:
            code = self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError(f"still running {STOP_TIMEOUT}s after signal {signum}") from None
        rest = []
        while (line := self._lines.get(timeout=STOP_TIMEOUT)) != "":
            rest.append(line)
        assert self.proc.stderr is not None
        return code, "".join(rest), self.proc.stderr.read()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
