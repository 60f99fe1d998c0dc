"""Unauthenticated GETs of storage URLs (signed file URLs, manifests, ``http(s)`` references).

A thin face of the one transport (``_transport``): same pools, proxies, CA bundle, retry policy,
deadline, cancellation and redaction as every W&B API call; credentials are never sent.
"""

from __future__ import annotations

import threading

from ._transport import Response, Transport, UrlGuard, error_for_status

StorageResponse = Response


def raise_for_storage_status(response: Response, operation: str, what: str) -> None:
    if response.status >= 400:
        raise error_for_status(response.status, response.detail(), operation, what)


class Storage:
    """Streamed GETs of storage URLs through the client's transport."""

    def __init__(self, transport: Transport, pool_size: int = 32) -> None:
        self.transport = transport

    def close(self) -> None:
        """Nothing of its own to close: the transport owns the pools."""

    def get(
        self,
        url: str,
        *,
        operation: str,
        follow_redirects: bool = True,
        url_guard: UrlGuard | None = None,
        cancel: threading.Event | None = None,
        expected_size: int | None = None,
    ) -> Response:
        """GET ``url`` without credentials, streamed; retries 408/429/5xx and resets."""
        return self.transport.request(
            "GET", url, operation=operation, authenticated=False, stream=True, follow_redirects=follow_redirects,
            url_guard=url_guard, cancel=cancel, expected_size=expected_size,
        )
