"""File transfers from storage URLs over ``urllib3`` directly, under the client's retry policy.

Signed storage URLs need none of ``requests``' session machinery (auth, cookies, hooks, settings
merges), which costs more CPU than the transfer of a small file; ``urllib3`` (what ``requests``
itself runs on) cuts the per-file cost by more than half. URLs behind an environment proxy go
through the ``requests`` session instead.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import urllib3

from ._retry import RETRY_STATUSES, RetryableStatus, TransientTransportError, parse_retry_after
from ._transport import Transport, error_for_status, map_transport_errors
from .config import USER_AGENT
from .errors import WandbError


@contextmanager
def map_urllib3_errors(operation: str, url: str) -> Iterator[None]:
    where = url.split("?", 1)[0]
    try:
        yield
    except urllib3.exceptions.SSLError as exc:
        raise WandbError(f"{operation}: TLS verification of {where} failed ({exc}).", operation=operation,
                         hint="Fix the certificate or set the connection's verify_ssl.") from exc
    except urllib3.exceptions.LocationParseError as exc:
        raise WandbError(f"{operation}: {where!r} is not a usable URL.", operation=operation) from exc
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise TransientTransportError(f"{type(exc).__name__} reading {where}") from exc


class StorageResponse:
    """A streamed GET answer: status, headers and body chunks (transport errors become retryable)."""

    def __init__(self, raw: Any, url: str, operation: str, via_requests: bool) -> None:
        self._raw = raw
        self._url = url
        self._operation = operation
        self._via_requests = via_requests
        self.status: int = raw.status_code if via_requests else raw.status

    def header(self, name: str) -> str | None:
        value = self._raw.headers.get(name)
        return None if value is None else str(value)

    def chunks(self, size: int) -> Iterator[bytes]:
        if self._via_requests:
            with map_transport_errors(self._operation, self._url.split("?", 1)[0]):
                yield from self._raw.iter_content(size)
            return
        with map_urllib3_errors(self._operation, self._url):
            yield from self._raw.stream(size, decode_content=True)

    def detail(self) -> str:
        try:
            body = b"".join(self.chunks(4096))[:300]
        except (TransientTransportError, WandbError):
            return ""
        return body.decode("utf-8", "replace").strip()

    def close(self) -> None:
        if self._via_requests:
            self._raw.close()
        else:
            self._raw.release_conn()

    def __enter__(self) -> StorageResponse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def raise_for_storage_status(response: StorageResponse, operation: str, what: str) -> None:
    if response.status >= 400:
        raise error_for_status(response.status, response.detail(), operation, what)


class Storage:
    """Streamed GETs of storage URLs, with the same retry policy as W&B API calls."""

    def __init__(self, transport: Transport, pool_size: int = 32) -> None:
        self.transport = transport
        config = transport.config
        options: dict[str, Any] = {"maxsize": pool_size, "num_pools": 8, "headers": {"User-Agent": USER_AGENT}}
        if config.verify is False:
            options["cert_reqs"] = "CERT_NONE"
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        elif isinstance(config.verify, str):
            options["ca_certs"] = config.verify
        self._pool = urllib3.PoolManager(**options)

    def close(self) -> None:
        self._pool.clear()

    def get(self, url: str, *, operation: str, follow_redirects: bool = True) -> StorageResponse:
        """GET ``url`` (no credentials: storage URLs are signed); retry 408/429/5xx and resets.

        With ``follow_redirects=False`` a 3xx answer is returned as it is, so the caller can check
        each hop (reference entries).
        """
        config = self.transport.config
        if self.transport.proxies_for(url):
            response = self.transport.send("GET", url, operation=operation, authenticated=False, stream=True,
                                           allow_redirects=follow_redirects)
            return StorageResponse(response, url, operation, via_requests=True)
        deadline = time.monotonic() + config.deadline

        def attempt() -> StorageResponse:
            read_timeout = max(0.05, min(config.timeout, deadline - time.monotonic()))
            with map_urllib3_errors(operation, url):
                raw = self._pool.request(
                    "GET", url, preload_content=False, retries=False, redirect=follow_redirects,
                    timeout=urllib3.Timeout(connect=config.connect_timeout, read=read_timeout),
                )
            response = StorageResponse(raw, url, operation, via_requests=False)
            if response.status in RETRY_STATUSES:
                detail = response.detail()
                response.close()
                raise RetryableStatus(response.status, parse_retry_after(response.header("Retry-After")), detail)
            return response

        return self.transport.with_retries(operation, attempt)

