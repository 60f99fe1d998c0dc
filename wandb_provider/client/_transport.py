"""The one transport of the client: every HTTP request (GraphQL, manifests, files, references).

One place for: connection pools, the environment's proxies and CA bundle (resolved once per host,
the same for every kind of request), authentication (only ever sent to the W&B host), the retry
policy (``_retry``), one deadline that bounds connect, headers and body (``_watchdog``),
cancellation, redaction of URLs and the API key in every message (``_redact``), and the mapping of
HTTP failures to typed errors. It runs on ``urllib3``, what ``requests`` itself runs on: signed
file URLs need none of a ``requests.Session``'s machinery, whose per-request cost exceeds the
transfer of a small file.
"""

from __future__ import annotations

import http.client
import json as jsonlib
import logging
import os
import re
import ssl
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool, port_by_scheme

from . import _watchdog
from ._credentials import credentials_for
from ._redact import redact_url, scrub
from ._retry import RETRY_STATUSES, DeadlineExceeded, RetryableStatus, RetryBudget, TransientTransportError
from .config import USER_AGENT, ClientConfig
from .errors import (
    AuthenticationError,
    CancelledError,
    InvalidValueError,
    MalformedResponseError,
    NotFoundError,
    PermissionDeniedError,
    WandbError,
)

log = logging.getLogger("wandb_provider.client.transport")

CHUNK = 1 << 20
MAX_REDIRECTS = 5
MIN_TRANSFER_RATE = 1 << 20  # bytes/s a large file is granted beyond the call's deadline
MAX_DIRECT = 16  # origins with a pool of their own (W&B, its storage); others share the pool manager's
UrlGuard = Callable[[str], "str | None"]  # refuses a URL, or returns the checked address to connect to
BodyOpener = Callable[[], bytes | Iterable[bytes]]  # a request body (or its chunks), afresh per attempt


# --- connections that report their sockets to the watchdog ---------------------------------------

_PINNED = threading.local()  # (host, address): this thread's request connects only to ``address``


class _Watched:
    """Mixed into urllib3's connections: report the socket to the calling thread's exchange, and
    connect to the address a URL guard checked (never a second DNS answer: no DNS rebinding)."""

    sock: Any
    host: str
    _dns_host: str
    close: Callable[[], None]

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        _attach(self)

    def _new_conn(self) -> Any:
        """The socket, to the pinned address when there is one; TLS (SNI, certificate) and ``Host:``
        still use the name, since only the TCP connection is made with the address."""
        pinned = _pinned_address(self.host)
        if pinned is None:
            return super()._new_conn()  # type: ignore[misc]
        name = self._dns_host
        self._dns_host = pinned
        try:
            return super()._new_conn()  # type: ignore[misc]
        finally:
            self._dns_host = name

    def request(self, *args: Any, **kwargs: Any) -> None:
        self.prepare()
        super().request(*args, **kwargs)  # type: ignore[misc]

    def prepare(self) -> None:
        """Before a request: reconnect a pooled connection to another address than the checked one,
        and report the socket to the calling thread's exchange."""
        pinned = _pinned_address(self.host)
        if pinned is not None and self.sock is not None and _peer(self.sock) != pinned:
            self.close()  # a pooled connection to another address: reconnect to the checked one
        _attach(self)


def _pinned_address(host: str) -> str | None:
    pin = getattr(_PINNED, "value", None)
    return pin[1] if pin is not None and pin[0] == host.strip("[]").lower().rstrip(".") else None


def _peer(sock: Any) -> str | None:
    try:
        return str(sock.getpeername()[0])
    except (OSError, IndexError, TypeError):
        return None


class _WatchedHTTPConnection(_Watched, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_Watched, HTTPSConnection):
    pass


def _attach(connection: _Watched) -> None:
    exchange = _watchdog.current()
    if exchange is not None:
        exchange.attach(connection.sock)


class _WatchedPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_POOL_CLASSES = {"http": _WatchedPool, "https": _WatchedHTTPSPool}
_LeanConnection = _WatchedHTTPConnection | _WatchedHTTPSConnection
_CONNECTION_CLASSES: dict[str, type[_LeanConnection]] = {"http": _WatchedHTTPConnection,
                                                         "https": _WatchedHTTPSConnection}


# --- the lean path: signed storage URLs -----------------------------------------------------------

class _LeanPool:
    """Keep-alive connections to one storage origin reached without a proxy, for the lean path.

    The connections are the transport's own urllib3 connection classes (made with the same TLS
    settings as every pool: CA bundle, verification, SNI), so connecting, the pinned address of a
    URL guard and the watchdog's hold on the socket are unchanged. Only the per-request path is
    thinner: the request line and headers go out through ``http.client`` as they are (a signed URL's
    target is already encoded: ``split_plain`` admits nothing else), and the answer is read with
    ``http.client`` alone, without urllib3's URL parsing, re-encoding, retry object, header copies
    and response wrapper, which together cost more than the transfer of a small file.
    """

    def __init__(self, connection_class: type[_LeanConnection], host: str, port: int,
                 options: dict[str, Any], maxsize: int) -> None:
        self._connection_class = connection_class
        self._host, self._port = host, port
        self._options = options
        self._maxsize = maxsize
        self._idle: list[_LeanConnection] = []
        self._lock = threading.Lock()
        self.closed = False

    def get(self, connect_timeout: float | None) -> _LeanConnection:
        """An idle connection that is still open (newest first), else a new one."""
        while True:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                conn = self._connection_class(self._host, self._port, **self._options)
                break
            if conn.sock is None or conn.is_connected:
                break
            conn.close()  # the server closed it while idle
        conn.timeout = connect_timeout
        return conn

    def put(self, conn: _LeanConnection) -> None:
        with self._lock:
            if not self.closed and len(self._idle) < self._maxsize:
                self._idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        with self._lock:
            self.closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


class _LeanResponse:
    """An ``http.client`` answer read as the transport reads urllib3's (``stream``, ``read``,
    ``close``, ``release_conn``); a body in a content coding is decoded by urllib3 as before."""

    def __init__(self, pool: _LeanPool, conn: _LeanConnection, raw: http.client.HTTPResponse) -> None:
        self._pool = pool
        self.connection: _LeanConnection | None = conn
        self._raw = raw
        self.status = raw.status
        self.headers = raw.msg
        coding = raw.msg.get("Content-Encoding")
        self._decoded: urllib3.HTTPResponse | None = None
        if coding is not None and coding.strip().lower() not in ("", "identity"):
            self._decoded = urllib3.HTTPResponse(body=raw, headers=urllib3.HTTPHeaderDict(raw.msg.items()),
                                                 status=raw.status, preload_content=False, decode_content=True,
                                                 original_response=raw)

    @property
    def length_remaining(self) -> int | None:
        if self._decoded is not None:
            return self._decoded.length_remaining
        return 0 if self._raw.isclosed() else self._raw.length

    def stream(self, size: int, decode_content: bool = True) -> Iterator[bytes]:
        if self._decoded is not None:
            yield from self._decoded.stream(size, decode_content=decode_content)
            return
        raw = self._raw
        while not raw.isclosed():
            left = raw.length
            chunk = raw.read(size if left is None else min(size, left))
            if not chunk:
                break
            yield chunk

    def read(self, amt: int, decode_content: bool = True) -> bytes:
        if self._decoded is not None:
            return self._decoded.read(amt, decode_content=decode_content)
        left = self._raw.length
        return self._raw.read(amt if left is None else min(amt, left))

    def close(self) -> None:
        """Drop the connection (a half-read body, a cancelled or expired exchange)."""
        self._raw.close()
        conn, self.connection = self.connection, None
        if conn is not None:
            conn.close()

    def release_conn(self) -> None:
        """Hand a connection whose answer was read to the end back to its pool."""
        conn, self.connection = self.connection, None
        if conn is None:
            return
        if self._raw.isclosed() and not self._raw.will_close:
            self._pool.put(conn)
        else:
            conn.close()


# --- the environment ------------------------------------------------------------------------------

_CA_FILE_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE")


@dataclass(frozen=True)
class TlsSettings:
    """Which certificates every request of a client trusts (API calls and file transfers alike)."""

    verify: bool
    ca_files: tuple[str, ...] = ()
    ca_dirs: tuple[str, ...] = ()

    @classmethod
    def resolve(cls, verify: bool | str) -> TlsSettings:
        """The connection's ``verify_ssl`` when it is ``False`` or a path; otherwise every CA store the
        environment names (``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``, ``SSL_CERT_FILE``,
        ``SSL_CERT_DIR``: how W&B documents trusting a self-managed server's certificate), else the
        ``certifi`` bundle that ``requests`` uses."""
        if verify is False:
            return cls(False)
        if isinstance(verify, str):
            return cls(True, ca_dirs=(verify,)) if os.path.isdir(verify) else cls(True, ca_files=(verify,))
        files = tuple(dict.fromkeys(v for name in _CA_FILE_VARIABLES if (v := os.environ.get(name))))
        dirs = tuple(v for v in (os.environ.get("SSL_CERT_DIR"),) if v)
        if files or dirs:
            return cls(True, files, dirs)
        import certifi

        return cls(True, (certifi.where(),))

    def context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if not self.verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            return context
        for path in self.ca_files:
            self._load(context, cafile=path)
        for path in self.ca_dirs:
            self._load(context, capath=path)
        return context

    @staticmethod
    def _load(context: ssl.SSLContext, **location: str) -> None:
        try:
            context.load_verify_locations(**location)
        except (OSError, ssl.SSLError) as exc:
            (what,) = location.values()
            raise WandbError(f"cannot read the CA certificates at {what!r} ({exc.strerror or exc}).",
                             hint="Fix verify_ssl, REQUESTS_CA_BUNDLE, SSL_CERT_FILE or SSL_CERT_DIR.") from None


def environ_proxy(origin: str) -> str | None:
    """The proxy the environment names for ``origin`` (``HTTPS_PROXY``, ``ALL_PROXY``; ``NO_PROXY`` honoured)."""
    if sys.platform not in ("darwin", "win32") and not any(
            name.lower().endswith("_proxy") and name.lower() != "no_proxy" and value
            for name, value in os.environ.items()):
        return None  # no proxy variable at all (elsewhere the system settings count): skip importing requests
    from requests.utils import get_environ_proxies

    proxies = get_environ_proxies(origin)
    scheme = origin.split("://", 1)[0]
    proxy = proxies.get(scheme) or proxies.get("all")
    return str(proxy) if proxy else None


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}".lower()


# What a request target may carry as it is (RFC 3986 unreserved, sub-delims, ":@/?" and complete
# percent escapes): a target of only these needs none of urllib3's re-encoding.
_PLAIN_TARGET = re.compile(r"/(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})*")
_PLAIN_ORIGIN = re.compile(r"(https?)://([a-z0-9.\-]+|\[[0-9a-f:.]+\])(?::([0-9]{1,5}))?")


def split_plain(url: str) -> tuple[str, str] | None:
    """``(origin, target)`` of a plain URL (a signed storage URL: lower-case host, no user info, no
    fragment, nothing to percent-encode), split without a general URL parser; None for any other."""
    scheme_end = url.find("://")
    slash = url.find("/", scheme_end + 3) if scheme_end > 0 else -1
    if slash < 0:
        return None
    origin, target = url[:slash], url[slash:]
    if _PLAIN_ORIGIN.fullmatch(origin) is None or _PLAIN_TARGET.fullmatch(target) is None:
        return None
    return origin, target


# --- responses ------------------------------------------------------------------------------------

class Response:
    """One HTTP answer; its body is read under the exchange's deadline and cancel event."""

    def __init__(self, transport: Transport, raw: urllib3.BaseHTTPResponse | _LeanResponse, url: str, operation: str,
                 exchange: _watchdog.Exchange) -> None:
        self._transport = transport
        self._raw = raw
        self.url = url
        self.operation = operation
        self._exchange = exchange
        self.status: int = raw.status
        self.headers = raw.headers
        self._content: bytes | None = None
        self._closed = False

    @property
    def status_code(self) -> int:
        return self.status

    def header(self, name: str) -> str | None:
        value = self.headers.get(name)
        return None if value is None else str(value)

    def chunks(self, size: int = CHUNK) -> Iterator[bytes]:
        """The body in chunks; transport failures become typed or retryable errors."""
        try:
            yield from self._raw.stream(size, decode_content=True)
        except (urllib3.exceptions.HTTPError, http.client.HTTPException, OSError) as exc:
            raise self._transport.map_error(exc, self.operation, self.url, self._exchange) from None
        if self._exchange.expired is not None:
            raise self._transport.map_error(None, self.operation, self.url, self._exchange)

    @property
    def content(self) -> bytes:
        if self._content is None:
            self._content = b"".join(self.chunks(CHUNK))
        return self._content

    def json(self) -> Any:
        """The body as JSON, or ``MalformedResponseError`` (a proxy's HTML page, a cut answer)."""
        try:
            return jsonlib.loads(self.content)
        except ValueError:
            raise MalformedResponseError(
                f"{self.operation}: the answer from {redact_url(self.url)} (HTTP {self.status}) is not JSON: "
                f"{self._transport.scrub(self.content[:200].decode('utf-8', 'replace'))!r}.",
                operation=self.operation, status=self.status,
                hint="A proxy or load balancer may have answered instead of W&B; check the base URL.",
            ) from None

    def detail(self) -> str:
        """The server's own words from an error body (GraphQL ``errors`` or W&B's ``error``), scrubbed."""
        try:
            body = self._content if self._content is not None else self._raw.read(4096, decode_content=True)
        except (urllib3.exceptions.HTTPError, http.client.HTTPException, OSError):
            return ""
        text = body.decode("utf-8", "replace")
        try:
            doc = jsonlib.loads(text)
        except ValueError:
            doc = None
        if isinstance(doc, dict):
            errors = doc.get("errors")
            if isinstance(errors, list) and errors:
                text = "; ".join(str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors)
            elif isinstance(doc.get("error"), dict):
                text = str(doc["error"].get("message", doc["error"]))
            elif doc.get("error"):
                text = str(doc["error"])
        return self._transport.scrub(text.strip()[:300])

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._exchange.finish()
        if self._raw.length_remaining not in (None, 0) or self._exchange.expired is not None:
            self._raw.close()  # a half-read body must not be handed to the next request
        self._raw.release_conn()

    def __enter__(self) -> Response:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- the transport --------------------------------------------------------------------------------

class Transport:
    """HTTP for one W&B deployment: pooled, authenticated, retried, bounded and cancellable."""

    def __init__(self, config: ClientConfig, pool_size: int = 32) -> None:
        self.config = config
        self.pool_size = max(pool_size, config.max_workers)
        self.tls = TlsSettings.resolve(config.verify)
        self._ssl_context = self.tls.context()
        self._api_origin = _origin(config.base_url)
        self._credentials = credentials_for(config)  # an API key, or identity federation (_credentials)
        self._proxies: dict[str, str | None] = {}
        self._managers: dict[str | None, urllib3.PoolManager] = {}
        self._direct: dict[str, HTTPConnectionPool | None] = {}  # origin -> its pool, None: through a proxy
        self._lean: dict[str, _LeanPool | None] = {}  # storage origin -> its lean pool, None: through a proxy
        self._lock = threading.Lock()
        self.closed = threading.Event()
        if not self.tls.verify:
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

    def __repr__(self) -> str:
        return f"Transport(base_url={self.config.base_url!r})"

    def close(self) -> None:
        """Stop every exchange still running and close the pools."""
        self.closed.set()
        with self._lock:
            managers = list(self._managers.values())
            pools = [pool for pool in self._direct.values() if pool is not None]
            lean = [pool for pool in self._lean.values() if pool is not None]
            self._managers.clear()
            self._direct.clear()
            self._lean.clear()
        for manager in managers:
            manager.clear()
        for pool in pools:
            pool.close()
        for lean_pool in lean:
            lean_pool.close()

    def scrub(self, text: str) -> str:
        return scrub(text, (self.config.api_key, *self._credentials.secrets()))

    # --- pools, one per proxy -----------------------------------------------------------------

    def _manager(self, url: str) -> urllib3.PoolManager:
        origin = _origin(url)
        with self._lock:
            if origin not in self._proxies:
                self._proxies[origin] = environ_proxy(origin)
            proxy = self._proxies[origin]
            manager = self._managers.get(proxy)
            if manager is None:
                manager = self._managers[proxy] = self._new_manager(proxy)
            return manager

    def _direct_pool(self, origin: str) -> HTTPConnectionPool | None:
        """The pool of an origin reached without a proxy (made once, kept until ``close``); None when
        the environment names a proxy for it (those requests take the proxy manager's path)."""
        try:
            return self._direct[origin]
        except KeyError:
            pass
        manager = self._manager(origin)
        with self._lock:
            if origin not in self._direct:
                pool = None
                if self._proxies[origin] is None and not self.closed.is_set() and len(self._direct) < MAX_DIRECT:
                    parts = urllib3.util.parse_url(origin)
                    scheme = parts.scheme or "http"
                    pool = manager._new_pool(scheme, parts.host or "", parts.port or port_by_scheme[scheme])
                self._direct[origin] = pool
            return self._direct[origin]

    def _lean_pool(self, origin: str) -> _LeanPool | None:
        """The lean pool of a storage origin reached without a proxy (made once, kept until
        ``close``); None when the environment names a proxy for it (then urllib3's path)."""
        try:
            return self._lean[origin]
        except KeyError:
            pass
        self._manager(origin)  # resolves the origin's proxy once
        with self._lock:
            if origin not in self._lean:
                pool = None
                if self._proxies[origin] is None and not self.closed.is_set() and len(self._lean) < MAX_DIRECT:
                    scheme, _, netloc = origin.partition("://")
                    parts = urllib3.util.parse_url(origin)
                    options: dict[str, Any] = {}
                    if scheme == "https":
                        options["ssl_context"] = self._ssl_context
                        if not self.tls.verify:
                            options.update(cert_reqs="CERT_NONE", assert_hostname=False)
                    pool = _LeanPool(_CONNECTION_CLASSES[scheme], parts.host or netloc,
                                     parts.port or port_by_scheme[scheme], options, self.pool_size)
                self._lean[origin] = pool
            return self._lean[origin]

    def _new_manager(self, proxy: str | None) -> urllib3.PoolManager:
        options: dict[str, Any] = {"num_pools": 16, "maxsize": self.pool_size, "block": False,
                                   "headers": {"User-Agent": USER_AGENT}}
        options["ssl_context"] = self._ssl_context
        if not self.tls.verify:
            options.update(cert_reqs="CERT_NONE", assert_hostname=False)
        if proxy:
            parts = urlsplit(proxy)
            if parts.username:
                options["proxy_headers"] = urllib3.make_headers(
                    proxy_basic_auth=f"{parts.username}:{parts.password or ''}")
            manager: urllib3.PoolManager = urllib3.ProxyManager(proxy, **options)
        else:
            manager = urllib3.PoolManager(**options)
        manager.pool_classes_by_scheme = _POOL_CLASSES  # type: ignore[assignment]
        return manager

    # --- requests -----------------------------------------------------------------------------

    def request(
        self,
        method: str,
        url: str,
        *,
        operation: str,
        what: str | None = None,
        authenticated: bool = True,
        json: Any = None,
        body: bytes | BodyOpener | None = None,
        headers: dict[str, str] | None = None,
        stream: bool = False,
        follow_redirects: bool = True,
        url_guard: UrlGuard | None = None,
        cancel: threading.Event | None = None,
        expected_size: int | None = None,
    ) -> Response:
        """Send with retries; return the first non-retryable answer (the caller checks its status).

        The call's deadline (``config.deadline``) bounds every attempt's connect, headers and body
        and the waits between attempts; a body of ``expected_size`` bytes is granted at least
        ``expected_size / 1 MiB/s``. ``url_guard`` sees every URL before it is requested, redirects
        included. Authentication is only ever sent to the W&B host. A ``body`` given as a callable is
        opened afresh for every attempt and streamed (a file is never read into memory whole).
        """
        started = time.monotonic()
        allowance = expected_size / MIN_TRANSFER_RATE if expected_size else 0.0
        deadline = started + max(self.config.deadline, allowance)
        payload: bytes | BodyOpener | None = body
        request_headers = dict(headers or {})
        if json is not None:
            payload = jsonlib.dumps(json, separators=(",", ":")).encode()
            request_headers.setdefault("Content-Type", "application/json")
        stop = _either(cancel, self.closed)

        def attempt() -> Response:
            data = payload() if callable(payload) else payload
            try:
                return self._exchange(method, url, operation, data, request_headers, authenticated, stream,
                                      follow_redirects, url_guard, deadline, stop)
            finally:
                close = getattr(data, "close", None)
                if close is not None:
                    close()

        try:  # most calls succeed at once: the retry machinery is only built for those that do not
            return attempt()
        except (RetryableStatus, TransientTransportError) as first:
            budget = RetryBudget(self.config, operation=operation, what=what or f"{operation} {redact_url(url)}",
                                 deadline=deadline, cancel=stop)
            return budget.run(attempt, host=self._describe_host(url), first_failure=first)

    send = request  # the name the GraphQL layer and older callers use

    def _describe_host(self, url: str) -> str:
        origin = _origin(url)
        return f"W&B at {self.config.base_url}" if origin == self._api_origin else f"storage at {redact_url(origin)}"

    def _exchange(self, method: str, url: str, operation: str, payload: bytes | Iterable[bytes] | None,
                  headers: dict[str, str], authenticated: bool, stream: bool, follow_redirects: bool,
                  url_guard: UrlGuard | None, deadline: float, cancel: threading.Event | None) -> Response:
        """One attempt: the request, its redirects, and (unless ``stream``) the whole body."""
        if cancel is not None and cancel.is_set():
            raise CancelledError(f"{operation}: cancelled before requesting {redact_url(url)}.", operation=operation)
        for _ in range(MAX_REDIRECTS + 1):
            pinned = url_guard(url) if url_guard is not None else None
            response = self._send_once(method, url, operation, payload, headers, authenticated, deadline, cancel,
                                       pinned)
            location = response.header("Location")
            if not (follow_redirects and response.status in (301, 302, 303, 307, 308) and location):
                break
            response.close()
            url = urljoin(url, location)
            if response.status == 303:
                method, payload = "GET", None
        else:
            response.close()
            raise WandbError(f"{operation}: more than {MAX_REDIRECTS} redirects from {redact_url(url)}.",
                             operation=operation, hint="Check the URL; the server redirects in a loop.")
        if response.status in RETRY_STATUSES:
            detail = response.detail()
            response.close()
            raise RetryableStatus(response.status, _retry_after(response), detail)
        if not stream:
            try:
                _ = response.content
            finally:
                response.close()
        return response

    def _send_once(self, method: str, url: str, operation: str, payload: bytes | Iterable[bytes] | None,
                   headers: dict[str, str], authenticated: bool, deadline: float,
                   cancel: threading.Event | None, pinned: str | None = None) -> Response:
        exchange = _watchdog.Exchange(deadline, cancel)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise DeadlineExceeded(f"no time left to request {redact_url(url)}")
        plain = split_plain(url)
        send_headers = dict(headers)
        if authenticated and (plain[0] if plain else _origin(url)) == self._api_origin:
            send_headers["Authorization"] = self._credentials.authorization(self)
            # The pool's default headers apply only to requests given none: name ourselves to W&B.
            send_headers.setdefault("User-Agent", USER_AGENT)
        connect_timeout, read_timeout = min(self.config.connect_timeout, remaining), min(self.config.timeout, remaining)
        if plain is not None and not authenticated:
            lean = self._lean_pool(plain[0])
            if lean is not None:
                return self._send_lean(lean, method, url, plain[1], operation, payload, send_headers,
                                       (connect_timeout, read_timeout), exchange, pinned)
        timeout = urllib3.Timeout(connect=connect_timeout, read=read_timeout)
        _PINNED.value = ((urlsplit(url).hostname or "").rstrip("."), pinned) if pinned else None
        try:
            # A plain URL to an origin without a proxy goes straight to that origin's pool with its
            # target as it is: no per-request URL parsing, pool-key building or re-encoding, which
            # cost more than the transfer of a small file. Any other URL takes urllib3's full path.
            pool = self._direct_pool(plain[0]) if plain else None
            with _watchdog.watching(exchange):
                if pool is not None and plain is not None:
                    raw = pool.urlopen(method, plain[1], body=payload, headers=send_headers, preload_content=False,
                                       retries=False, redirect=False, timeout=timeout, assert_same_host=False,
                                       release_conn=False)
                else:
                    raw = self._manager(url).request(method, url, body=payload, headers=send_headers,
                                                     preload_content=False, retries=False, redirect=False,
                                                     timeout=timeout)
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
            exchange.finish()
            raise self.map_error(exc, operation, url, exchange) from None
        finally:
            _PINNED.value = None
        exchange.attach(getattr(raw.connection, "sock", None))
        return Response(self, raw, url, operation, exchange)

    def _send_lean(self, lean: _LeanPool, method: str, url: str, target: str, operation: str,
                   payload: bytes | Iterable[bytes] | None, headers: dict[str, str],
                   timeouts: tuple[float, float], exchange: _watchdog.Exchange, pinned: str | None) -> Response:
        """One exchange of a signed storage URL on the lean path (``_LeanPool``): the same pinned
        address, deadline, cancellation, timeouts and error mapping as urllib3's path."""
        headers.setdefault("User-Agent", USER_AGENT)
        conn = lean.get(timeouts[0])
        _PINNED.value = ((urlsplit(url).hostname or "").rstrip("."), pinned) if pinned else None
        try:
            with _watchdog.watching(exchange):
                conn.prepare()
                http.client.HTTPConnection.request(conn, method, target, body=payload, headers=headers)
                assert conn.sock is not None
                conn.sock.settimeout(timeouts[1])
                raw = http.client.HTTPConnection.getresponse(conn)
        except (http.client.HTTPException, urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
            exchange.finish()
            conn.close()
            raise self.map_error(exc, operation, url, exchange) from None
        finally:
            _PINNED.value = None
        exchange.attach(conn.sock)
        return Response(self, _LeanResponse(lean, conn, raw), url, operation, exchange)

    def map_error(self, exc: BaseException | None, operation: str, url: str,
                  exchange: _watchdog.Exchange) -> Exception:
        """The typed (or retryable) error for a failed exchange; never the raw exception."""
        where = redact_url(url)
        if exchange.expired == "cancelled":
            return CancelledError(f"{operation}: cancelled while talking to {where}.", operation=operation)
        if exchange.expired == "deadline":
            return DeadlineExceeded(f"the deadline passed while talking to {where}")
        if isinstance(exc, urllib3.exceptions.SSLError) or "CERTIFICATE_VERIFY_FAILED" in str(exc):
            return WandbError(
                f"{operation}: TLS verification of {where} failed.", operation=operation,
                hint="Trust the server's CA with REQUESTS_CA_BUNDLE or SSL_CERT_FILE, or set the connection's "
                     "verify_ssl to a CA bundle path.",
            )
        if isinstance(exc, (urllib3.exceptions.LocationValueError, ValueError)):
            return WandbError(f"{operation}: {where!r} is not a usable URL ({type(exc).__name__}).",
                              operation=operation, hint="Check the W&B base URL (e.g. https://api.wandb.ai).")
        detail = self.scrub(str(exc)) if exc is not None else "no answer"
        return TransientTransportError(f"{type(exc).__name__ if exc else 'error'} talking to {where}: {detail}")


def _retry_after(response: Response) -> float | None:
    from ._retry import parse_retry_after

    return parse_retry_after(response.header("Retry-After"))


class _Either(threading.Event):
    """Set when either of two events is set (checked, never waited on by the watchdog)."""

    def __init__(self, first: threading.Event, second: threading.Event) -> None:
        super().__init__()
        self._events = (first, second)

    def is_set(self) -> bool:
        return any(event.is_set() for event in self._events)

    def wait(self, timeout: float | None = None) -> bool:
        end = None if timeout is None else time.monotonic() + timeout
        while not self.is_set():
            left = None if end is None else end - time.monotonic()
            if left is not None and left <= 0:
                return False
            self._events[0].wait(0.1 if left is None else min(0.1, left))
        return True


def _either(cancel: threading.Event | None, closed: threading.Event) -> threading.Event:
    return closed if cancel is None else _Either(cancel, closed)


# --- status mapping -------------------------------------------------------------------------------

def raise_for_status(response: Response, operation: str, what: str) -> None:
    """Map a final answer that is not 2xx to the typed error for it."""
    if response.status >= 300:
        raise error_for_status(response.status, response.detail(), operation, what)


def raise_for_storage_status(response: Response, operation: str, what: str) -> None:
    """Map a storage answer that is an error (4xx, 5xx) to its typed error; a redirect is the caller's."""
    if response.status >= 400:
        raise error_for_status(response.status, response.detail(), operation, what)


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
    if 300 <= status < 400:
        return MalformedResponseError(f"{what}: unexpected redirect (HTTP {status}).", operation=operation,
                                      status=status, hint="Check the base URL; W&B answers without redirects.")
    return InvalidValueError(f"{what}: W&B refused the request (HTTP {status}: {detail}).",
                             operation=operation, status=status)
