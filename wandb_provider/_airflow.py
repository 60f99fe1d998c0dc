"""The one mapping from client errors to Airflow outcomes, shared by operators and sensors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from .client.errors import WandbError


@contextmanager
def translate_errors() -> Iterator[None]:
    """Fail the task at once on permanent W&B errors; let transient ones reach Airflow's retries.

    Bad input, authentication, permission, not-found and integrity errors will not heal by retrying,
    so they become ``AirflowFailException`` (no retry). ``ServerError`` is re-raised unchanged.
    """
    from airflow.sdk.exceptions import AirflowFailException

    try:
        yield
    except WandbError as err:
        if err.transient:
            raise
        raise AirflowFailException(str(err)) from err
