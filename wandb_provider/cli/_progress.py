"""Progress on stderr: a bar on a terminal (``rich``, imported only then), plain lines otherwise.

Plain lines come at most every ``PLAIN_EVERY`` seconds, so a CI log stays short. ``rich`` comes with
Airflow (through ``apache-airflow-core``) and with the ``cli`` extra; without it a terminal gets
plain lines too.
"""

from __future__ import annotations

import sys
import threading
from types import TracebackType
from typing import TYPE_CHECKING, Any, TextIO

from ._text import printable

if TYPE_CHECKING:
    from ..client.models import ProgressUpdate

PLAIN_EVERY = 5.0  # seconds between two plain progress lines
BAR_EVERY = 0.2  # seconds between two updates of the bar


class Progress:
    """A ``progress=`` callback for the client, shown as a bar, as lines, or not at all."""

    def __init__(self, label: str, *, enabled: bool = True, stream: TextIO | None = None) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self._bar: Any = None
        self._task: Any = None
        self._lock = threading.Lock()
        if enabled and _is_terminal(self.stream):
            self._bar = _rich_bar(self.stream)

    @property
    def interval(self) -> float:
        """How often the client should call back."""
        return BAR_EVERY if self._bar is not None else PLAIN_EVERY

    def __enter__(self) -> Progress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._bar is not None:
            self._bar.stop()

    def __call__(self, update: ProgressUpdate) -> None:
        if not self.enabled:
            return
        with self._lock:
            if self._bar is None:
                print(f"wandb-artifacts: {printable(self.label)}: {update.describe()}", file=self.stream, flush=True)
                return
            if self._task is None:
                self._task = self._bar.add_task(printable(self.label), total=update.bytes_total or None, files="")
            self._bar.update(self._task, completed=update.bytes_done,
                             files=f"{update.files_done}/{update.files_total} files")

    def finish(self) -> None:
        """Fill the bar: the client's last call may precede the last bytes by up to an interval."""
        with self._lock:
            if self._bar is not None and self._task is not None:
                total = self._bar.tasks[0].total
                if total is not None:
                    self._bar.update(self._task, completed=total)


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _rich_bar(stream: TextIO) -> Any:
    """A ``rich`` progress bar on ``stream``, or None when ``rich`` is not installed."""
    try:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )
        from rich.progress import Progress as RichProgress
    except ImportError:
        return None
    return RichProgress(
        TextColumn("{task.description}", markup=False), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
        TextColumn("{task.fields[files]}", markup=False), TimeRemainingColumn(),
        console=Console(file=stream), transient=True,
    )
