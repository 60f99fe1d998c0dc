"""One pooled ``requests.Session`` for every call: auth, User-Agent, timeouts, retries, error mapping.

The only module that catches ``requests`` exceptions; everything above it sees ``WandbError``.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import requests
import tenacity
from requests.adapters import HTTPAdapter

from ._retry import RETRY_STATUSES, RetryableStatus, TransientTransportError, parse_retry_after, retrying
from .config import USER_AGENT, ClientConfig
from .errors import (
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    PermissionDeniedError,
    ServerError,
    WandbError,
)

T = TypeVar("T")


@contextmanager
def map_transport_errors(operation: str, url: str) -> Iterator[None]:
    """Turn ``requests`` failures into retryable or permanent client errors."""
    try:
        yield
    except requests.exceptions.SSLError as exc:
        raise WandbError(
            f"{operation}: TLS verification of {url} failed ({type(exc).__name__}).",
            operation=operation,
            hint="Fix the server certificate or set the connection's verify_ssl to a CA bundle path.",
        ) from exc
    except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
            requests.exceptions.InvalidSchema) as exc:
        raise WandbError(
            f"{operation}: {url!r} is not a usable URL ({exc}).",
            operation=operation,
            hint="Check the W&B base URL (e.g. https://api.wandb.ai).",
        ) from exc
    except (requests.exceptions.ConnectionError, requests.exceptions.Timeout,
            requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError) as exc:
        raise TransientTransportError(f"{type(exc).__name__} talking to {url}") from exc


def error_message(response: requests.Response) -> str:
    """The server's own words from an error body (GraphQL ``errors`` or W&B's ``error``)."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:300].strip()
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list) and errors:
            return "; ".join(str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors)
        error = body.get("error")
        if isinstance(error, dict):
            return str(error.get("message", error))
        if error:
            return str(error)
    return response.text[:300].strip()


def raise_for_status(response: requests.Response, operation: str, what: str) -> None:
    """Map a final non-2xx answer to the typed error for it."""
    if response.status_code >= 400:
        raise error_for_status(response.status_code, error_message(response), operation, what)


def error_for_status(status: int, detail: str, operation: str, what: str) -> WandbError:
    """The typed error for a final (non-retryable) HTTP error status; the one mapping for all calls."""
    if status == 401:
        return AuthenticationError(
            f"{what}: W&B rejected the API key (HTTP 401: {detail}).",
            operation=operation, status=status,
            hint="Check the connection's password (API key) or WANDB_API_KEY, and the base URL.",
        )
    if status == 403:
        return PermissionDeniedError(
            f"{what}: permission denied (HTTP 403: {detail}).", operation=operation, status=status,
            hint="Ask an admin of the entity for access, or use a key that has it.",
        )
    if status == 404:
        return NotFoundError(f"{what}: not found (HTTP 404: {detail}).", operation=operation, status=status)
    return BadRequestError(f"{what}: W&B refused the request (HTTP {status}: {detail}).",
                          operation=operation, status=status)


class Transport:
    """HTTP to one W&B deployment, with the retry policy of ``_retry``."""

    def __init__(self, config: ClientConfig, pool_size: int = 32) -> None:
        self.config = config
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers["User-Agent"] = USER_AGENT
        self.session.verify = config.verify
        # requests re-reads proxy variables and ~/.netrc from the environment on every request
        # when trust_env is on (about half the CPU of a small call); read proxies once per host.
        self.session.trust_env = False
        self._proxies: dict[str, dict[str, str]] = {}
        self._authorization = "Basic " + base64.b64encode(f"api:{config.api_key}".encode()).decode()

    def __repr__(self) -> str:
        return f"Transport(base_url={self.config.base_url!r})"

    def close(self) -> None:
        self.session.close()

    def proxies_for(self, url: str) -> dict[str, str]:
        """The environment's proxies for this URL's scheme and host (``NO_PROXY`` honoured), cached."""
        origin = url.split("/", 3)[:3]
        key = "/".join(origin)
        proxies = self._proxies.get(key)
        if proxies is None:
            proxies = self._proxies[key] = dict(requests.utils.get_environ_proxies(key))
        return proxies

    def send(
        self,
        method: str,
        url: str,
        *,
        operation: str,
        authenticated: bool = True,
        json: Any = None,
        stream: bool = False,
        headers: dict[str, str] | None = None,
        allow_redirects: bool = True,
    ) -> requests.Response:
        """Send with retries; return the first non-retryable answer (the caller checks its status)."""
        deadline = time.monotonic() + self.config.deadline
        request_headers = dict(headers or {})
        if authenticated:
            request_headers["Authorization"] = self._authorization

        proxies = self.proxies_for(url)

        def attempt() -> requests.Response:
            read_timeout = max(0.05, min(self.config.timeout, deadline - time.monotonic()))
            with map_transport_errors(operation, url):
                response = self.session.request(
                    method, url, json=json, stream=stream, headers=request_headers, proxies=proxies,
                    timeout=(self.config.connect_timeout, read_timeout), allow_redirects=allow_redirects,
                )
            if response.status_code in RETRY_STATUSES:
                detail = error_message(response)
                response.close()
                raise RetryableStatus(response.status_code, parse_retry_after(response.headers.get("Retry-After")),
                                      detail)
            return response

        result: requests.Response = self.with_retries(operation, attempt)
        return result

    def with_retries(self, operation: str, attempt: Callable[[], T]) -> T:
        """Run ``attempt`` under the retry policy; ``ServerError`` once the budget is spent."""
        try:
            return retrying(self.config)(attempt)
        except tenacity.RetryError as exc:
            last = exc.last_attempt.exception()
            status = last.status if isinstance(last, RetryableStatus) else None
            raise ServerError(
                f"{operation}: W&B at {self.config.base_url} kept failing ({last}) after "
                f"{exc.last_attempt.attempt_number} attempts.",
                operation=operation, attempts=exc.last_attempt.attempt_number, last_status=status,
                hint="This is usually temporary: try again later (Airflow retries the task).",
            ) from last
