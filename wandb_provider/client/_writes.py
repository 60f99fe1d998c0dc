"""What every write shares: reading W&B's answers strictly, and letting racing writers land first.

W&B has no compare-and-set: a writer reads, decides, writes, and another writer may do the same in
between. Each write here reads the state back after it, and waits a little before that read-back
(``settle``) so that a writer which read the old state just before us has written by then and its
change is seen. That makes a lost race visible in nearly every case; it cannot make it impossible.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from .errors import MalformedResponseError, WandbError

SETTLE_MIN_SECONDS = 0.25
SETTLE_MAX_SECONDS = 5.0
SETTLE_FACTOR = 3.0


def settle(elapsed: float) -> None:
    """Wait before a read-back: a few times our own read-to-write time (another writer that read
    when we did takes about as long to write), within [0.25 s, 5 s]."""
    time.sleep(min(SETTLE_MAX_SECONDS, max(SETTLE_MIN_SECONDS, SETTLE_FACTOR * elapsed)))


@contextmanager
def strict_answer(what: str, operation: str) -> Iterator[None]:
    """Turn a missing or mistyped field in W&B's answer into ``MalformedResponseError``."""
    try:
        yield
    except WandbError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise MalformedResponseError(
            f"{what}: W&B's answer lacks or mistypes a field ({type(exc).__name__}: {str(exc)[:200]}).",
            operation=operation, hint="A proxy or an incompatible server may be answering; try again later.",
        ) from None
