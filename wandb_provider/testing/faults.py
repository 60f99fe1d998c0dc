"""Fault injection and request counting, as an ASGI middleware in front of the emulator.

Rules (``--faults`` JSON or ``POST /_admin/faults``)::

    {"seed": 7, "rules": [{"route": "files", "rate": 0.2, "kind": "status", "status": 503,
                           "retry_after": 1}, ...]}

``route`` is ``graphql``, ``files`` or ``uploads``; ``kind`` is ``status`` (answer ``status``,
with ``Retry-After`` when ``retry_after`` is set), ``reset`` (drop the connection without an
answer), ``delay`` (wait ``seconds`` first), ``hold`` (wait until the test releases held requests,
``FaultState.release`` or ``POST /_admin/faults/release``, or at most ``seconds``; then answer; a
GraphQL request is held while it executes, as a long query is),
``truncate`` (send half the body, then drop the connection) or ``corrupt`` (flip bytes, same
length). Optional ``path`` limits a rule to URLs containing that text (for ``graphql``,
``/graphql#OperationName``), ``operation`` to GraphQL
requests of that operation name, ``after`` lets that many
matching requests through first, and ``times`` limits it to that many injections. Randomness is
seeded. ``hold`` is how a test catches a client in the middle of a transfer without a timer:
``FaultState.wait_held()`` returns once a request is held.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import random
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from .graphql_api import operation_name

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

ROUTES = ("graphql", "files", "uploads")
KINDS = ("status", "reset", "delay", "hold", "truncate", "corrupt")
HOLD_KEY = "wandb_provider.hold"  # scope key: the hold rule the GraphQL handler applies while it executes


@dataclass
class Rule:
    route: str
    kind: str
    rate: float = 1.0
    status: int = 503
    retry_after: float | None = None
    seconds: float = 1.0
    path: str | None = None
    times: int | None = None
    after: int = 0
    operation: str | None = None

    @classmethod
    def parse(cls, raw: Any) -> Rule:
        """Check one rule from JSON; a ValueError names the offending key and the allowed values."""
        if not isinstance(raw, dict):
            raise ValueError(f"a fault rule is a JSON object, got {raw!r}")
        fields = cls.__dataclass_fields__
        unknown = sorted(set(raw) - set(fields))
        if unknown:
            raise ValueError(f"unknown fault rule keys {unknown}; allowed: {sorted(fields)}")
        missing = [key for key in ("route", "kind") if key not in raw]
        if missing:
            raise ValueError(f"fault rule {raw} lacks {missing}")
        rule = cls(**raw)
        if rule.route not in ROUTES:
            raise ValueError(f"fault rule route {rule.route!r} is not one of {ROUTES}")
        if rule.kind not in KINDS:
            raise ValueError(f"fault rule kind {rule.kind!r} is not one of {KINDS}")
        if not _is_number(rule.rate) or not 0 <= rule.rate <= 1:
            raise ValueError(f"fault rule rate {rule.rate!r} must be a number between 0 and 1")
        if not _is_int(rule.status) or not 100 <= rule.status <= 599:
            raise ValueError(f"fault rule status {rule.status!r} must be an HTTP status (100-599)")
        if rule.retry_after is not None and (not _is_number(rule.retry_after) or rule.retry_after < 0):
            raise ValueError(f"fault rule retry_after {rule.retry_after!r} must be a number of seconds >= 0")
        if not _is_number(rule.seconds) or not 0 <= rule.seconds <= 3600:
            raise ValueError(f"fault rule seconds {rule.seconds!r} must be a number of seconds (0-3600)")
        if rule.path is not None and not isinstance(rule.path, str):
            raise ValueError(f"fault rule path {rule.path!r} must be a string")
        if rule.times is not None and (not _is_int(rule.times) or rule.times < 0):
            raise ValueError(f"fault rule times {rule.times!r} must be a whole number >= 0")
        if rule.operation is not None and (not isinstance(rule.operation, str) or rule.route != "graphql"):
            raise ValueError(f"fault rule operation {rule.operation!r} must be a GraphQL operation name "
                             "(route 'graphql')")
        if not _is_int(rule.after) or rule.after < 0:
            raise ValueError(f"fault rule after {rule.after!r} must be a whole number >= 0")
        return rule


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parse_spec(spec: Any) -> tuple[list[Rule], int | str]:
    """Check a ``--faults`` document: ``{"seed": ..., "rules": [...]}``, a list of rules, or null."""
    if spec is None:
        return [], 0
    if isinstance(spec, list):
        spec = {"rules": spec}
    if not isinstance(spec, dict):
        raise ValueError(f'faults must be {{"seed": N, "rules": [...]}} or a list of rules, got {spec!r}')
    unknown = sorted(set(spec) - {"seed", "rules"})
    if unknown:
        raise ValueError(f"unknown faults keys {unknown}; allowed: ['rules', 'seed']")
    seed = spec.get("seed", 0)
    if not (_is_int(seed) or isinstance(seed, str)):
        raise ValueError(f"faults seed {seed!r} must be an integer or a string")
    rules = spec.get("rules", [])
    if not isinstance(rules, list):
        raise ValueError(f"faults rules must be a list, got {rules!r}")
    return [Rule.parse(raw) for raw in rules], seed


def classify(method: str, path: str) -> str | None:
    """Which counted route a request belongs to (None: not counted, never faulted)."""
    if path == "/graphql":
        return "graphql"
    if method in ("GET", "HEAD") and (path.startswith(("/storage/blobs/", "/artifactsV2/", "/artifacts/"))):
        return "files"
    if method == "PUT" and path.startswith("/storage/"):
        return "uploads"
    return None


class FaultState:
    """The active rules, their seeded random source and the request counters."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.rules: list[Rule] = []
        self.seed: int | str = 0
        self._random = random.Random(0)
        self._held = threading.Condition(self._lock)
        # Held requests by the rules they were held under (one number per ``configure``), and how many
        # times ``release`` was called: a request held before a release goes on, whatever came since.
        self._rules_epoch = 0
        self._holding: Counter[int] = Counter()
        self._releases = 0
        self._released = threading.Event()
        self.reset_stats()

    def configure(self, spec: Any) -> None:
        """Replace the rules (all or nothing: an invalid document keeps the current rules)."""
        rules, seed = parse_spec(spec)
        with self._lock:
            self.rules = rules
            self.seed = seed
            self._random = random.Random(seed)
            self._rules_epoch += 1
            self._released.clear()

    @property
    def held(self) -> int:
        """Requests held now under the current rules."""
        with self._lock:
            return self._holding[self._rules_epoch]

    def release(self) -> None:
        """Let every held request go on, and those a ``hold`` rule would hold from now on (until
        the rules are configured again)."""
        with self._lock:
            self._releases += 1
            self._released.set()

    def wait_held(self, count: int = 1, timeout: float = 60.0) -> bool:
        """Block until ``count`` requests are held at once under the current rules; False if
        ``timeout`` seconds pass first."""
        with self._held:
            return self._held.wait_for(lambda: self._holding[self._rules_epoch] >= count, timeout)

    def hold_blocking(self, seconds: float) -> None:
        """``hold`` for a request executing in a worker thread (a GraphQL request, held while it
        executes as a long query is): the same counters and releases."""
        with self._held:
            epoch, releases = self._rules_epoch, self._releases
            self._holding[epoch] += 1
            self._held.notify_all()
        try:
            deadline = time.monotonic() + seconds
            while not self._released.is_set() and self._releases == releases and time.monotonic() < deadline:
                self._released.wait(0.005)
        finally:
            with self._held:
                self._holding[epoch] -= 1
                if not self._holding[epoch]:
                    del self._holding[epoch]

    async def hold(self, seconds: float) -> None:
        """Hold a request until ``release()`` or ``seconds`` pass."""
        with self._held:
            epoch, releases = self._rules_epoch, self._releases
            self._holding[epoch] += 1
            self._held.notify_all()
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + seconds
            while not self._released.is_set() and self._releases == releases and loop.time() < deadline:
                await asyncio.sleep(0.005)
        finally:
            with self._held:
                self._holding[epoch] -= 1
                if not self._holding[epoch]:
                    del self._holding[epoch]

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {"seed": self.seed, "rules": [dict(rule.__dict__) for rule in self.rules]}

    def reset_stats(self) -> None:
        with self._lock:
            self.graphql_total = 0
            self.operations: Counter[str] = Counter()
            self.files = 0
            self.uploads = 0
            self.upload_bytes = 0
            self.upload_headers: list[dict[str, str]] = []  # each storage PUT's headers, for tests

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "graphql": {"total": self.graphql_total, "operations": dict(self.operations)},
                "files": self.files,
                "uploads": self.uploads,
                "upload_bytes": self.upload_bytes,
            }

    def count(self, route: str, operation: str | None) -> None:
        with self._lock:
            if route == "graphql":
                self.graphql_total += 1
                self.operations[operation or "anonymous"] += 1
            elif route == "files":
                self.files += 1
            else:
                self.uploads += 1

    def record_upload_headers(self, path: str, headers: dict[str, str]) -> None:
        """Keep a storage PUT's path and headers (the last 1,000), so tests can see what clients send."""
        with self._lock:
            self.upload_headers.append({"path": path, **headers})
            del self.upload_headers[:-1000]

    def count_upload_bytes(self, size: int) -> None:
        """Bytes of artifact files stored by uploads (whole files and multipart parts; not manifests)."""
        with self._lock:
            self.upload_bytes += size

    def pick(self, route: str, path: str, operation: str | None = None) -> Rule | None:
        """The rule to apply to this request (of GraphQL ``operation``), if any fires."""
        with self._lock:
            for rule in self.rules:
                if rule.route != route or (rule.path and rule.path not in path):
                    continue
                if rule.operation is not None and rule.operation != operation:
                    continue
                if rule.times is not None and rule.times <= 0:
                    continue
                if rule.after > 0:
                    rule.after -= 1
                    continue
                if self._random.random() < rule.rate:
                    if rule.times is not None:
                        rule.times -= 1
                    return rule
        return None


def abort_connection(send: Send) -> bool:
    """Drop the client's TCP connection at once (RST), without an HTTP answer.

    uvicorn's ``send`` is a bound method of its request cycle, which holds the transport.
    """
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:
        return False
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
    return True


class _Dropped(Exception):
    """The middleware dropped the connection on purpose."""


class FaultMiddleware:
    """Counts requests by route and applies the configured faults before the real app answers."""

    def __init__(self, app: ASGIApp, state: FaultState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = classify(scope["method"], scope["path"])
        if route is None:
            await self.app(scope, receive, send)
            return
        operation = None
        path = scope["path"]
        if route == "graphql":
            body = await _read_body(receive)
            receive = _replay(body)
            operation = _operation_of(body)
            path = f"{path}#{operation}"
        self.state.count(route, operation)
        rule = self.state.pick(route, path, operation)
        if rule is None:
            await self.app(scope, receive, send)
            return
        if rule.kind == "hold" and route == "graphql":
            scope[HOLD_KEY] = rule  # held while it executes (app.graphql), as a long query is
            await self.app(scope, receive, send)
        elif rule.kind == "delay":
            await asyncio.sleep(rule.seconds)
            await self.app(scope, receive, send)
        elif rule.kind == "hold":
            await self.state.hold(rule.seconds)
            await self.app(scope, receive, send)
        elif rule.kind == "status":
            await _send_status(send, rule)
        elif rule.kind == "reset":
            if abort_connection(send):
                await asyncio.sleep(0)
                return
            raise _Dropped("connection reset by fault rule")
        else:
            try:
                await self.app(scope, receive, _damaging_send(send, rule.kind))
            except _Dropped:
                await asyncio.sleep(0)


async def _send_status(send: Send, rule: Rule) -> None:
    body = json.dumps({"errors": [{"message": f"injected fault: HTTP {rule.status}"}]}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if rule.retry_after is not None:
        headers.append((b"retry-after", _seconds_text(rule.retry_after).encode()))
    await send({"type": "http.response.start", "status": rule.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _seconds_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _damaging_send(send: Send, kind: str) -> Send:
    """Wrap ``send`` to corrupt the body, or cut it off halfway and drop the connection."""
    state = {"length": 0, "sent": 0}

    async def damaged(message: Message) -> None:
        if message["type"] == "http.response.start":
            for name, value in message.get("headers", []):
                if name.lower() == b"content-length":
                    state["length"] = int(value)
            await send(message)
            return
        if message["type"] != "http.response.body":
            await send(message)
            return
        chunk = bytes(message.get("body", b""))
        if kind == "corrupt" and chunk:
            chunk = bytes(b ^ 0xFF for b in chunk[:16]) + chunk[16:]
            await send({**message, "body": chunk})
            return
        half = max(1, state["length"] // 2)
        room = half - state["sent"]
        if len(chunk) < room:
            state["sent"] += len(chunk)
            await send(message)
            return
        await send({"type": "http.response.body", "body": chunk[:room], "more_body": True})
        abort_connection(send)
        raise _Dropped("response truncated by fault rule")

    return damaged


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            await asyncio.Event().wait()  # the app asked for more: wait for a disconnect
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def _operation_of(body: bytes) -> str:
    try:
        payload = json.loads(body)
        return operation_name(str(payload.get("query") or ""), payload.get("operationName"))
    except (ValueError, AttributeError):
        return "anonymous"
