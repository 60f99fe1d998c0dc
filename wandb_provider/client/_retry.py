"""THE retry policy of the client, on tenacity.

=====================================  =========
outcome                                retried?
=====================================  =========
connection error, reset, read timeout  yes
HTTP 408, 429, 500, 502-599            yes, honouring ``Retry-After`` (capped)
HTTP 501                               no
HTTP 400, 401, 403, 404, 409, 422      no
HTTP 200 with GraphQL ``errors``       no (W&B answered; asking again gives the same answer)
TLS certificate errors                 no
=====================================  =========

Waits grow exponentially with 25% jitter between ``backoff_min`` and ``backoff_max``. A call stops
after ``max_retries + 1`` attempts or before a wait would pass its total ``deadline``.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable
from typing import Any

import tenacity

from .config import ClientConfig

RETRY_STATUSES = frozenset({408, 429, 500} | set(range(502, 600)))


class RetryableStatus(Exception):
    """An HTTP answer worth asking again; carries the status and any ``Retry-After``."""

    def __init__(self, status: int, retry_after: float | None, detail: str = "") -> None:
        super().__init__(f"HTTP {status}{': ' + detail if detail else ''}")
        self.status = status
        self.retry_after = retry_after


class TransientTransportError(Exception):
    """A connection problem worth trying again (reset, refused, timed out, cut short)."""


def is_retryable(exc: BaseException | None) -> bool:
    return isinstance(exc, (RetryableStatus, TransientTransportError))


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class _Wait:
    def __init__(self, config: ClientConfig) -> None:
        self.config = config

    def __call__(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RetryableStatus) and exc.retry_after is not None:
            return min(exc.retry_after, self.config.retry_after_cap)
        base = min(self.config.backoff_max, self.config.backoff_min * 2 ** (state.attempt_number - 1))
        return float(base * (1 + 0.25 * random.random()))


def retrying(config: ClientConfig, *, sleep: Callable[[float], Any] = time.sleep) -> tenacity.Retrying:
    """A fresh ``Retrying`` for one call; it raises ``tenacity.RetryError`` when the budget is spent."""
    return tenacity.Retrying(
        retry=tenacity.retry_if_exception(is_retryable),
        wait=_Wait(config),
        stop=tenacity.stop_after_attempt(config.max_retries + 1) | tenacity.stop_before_delay(config.deadline),
        sleep=sleep,
        reraise=False,
    )
