"""THE retry policy of the client, on tenacity.

=====================================  =========
outcome                                retried?
=====================================  =========
connection error, reset, read timeout  yes
HTTP 408, 429, 500, 502-599            yes, honouring ``Retry-After``
HTTP 501                               no
HTTP 400, 401, 403, 404, 409, 422      no
HTTP 200 with GraphQL ``errors``       no (W&B answered; asking again gives the same answer)
TLS certificate errors, bad URLs       no
cancellation                           no
=====================================  =========

Waits grow exponentially with 25% jitter between ``backoff_min`` and ``backoff_max``. A call stops
after ``max_retries + 1`` attempts, or at once when the next wait would pass its ``deadline``: a
``Retry-After`` longer than the time left (or than ``retry_after_cap``) fails the call right away
with a transient ``ServerError``, so a later Airflow retry can come back. Every retry is logged:
what failed, attempt n of m, and the wait.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import tenacity

from .config import ClientConfig
from .errors import CancelledError, ServerError

log = logging.getLogger("wandb_provider.client.retry")

T = TypeVar("T")
RETRY_STATUSES = frozenset({408, 429, 500} | set(range(502, 600)))


class RetryableStatus(Exception):
    """An HTTP answer worth asking again; carries the status and any ``Retry-After``."""

    def __init__(self, status: int, retry_after: float | None, detail: str = "") -> None:
        super().__init__(f"HTTP {status}{': ' + detail if detail else ''}")
        self.status = status
        self.retry_after = retry_after


class TransientTransportError(Exception):
    """A connection problem worth trying again (reset, refused, timed out, cut short)."""


class DeadlineExceeded(TransientTransportError):
    """The call's deadline passed during an exchange (connect, headers or body)."""


def is_retryable(exc: BaseException | None) -> bool:
    return isinstance(exc, (RetryableStatus, TransientTransportError))


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        return max(0.0, when.timestamp() - time.time())
    return max(0.0, seconds) if seconds == seconds else None  # NaN is no answer


class RetryBudget:
    """Attempts, waits and the deadline of one call; tenacity asks it when to stop and how long to wait."""

    def __init__(self, config: ClientConfig, *, operation: str, what: str, deadline: float,
                 cancel: threading.Event | None = None) -> None:
        self.config = config
        self.operation = operation
        self.what = what
        self.deadline = deadline
        self.cancel = cancel
        self.max_attempts = config.max_retries + 1
        self.started = time.monotonic()
        self.gave_up: str | None = None
        self._waits: dict[int, float] = {}

    def wait(self, state: tenacity.RetryCallState) -> float:
        """The wait after this attempt: the server's ``Retry-After``, else jittered exponential backoff."""
        if state.attempt_number not in self._waits:
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, RetryableStatus) and exc.retry_after is not None:
                wait = exc.retry_after
            else:
                base = min(self.config.backoff_max, self.config.backoff_min * 2 ** (state.attempt_number - 1))
                wait = float(base * (1 + 0.25 * random.random()))
            self._waits[state.attempt_number] = wait
        return self._waits[state.attempt_number]

    def stop(self, state: tenacity.RetryCallState) -> bool:
        if state.attempt_number >= self.max_attempts:
            self.gave_up = f"after {state.attempt_number} attempts"
            return True
        wait = self.wait(state)
        remaining = self.deadline - time.monotonic()
        exc = state.outcome.exception() if state.outcome else None
        asked = exc.retry_after if isinstance(exc, RetryableStatus) else None
        if asked is not None and asked > min(remaining, self.config.retry_after_cap):
            self.gave_up = (f"at once: the server asked to retry after {asked:.0f}s, more than "
                            f"{'the time left of this call' if asked > remaining else 'retry_after_cap'} "
                            f"({min(remaining, self.config.retry_after_cap):.0f}s)")
            return True
        if wait >= remaining:
            self.gave_up = f"when the deadline of {self.config.deadline:g}s ran out ({state.attempt_number} attempts)"
            return True
        return False

    def before_sleep(self, state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning("%s failed (%s); attempt %d of %d, retrying in %.1fs", self.what, exc,
                    state.attempt_number, self.max_attempts, self.wait(state))

    def sleep(self, seconds: float) -> None:
        if self.cancel is None:
            time.sleep(seconds)
        elif self.cancel.wait(seconds):
            raise CancelledError(f"{self.what}: cancelled while waiting to retry.", operation=self.operation)

    def run(self, attempt: Callable[[], T], *, host: str, first_failure: BaseException | None = None) -> T:
        """Run ``attempt`` until it succeeds, fails permanently or the budget is spent (``ServerError``).

        ``first_failure``: the caller already made attempt 1 and it failed so; tenacity replays it.
        """
        replay = [first_failure] if first_failure is not None else []

        def next_attempt() -> T:
            if replay:
                raise replay.pop()
            return attempt()

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(is_retryable), stop=self.stop, wait=self.wait,
            before_sleep=self.before_sleep, sleep=self.sleep, reraise=False,
        )
        try:
            return retrying(next_attempt)
        except tenacity.RetryError as exc:
            last = exc.last_attempt.exception()
            status = last.status if isinstance(last, RetryableStatus) else None
            raise ServerError(
                f"{self.what}: {host} kept failing ({last}); gave up {self.gave_up}.",
                operation=self.operation, attempts=exc.last_attempt.attempt_number, last_status=status,
                hint="This is usually temporary: try again later (a task's retry will), or raise the "
                     "connection's deadline/max_retries.",
            ) from last
