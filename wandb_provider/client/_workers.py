"""The one worker pool of downloads and uploads: daemon threads, one queue, the first failure stops the rest.

A fixed number of daemon threads (started as items arrive, never more than there are items) take
items from one queue; there is no future per item, since waiting on thousands of futures costs more
than the transfer of a small file. The first failure sets the pool's ``stop`` event, so the other
workers end after their current item (their transfers see the same event as a cancellation) and
what they raise after it is a consequence, not news. The thread that feeds the pool polls the
caller's ``cancel`` event and stays interruptible (SIGTERM, Ctrl-C) while it waits.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

_T = TypeVar("_T")
POLL = 0.2  # seconds between checks of the caller's cancel event while the feeding thread waits


class WorkerPool(Generic[_T]):
    """Up to ``workers`` daemon threads running ``task`` on queued items.

    ``put`` queues an item (raising the first failure once there is one); ``wait_below`` blocks
    while the queue holds ``limit`` items or more; ``finish`` says no more items will come, waits for
    the workers and raises the first failure, or ``cancelled()`` when ``stop`` was set without one.
    ``close`` stops the pool (waiting for the workers only when asked). ``idle`` is set while no
    worker thread runs. Exceptions of the ``quiet`` types are how a worker reports that it stopped,
    never a failure of their own.
    """

    def __init__(self, task: Callable[[_T], None], *, workers: int, stop: threading.Event, name: str,
                 cancelled: Callable[[], BaseException], cancel: threading.Event | None = None,
                 quiet: tuple[type[BaseException], ...] = (), idle: threading.Event | None = None) -> None:
        self._task = task
        self._max_workers = max(1, workers)
        self.stop = stop
        self._name = name
        self._cancelled = cancelled
        self._cancel = cancel
        self._quiet = quiet
        self.idle = idle if idle is not None else threading.Event()
        self.idle.set()
        self._items: deque[_T] = deque()
        self._cond = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._running = 0
        self._waiting = 0  # workers waiting for an item
        self._room_at = 0  # wait_below's limit while it waits: a worker that makes room wakes it
        self._no_more = False
        self._closed = False
        self._failure: BaseException | None = None

    # --- the feeding thread -----------------------------------------------------------------

    def put(self, item: _T) -> None:
        """Queue ``item``, starting a worker for it when all running ones are busy."""
        self._raise_if_failed()
        with self._cond:
            self._items.append(item)
            if self._waiting >= len(self._items) or len(self._threads) >= self._max_workers:
                self._cond.notify()
                return
            thread = threading.Thread(target=self._work, name=f"{self._name}-{len(self._threads)}", daemon=True)
            self._threads.append(thread)
            self._running += 1
            self.idle.clear()
        try:
            thread.start()
        except BaseException:
            with self._cond:  # this worker never ran: do not wait for it
                self._threads.remove(thread)
                self._exited()
            raise

    def wait_below(self, limit: int) -> None:
        """Block while ``limit`` or more items wait (a failure or cancellation ends the wait)."""
        with self._cond:
            self._room_at = limit
            try:
                while len(self._items) >= limit and not self.stop.is_set():
                    self._cond.wait(POLL)
                    self._poll_cancel()
            finally:
                self._room_at = 0
        self._raise_if_failed()

    def finish(self) -> None:
        """No more items: wait until the workers are done, then raise the first failure, if any."""
        with self._cond:
            self._no_more = True
            self._cond.notify_all()
        try:
            with self._cond:
                while self._running:
                    self._cond.wait(POLL)
                    self._poll_cancel()
        except BaseException:
            self.stop.set()  # SIGTERM, timeouts, Ctrl-C: workers stop after their current item
            raise
        self._raise_if_failed()

    def close(self, *, join: bool = True) -> None:
        """Stop the workers (dropping queued items); with ``join``, wait until they have ended."""
        self.stop.set()
        with self._cond:
            self._closed = True
            self._items.clear()
            self._cond.notify_all()
        if join:
            for thread in list(self._threads):
                thread.join()

    def _poll_cancel(self) -> None:
        if self._cancel is not None and self._cancel.is_set():
            self.stop.set()

    def _raise_if_failed(self) -> None:
        self._poll_cancel()
        if self._failure is not None:
            raise self._failure
        if self.stop.is_set():
            raise self._cancelled()

    # --- the workers ------------------------------------------------------------------------

    def _next(self) -> _T | None:
        with self._cond:
            while not self._items:
                if self._closed or self._no_more or self.stop.is_set():
                    return None
                self._waiting += 1
                try:
                    self._cond.wait()
                finally:
                    self._waiting -= 1
            if self.stop.is_set():
                return None
            item = self._items.popleft()
            if len(self._items) + 1 == self._room_at:
                self._cond.notify_all()
            return item

    def _work(self) -> None:
        try:
            while (item := self._next()) is not None:
                self._task(item)
        except BaseException as exc:  # handed to the feeding thread
            with self._cond:
                if self._failure is None and not self.stop.is_set() and not isinstance(exc, self._quiet):
                    self._failure = exc
                self.stop.set()
        finally:
            with self._cond:
                self._exited()

    def _exited(self) -> None:
        """One worker fewer (the condition's lock held)."""
        self._running -= 1
        if self._running == 0:
            self.idle.set()
        self._cond.notify_all()
