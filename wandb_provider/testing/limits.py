"""Request body size limits, enforced while the body streams in, as an ASGI middleware.

Uploads (``PUT /storage/...``: files, manifests, run files) may be as large as ``max_upload_bytes``;
every other body (GraphQL, admin, file stream) at most ``max_body_bytes``. A declared
``Content-Length`` over the limit is answered at once, without reading the body; a body without
one (chunked) is counted as it arrives and refused as soon as it passes the limit, so nothing
over the limit is ever buffered or stored. The answer is HTTP 413 with a W&B-shaped JSON error.
"""

from __future__ import annotations

import json

from .errors import EmulatorError
from .faults import ASGIApp, Message, Receive, Scope, Send, classify


class RequestTooLarge(EmulatorError):
    """The request body is larger than the server accepts for this route."""

    http_status = 413

    def __init__(self, what: str, limit: int, option: str) -> None:
        super().__init__(
            f"request body too large: {what} may be at most {limit} bytes on this server "
            f"(raise the limit with {option})"
        )


class BodyLimitMiddleware:
    """Refuses request bodies over the route's limit with 413, before and while they stream."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes

    def _limit(self, scope: Scope) -> tuple[int, str, str]:
        if classify(scope["method"], scope["path"]) == "uploads":
            return self.max_upload_bytes, "an upload", "--max-upload-bytes"
        return self.max_body_bytes, "a GraphQL or admin request", "--max-body-bytes"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, what, option = self._limit(scope)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await send_error(send, RequestTooLarge(what, limit, option))
            return
        received = 0

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise RequestTooLarge(what, limit, option)
            return message

        try:
            # ``send`` is passed on untouched: the fault middleware reaches uvicorn's transport through it.
            await self.app(scope, counted_receive, send)
        except RequestTooLarge as exc:
            # Raised outside a route's own error handling (while the fault middleware reads a
            # GraphQL body); every route reads its body before it starts answering.
            await send_error(send, exc)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def send_error(send: Send, exc: EmulatorError) -> None:
    """Answer with ``exc`` as W&B's JSON error shape: ``{"errors": [{"message": ...}], "data": null}``."""
    body = json.dumps({"errors": [{"message": exc.message}], "data": None}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": exc.http_status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
