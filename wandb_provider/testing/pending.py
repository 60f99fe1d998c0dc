"""Versions whose upload was abandoned do not stay PENDING for ever.

A version is abandoned when neither GraphQL nor an upload touched it for ``ttl_seconds``. The
check is lazy (run by GraphQL requests, at most every ``min(60 s, ttl / 2)``) and skips versions
with an upload under way or finished within the TTL, which this process tracks in memory.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from .store import Store


class PendingReaper:
    """Tracks uploads per version and drops PENDING versions left idle longer than the TTL."""

    def __init__(self, store: Store, ttl_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._store = store
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._active: Counter[int] = Counter()
        self._last_upload: dict[int, float] = {}
        self._next_check = 0.0

    @contextmanager
    def uploading(self, artifact_id: int | None) -> Iterator[None]:
        """Mark an upload to ``artifact_id`` as under way for the duration of the block."""
        if artifact_id is None:
            yield
            return
        with self._lock:
            self._active[artifact_id] += 1
            self._last_upload[artifact_id] = self._clock()
        try:
            yield
        finally:
            with self._lock:
                self._active[artifact_id] -= 1
                if self._active[artifact_id] <= 0:
                    del self._active[artifact_id]
                self._last_upload[artifact_id] = self._clock()

    def maybe_expire(self) -> list[int]:
        """Drop abandoned PENDING versions, unless a check ran very recently; return their ids."""
        now = self._clock()
        with self._lock:
            if now < self._next_check:
                return []
            self._next_check = now + min(60.0, self.ttl_seconds / 2)
            horizon = now - self.ttl_seconds
            self._last_upload = {k: t for k, t in self._last_upload.items() if t > horizon or k in self._active}
            busy = frozenset(self._last_upload) | frozenset(self._active)
        with self._store.db.transaction():
            return self._store.uploads.expire_pending(self.ttl_seconds, keep=busy)
