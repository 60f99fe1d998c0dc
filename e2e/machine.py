"""Per-worker host name for ``[core] hostname_callable``: two Celery workers on one machine stand for two
machines, and the task instances they run record ``E2E_MACHINE`` as their host."""

from __future__ import annotations

import os
import socket


def hostname() -> str:
    """``E2E_MACHINE`` when set (a deployment check's worker), else the machine's own name."""
    return os.environ.get("E2E_MACHINE") or socket.getfqdn()
