"""Deadlines and cancellation for blocking socket I/O.

A socket read blocks until data arrives or its timeout passes, and a server that trickles one byte
per second defeats any per-read timeout. The watchdog closes the socket of an exchange once its
deadline passes or its cancel event is set, so the blocked read returns at once and the caller
raises a typed error: a deadline bounds connect, headers and body, and cancelling stops a transfer
within a fraction of a second even in a worker thread.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time
from collections.abc import Iterator

_TICK = 0.2  # how often cancel events are checked, in seconds


class Exchange:
    """One request/response under a deadline (monotonic seconds) and an optional cancel event."""

    def __init__(self, deadline: float, cancel: threading.Event | None) -> None:
        self.deadline = deadline
        self.cancel = cancel
        self.expired: str | None = None  # "deadline" or "cancelled" once the watchdog fired
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self.done = False

    def attach(self, sock: socket.socket | None) -> None:
        """Watch ``sock`` for this exchange (the connection's socket, once known)."""
        if sock is None:
            return
        with self._lock:
            if sock not in self._sockets:
                self._sockets.append(sock)
            fired = self.expired is not None
        if fired:
            _shutdown(sock)

    def fire(self, reason: str) -> None:
        with self._lock:
            if self.done or self.expired is not None:
                return
            self.expired = reason
            sockets = list(self._sockets)
        for sock in sockets:
            _shutdown(sock)

    def finish(self) -> None:
        with self._lock:
            self.done = True
            self._sockets.clear()

    def remaining(self) -> float:
        return self.deadline - time.monotonic()


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


class _Watchdog:
    """One daemon thread for the whole process: fires exchanges past their deadline or cancelled."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Exchange]] = []
        self._cancellable: set[Exchange] = set()
        self._counter = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def watch(self, exchange: Exchange) -> None:
        with self._wake:
            earliest = self._heap[0][0] if self._heap else None
            heapq.heappush(self._heap, (exchange.deadline, next(self._counter), exchange))
            new_cancellable = exchange.cancel is not None and not self._cancellable
            if exchange.cancel is not None:
                self._cancellable.add(exchange)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="wandb-watchdog", daemon=True)
                self._thread.start()
            if earliest is None or exchange.deadline < earliest or new_cancellable:
                self._wake.notify()  # only when the thread must wake earlier than it planned

    def _run(self) -> None:
        while True:
            with self._wake:
                now = time.monotonic()
                due = []
                while self._heap and (self._heap[0][0] <= now or self._heap[0][2].done):
                    due.append(heapq.heappop(self._heap)[2])
                self._cancellable = {e for e in self._cancellable if not e.done}
                cancelled = {e for e in self._cancellable if e.cancel is not None and e.cancel.is_set()}
                self._cancellable -= cancelled
                if not due and not cancelled:
                    timeout = _TICK if self._cancellable else 5.0
                    if self._heap:
                        timeout = min(timeout, self._heap[0][0] - now)
                    self._wake.wait(max(0.01, timeout))
                    continue
            for exchange in due:
                exchange.fire("deadline")
            for exchange in cancelled:
                exchange.fire("cancelled")


_WATCHDOG = _Watchdog()
_current = threading.local()


@contextlib.contextmanager
def watching(exchange: Exchange) -> Iterator[Exchange]:
    """Watch ``exchange`` while the block runs; sockets connected in this thread meanwhile join it."""
    previous = getattr(_current, "exchange", None)
    _current.exchange = exchange
    _WATCHDOG.watch(exchange)
    try:
        yield exchange
    finally:
        _current.exchange = previous


def current() -> Exchange | None:
    """The exchange the calling thread is running, if any (read by our connection classes)."""
    return getattr(_current, "exchange", None)
