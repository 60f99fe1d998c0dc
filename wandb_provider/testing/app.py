"""HTTP routes of the local W&B server; the only place emulator errors become responses.

``/graphql`` (Basic ``api:<key>``), signed storage URLs (no auth, as W&B's presigned URLs),
the authenticated ``artifactsV2`` fallback, the run file stream, ``/healthz`` and the
loopback-only ``/_admin`` control plane. Request bodies are size-limited (``limits.py``).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import json
import math
import mimetypes
import os
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote

from graphql import OperationDefinitionNode, OperationType
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from . import ids
from .blobs import BlobWriter
from .config import (
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_UPLOAD_BYTES,
    DEFAULT_PENDING_TTL_SECONDS,
    is_ip_address,
    is_loopback_address,
)
from .errors import EmulatorError, InvalidInput, NotFound, PermissionDenied, Unauthenticated
from .faults import HOLD_KEY, FaultMiddleware, FaultState
from .graphql_api import GraphQLService, Outcome
from .identity import GrantRefused, IdentityFederation
from .limits import BodyLimitMiddleware, RequestTooLarge
from .pending import PendingReaper
from .profiles import LATEST, Profile
from .recorder import GraphQLRecorder
from .resolvers import Context
from .store import Store
from .store.records import User
from .urls import UrlBuilder, UrlSigner

_MD5_HEX = re.compile(r"[0-9a-f]{32}")
# File reads get their own threads: GraphQL requests queued on the store must never hold up a download.
_FILE_READS = ThreadPoolExecutor(max_workers=16, thread_name_prefix="wandb-server-read")


class ServerState:
    """Everything the routes share: the store, GraphQL service, URL signer, fault rules and limits."""

    def __init__(
        self,
        store: Store,
        signer: UrlSigner,
        faults: FaultState,
        *,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
        pending_ttl_seconds: float = DEFAULT_PENDING_TTL_SECONDS,
        loopback_only: bool = False,
        profile: Profile = LATEST,
    ) -> None:
        self.store = store
        self.signer = signer
        self.faults = faults
        self.graphql = GraphQLService(profile)
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes
        self.pending = PendingReaper(store, pending_ttl_seconds)
        self.loopback_only = loopback_only  # bound to a loopback address only
        self.identity: IdentityFederation | None = None  # identity federation's token endpoint (identity.py)
        self.recorder = GraphQLRecorder()
        # Set by the server that runs this app: fresh state at the same address (POST /_admin/reset).
        self.reset: Callable[[], None] | None = None


def _error(exc: EmulatorError) -> JSONResponse:
    return JSONResponse({"errors": [{"message": exc.message}], "data": None}, status_code=exc.http_status)


def _api_key(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip() or None
    if scheme.lower() != "basic":
        return None
    try:
        _, _, password = base64.b64decode(value).decode().partition(":")
    except (binascii.Error, UnicodeError):
        return None
    return password or None


def _authenticate(state: ServerState, request: Request) -> User:
    host = request.headers.get("host", "")
    if state.loopback_only and not _addressed_by_ip_or_localhost(host):
        # A server on loopback is reached by IP or localhost; any other name is a DNS-rebound page
        # in a browser, which could otherwise send the well-known default key from there.
        raise PermissionDenied(f"this server listens on loopback only; address it by IP or localhost, not {host!r}")
    key = _api_key(request)
    if key is None:
        raise Unauthenticated("user is not logged in: send the API key as HTTP Basic auth, user 'api'")
    if state.identity is not None and request.headers.get("authorization", "")[:7].lower() == "bearer ":
        username, expired = state.identity.user_for(key)
        if expired:
            raise Unauthenticated("the access token has expired: exchange the identity token again")
        found = state.store.accounts.user_by_name(username) if username else None
        if found is not None:
            return found
    user = state.store.accounts.user_by_key(key)
    if user is None:
        raise Unauthenticated("invalid API key: the server did not recognize an account for this key")
    return user


def _state(request: Request) -> ServerState:
    state: ServerState = request.app.state.wandb
    return state


# --- identity federation -------------------------------------------------------------------


async def oidc_token(request: Request) -> Response:
    """W&B's token endpoint of identity federation (``identity.py``): a JWT for an access token."""
    state = _state(request)
    if state.identity is None:
        return JSONResponse({"error": "unsupported_grant_type",
                             "error_description": "identity federation is off on this server"}, status_code=400)
    body = await request.body()
    try:
        answer = state.identity.exchange(body)
    except GrantRefused as refused:
        return JSONResponse({"error": refused.code, "error_description": refused.description}, status_code=400)
    return JSONResponse(answer, headers={"Cache-Control": "no-store"})


# --- GraphQL ---------------------------------------------------------------------------------


async def graphql(request: Request) -> Response:
    state = _state(request)
    body = await request.body()
    urls = UrlBuilder(str(request.base_url), state.signer)

    def execute() -> Outcome:
        # Runs in a worker thread: the store's lock is never taken on the event loop, so file
        # transfers keep flowing while a GraphQL request holds the database.
        user = _authenticate(state, request)
        state.pending.maybe_expire()  # in its own transaction: a failed request must not undo it
        try:
            payload = json.loads(body)
        except ValueError:
            raise InvalidInput("the request body is not JSON") from None
        if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
            raise InvalidInput("a GraphQL request is a JSON object with a string 'query'")
        variables = payload.get("variables")
        if variables is not None and not isinstance(variables, dict):
            raise InvalidInput("'variables' must be a JSON object")
        op_name = payload.get("operationName")
        if op_name is not None and not isinstance(op_name, str):
            raise InvalidInput("'operationName' must be a string")
        state.recorder.record(payload["query"], variables, op_name, request.headers.get("user-agent", ""))
        context = Context(store=state.store, user=user, urls=urls)
        db = state.store.db
        hold = request.scope.get(HOLD_KEY)
        if not _is_mutation(state, payload["query"], op_name):
            # A query takes the store's lock statement by statement, not for its whole run: a large
            # query must not keep a tiny one waiting (no head-of-line blocking).
            if hold is not None:
                state.faults.hold_blocking(hold.seconds)
            return state.graphql.run(payload["query"], variables, op_name, context)
        with db.transaction():
            if hold is not None:
                state.faults.hold_blocking(hold.seconds)
            outcome = state.graphql.run(payload["query"], variables, op_name, context)
            if outcome.failed:
                db.rollback_current()  # a failed mutation changes nothing
            return outcome

    try:
        outcome = await run_in_threadpool(execute)
    except EmulatorError as exc:
        return _error(exc)
    return JSONResponse(outcome.body, status_code=outcome.status)


def _is_mutation(state: ServerState, query: str, op_name: str | None) -> bool:
    """Whether the request runs a mutation (an invalid document counts as one: it runs as before)."""
    document = state.graphql.document(query)
    if isinstance(document, list):
        return True
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [d for d in operations if not op_name or (d.name is not None and d.name.value == op_name)]
    return not chosen or any(d.operation != OperationType.QUERY for d in chosen[:1])


# --- storage (signed URLs) -------------------------------------------------------------------


def _check_signature(state: ServerState, request: Request) -> None:
    scope = request.scope
    raw = scope.get("raw_path")
    raw_path = raw.decode("latin-1").split("?")[0] if raw is not None else request.url.path
    # The query parsed as Starlette's ``request.query_params`` does (the last value of a name wins),
    # without building the request's URL object: this runs for every file transfer.
    query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
    reason = state.signer.check(raw_path, query.get("exp"), query.get("sig"))
    if reason:
        raise PermissionDenied(f"access denied to {request.url.path}: {reason}")


async def download_blob(request: Request) -> Response:
    state = _state(request)
    try:
        _check_signature(state, request)
    except EmulatorError as exc:
        return _error(exc)
    return _blob_response(state, request, request.path_params["md5"], request.path_params["name"])


def _blob_response(state: ServerState, request: Request, md5_hex: str, name: str) -> Response:
    path = state.store.blobs.path(md5_hex) if _MD5_HEX.fullmatch(md5_hex) else None
    try:
        size = os.stat(path).st_size if path else -1
    except OSError:
        size = -1
    if path is None or size < 0:
        return _error(NotFound(f"no stored file has MD5 {md5_hex}"))
    media_type = _media_type(_suffixes(name))
    # An artifact file opened in a browser (say ``report.html``) must not run as a page of this
    # origin, where it could drive the admin routes: a sandboxed document has an opaque origin.
    headers = {"ETag": f'"{md5_hex}"', "Accept-Ranges": "bytes", "Content-Security-Policy": "sandbox",
               "X-Content-Type-Options": "nosniff"}
    if "range" in request.headers:
        return FileResponse(path, media_type=media_type, headers=headers)  # Starlette parses ranges
    return BlobResponse(path, size, media_type, headers)


def _suffixes(name: str) -> str:
    """The last two suffixes of a file name (``.tar.gz``): all that decides its media type."""
    base = name.rpartition("/")[2]
    last = base.rfind(".")
    if last <= 0:  # no suffix (a leading dot names a hidden file)
        return ""
    before = base.rfind(".", 0, last)
    return base[before if before > 0 else last:]


@functools.lru_cache(maxsize=256)
def _media_type(suffixes: str) -> str:
    """The Content-Type of a stored file by its name's last suffixes (looked up once per suffixes)."""
    return mimetypes.guess_type(f"file{suffixes}")[0] or "application/octet-stream"


class BlobResponse(Response):
    """Stream a stored file from disk in 1 MiB chunks, never holding it whole in memory.

    Small files are read on the event loop (one page-cache read is cheaper than the thread hops of
    Starlette's ``FileResponse``); larger ones chunk by chunk in a reader thread, stopping early
    when the client goes away.
    """

    chunk_size = 1 << 20
    inline_limit = 256 << 10

    def __init__(self, path: Path, size: int, media_type: str, headers: dict[str, str]) -> None:
        self.path = path
        self.size = size
        self.status_code = 200
        self.background = None
        self.media_type = media_type
        self.init_headers({**headers, "content-length": str(size)})

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        if scope["method"] == "HEAD" or self.size == 0:
            await send({"type": "http.response.body", "body": b""})
            return
        if self.size <= self.inline_limit:
            with open(self.path, "rb") as file:
                await send({"type": "http.response.body", "body": file.read(self.size)})
            return
        loop = asyncio.get_running_loop()
        gone = asyncio.Event()
        watcher = asyncio.ensure_future(_watch_disconnect(receive, gone))
        try:
            with open(self.path, "rb") as file:
                remaining = self.size
                while remaining > 0 and not gone.is_set():
                    chunk = await loop.run_in_executor(_FILE_READS, file.read, min(self.chunk_size, remaining))
                    if not chunk:
                        break  # the file shrank under us: end the body, the client sees a short read
                    remaining -= len(chunk)
                    await send({"type": "http.response.body", "body": chunk, "more_body": remaining > 0})
        finally:
            watcher.cancel()


async def _watch_disconnect(receive: Any, gone: asyncio.Event) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    gone.set()


async def _receive_upload(request: Request) -> BlobWriter:
    """Stream the request body into a temporary blob, checked against ``Content-MD5``.

    The caller publishes it (``commit()``) once every check passed, or ``abort()``s it: a refused
    upload leaves nothing in the store.
    """
    _state(request).faults.record_upload_headers(
        request.url.path, {k: v for k, v in request.headers.items() if k not in ("authorization", "cookie")})
    declared_size = request.headers.get("content-length", "")
    writer = _state(request).store.blobs.writer(int(declared_size) if declared_size.isdigit() else None)
    try:
        async for chunk in request.stream():
            writer.write(chunk)
        declared = request.headers.get("content-md5")
        if declared and declared != writer.md5_b64:
            raise InvalidInput(f"Content-MD5 {declared} does not match the uploaded bytes (MD5 {writer.md5_b64})")
    except BaseException:
        writer.abort()
        raise
    return writer


def _upload_artifact_id(request: Request) -> int | None:
    return ids.decode(unquote(request.path_params["artifact"]), "Artifact")


async def upload_file(request: Request) -> Response:
    state = _state(request)
    try:
        _check_signature(state, request)
        expected = request.path_params["md5"]
        with state.pending.uploading(_upload_artifact_id(request)):
            writer = await _receive_upload(request)
            try:
                if writer.md5_hex != expected:
                    raise InvalidInput(f"uploaded bytes have MD5 {writer.md5_hex}, but this URL expects {expected}")
                writer.commit()
            except BaseException:
                writer.abort()
                raise
            state.faults.count_upload_bytes(writer.size)
    except EmulatorError as exc:
        return _error(exc)
    return Response(status_code=200, headers={"ETag": f'"{expected}"'})


async def upload_part(request: Request) -> Response:
    """One part of a multipart upload (``multipart.py``); answered with its ETag, as S3 does."""
    state = _state(request)
    try:
        _check_signature(state, request)
        upload = state.store.multipart.get(unquote(request.path_params["upload"]))
        number = int(request.path_params["number"])
        with state.pending.uploading(upload.artifact_id):
            writer = await _receive_upload(request)
            etag = state.store.multipart.receive_part(upload.upload_id, number, writer)
            state.faults.count_upload_bytes(writer.size)
    except EmulatorError as exc:
        return _error(exc)
    return Response(status_code=200, headers={"ETag": etag})


async def upload_manifest(request: Request) -> Response:
    state = _state(request)
    try:
        _check_signature(state, request)
        artifact_id = _upload_artifact_id(request)
        if artifact_id is None:
            raise NotFound("unknown artifact in upload URL")
        with state.pending.uploading(artifact_id):
            writer = await _receive_upload(request)
            try:
                await run_in_threadpool(_record_manifest, state, artifact_id, writer)
            except BaseException:
                writer.abort()
                raise
    except EmulatorError as exc:
        return _error(exc)
    return Response(status_code=200, headers={"ETag": f'"{writer.md5_hex}"'})  # as S3 answers a PUT


def _record_manifest(state: ServerState, artifact_id: int, writer: BlobWriter) -> None:
    """Record the manifest on its version and publish the blob, both or neither."""
    with state.store.db.transaction():
        state.store.uploads.store_manifest_upload(artifact_id, writer.md5_hex, writer.md5_b64)
        writer.commit()


async def upload_run_file(request: Request) -> Response:
    state = _state(request)
    try:
        _check_signature(state, request)
    except EmulatorError as exc:
        return _error(exc)
    async for _ in request.stream():
        pass  # run files (logs, config) are accepted and not kept: only artifacts are emulated
    return Response(status_code=200)


# --- authenticated fallbacks -----------------------------------------------------------------


async def artifact_file_fallback(request: Request) -> Response:
    """``{base}/artifactsV2/<region>/<entity>/.../<hexhash>/<basename>`` and ``/artifacts/<entity>/<hex>``."""
    state = _state(request)
    parts = request.url.path.strip("/").split("/")
    if parts[0] == "artifactsV2" and len(parts) >= 7:
        entity_name, md5_hex, name = parts[2], parts[-2], parts[-1]
    elif parts[0] == "artifacts" and len(parts) == 3:
        entity_name, md5_hex, name = parts[1], parts[2], parts[2]
    else:
        entity_name, md5_hex, name = "", "", ""

    def check_access() -> None:
        user = _authenticate(state, request)
        if not entity_name:
            raise NotFound(f"no artifact file at {request.url.path}")
        entity = state.store.accounts.entity_by_name(unquote(entity_name))
        if entity is None or not state.store.accounts.can_read(user, entity):
            raise NotFound(f"entity {unquote(entity_name)!r} not found")
        if state.store.accounts.role(user, entity) == "viewer":
            raise PermissionDenied(
                f"permission denied: {user.username!r} is a viewer of {entity.name!r}; view-only members "
                "cannot download artifact files"
            )
        if not _MD5_HEX.fullmatch(md5_hex) or not state.store.versions.entity_has_blob(entity.id, md5_hex):
            raise NotFound(f"no artifact file with MD5 {md5_hex} in entity {entity.name!r}")

    try:
        await run_in_threadpool(check_access)
    except EmulatorError as exc:
        return _error(exc)
    return _blob_response(state, request, md5_hex, name)


async def file_stream(request: Request) -> Response:
    """The SDK's run stream: history and logs are dropped; the last ``wandb-summary.json`` line
    becomes the run's ``summaryMetrics`` (what a run's final metrics are read from)."""
    state = _state(request)
    try:
        user = await run_in_threadpool(_authenticate, state, request)
    except EmulatorError as exc:
        return _error(exc)
    body = await request.body()
    try:
        stream = json.loads(body or b"{}")
        lines = ((stream.get("files") or {}).get("wandb-summary.json") or {}).get("content") or []
        summary = json.loads(lines[-1]) if lines else None
    except (ValueError, AttributeError, TypeError):
        summary = None
    if isinstance(summary, dict):
        params = request.path_params

        def store_summary() -> None:
            with state.store.db.transaction():
                state.store.runs.upsert_run(user, {
                    "entityName": unquote(params["entity"]), "modelName": unquote(params["project"]),
                    "name": unquote(params["run"]), "summaryMetrics": json.dumps(summary)})

        try:
            await run_in_threadpool(store_summary)
        except EmulatorError as exc:
            return _error(exc)
    return JSONResponse({})


async def otel(request: Request) -> Response:
    return Response(status_code=404)  # no telemetry proxy


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


# --- admin (loopback only, JSON only, no web pages) ------------------------------------------


def _loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    return host == "localhost" or is_loopback_address(host)


def _host_name(host_header: str) -> str:
    """The name part of a ``Host`` header: ``127.0.0.1:8765`` -> ``127.0.0.1``, ``[::1]:80`` -> ``::1``."""
    if host_header.startswith("["):
        return host_header[1:].partition("]")[0]
    return host_header.rpartition(":")[0] if host_header.count(":") == 1 else host_header


def _addressed_by_ip_or_localhost(host_header: str) -> bool:
    name = _host_name(host_header).lower()
    return name == "localhost" or is_ip_address(name)


def _admin_refusal(request: Request) -> Response | None:
    """Why this admin request is refused, as a response; None when it may proceed.

    The admin routes have no credentials, so they must be unreachable from other machines and
    from web pages: a page on any site can make the browser send a "simple" cross-origin POST
    (form encodings, ``text/plain``) to loopback, and a DNS-rebound name can point at it. So the
    caller must be on loopback, address the server by IP or ``localhost``, come from no other
    origin, and POST only JSON (which a page cannot send cross-origin without a CORS preflight,
    and this server answers no preflight).
    """
    if not _loopback(request):
        return _admin_error("admin routes answer only on loopback", 403)
    host = request.headers.get("host", "")
    if not _addressed_by_ip_or_localhost(host):
        return _admin_error(
            f"admin routes answer only requests addressed to an IP address or localhost, not Host {host!r}", 403
        )
    origin = request.headers.get("origin")
    own = f"{request.url.scheme}://{host}".lower()
    if origin is not None and origin.strip().lower() != own:
        return _admin_error(f"admin routes refuse requests from web pages of another origin ({origin!r}); "
                            f"call them from a script or a page of {own}", 403)
    if request.headers.get("sec-fetch-site", "same-origin").lower() not in ("same-origin", "none"):
        return _admin_error("admin routes refuse cross-site requests from browsers", 403)
    if request.method == "POST":
        content_type = request.headers.get("content-type")
        media = (content_type or "").partition(";")[0].strip().lower()
        has_body = request.headers.get("content-length", "0").strip() not in ("", "0") or (
            "transfer-encoding" in request.headers)
        if media != "application/json" and (content_type is not None or has_body):
            shown = content_type if content_type is not None else "none"
            return _admin_error(
                f"admin routes accept only JSON bodies: send Content-Type: application/json (got {shown})", 415
            )
    return None


def _admin_error(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"errors": [{"message": message}]}, status_code=status)


async def _admin_body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw) if raw.strip() else None
    except ValueError as exc:
        raise ValueError(f"the body is not JSON ({exc})") from None


def _ttl_seconds(body: Any) -> float:
    value = body.get("ttl_seconds") if isinstance(body, dict) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError('expected {"ttl_seconds": <number of seconds, negative = already expired>}')
    return float(value)


async def admin(request: Request) -> Response:
    refusal = _admin_refusal(request)
    if refusal is not None:
        return refusal
    state = _state(request)
    action = request.path_params["action"]
    try:
        if action == "stats" and request.method == "GET":
            return JSONResponse(state.faults.stats())
        if action == "stats/reset" and request.method == "POST":
            state.faults.reset_stats()
            return JSONResponse(state.faults.stats())
        if action == "faults" and request.method == "GET":
            return JSONResponse(state.faults.describe())
        if action == "faults/release" and request.method == "POST":
            state.faults.release()
            return JSONResponse(state.faults.describe())
        if action == "faults" and request.method == "POST":
            state.faults.configure(await _admin_body(request))
            return JSONResponse(state.faults.describe())
        if action == "graphql-log" and request.method == "GET":
            return JSONResponse({"requests": state.recorder.requests()})
        if action == "signed-urls" and request.method == "POST":
            state.signer.ttl_seconds = _ttl_seconds(await _admin_body(request))
            return JSONResponse({"ttl_seconds": state.signer.ttl_seconds})
        if action == "reset" and request.method == "POST" and state.reset is not None:
            await run_in_threadpool(state.reset)
            return JSONResponse({"ok": True})
        if action == "protected-aliases" and request.method == "POST":
            body = await _admin_body(request)
            await run_in_threadpool(
                state.store.accounts.set_protected_aliases, body["entity"], body["project"], list(body["aliases"])
            )
            return JSONResponse({"ok": True})
    except (ValueError, KeyError, TypeError) as exc:
        return _admin_error(f"bad admin request {request.method} /_admin/{action}: {exc}")
    except EmulatorError as exc:
        return _error(exc)
    return _admin_error(f"no admin action {request.method} /_admin/{action}", 404)


def create_app(state: ServerState) -> Any:
    routes = [
        Route("/graphql", graphql, methods=["POST"]),
        Route("/oidc/token", oidc_token, methods=["POST"]),
        Route("/storage/blobs/{md5}/{name:path}", download_blob, methods=["GET", "HEAD"]),
        Route("/storage/uploads/{artifact}/{md5}", upload_file, methods=["PUT"]),
        Route("/storage/manifests/{artifact}", upload_manifest, methods=["PUT"]),
        Route("/storage/parts/{upload}/{number:int}", upload_part, methods=["PUT"]),
        Route("/storage/runs/{run}/{name:path}", upload_run_file, methods=["PUT"]),
        Route("/artifactsV2/{rest:path}", artifact_file_fallback, methods=["GET", "HEAD"]),
        Route("/artifacts/{rest:path}", artifact_file_fallback, methods=["GET", "HEAD"]),
        Route("/files/{entity}/{project}/{run}/file_stream", file_stream, methods=["POST"]),
        Route("/sdk/otel/v1/{rest:path}", otel, methods=["GET", "POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/_admin/{action:path}", admin, methods=["GET", "POST"]),
    ]
    app = Starlette(routes=routes, exception_handlers={RequestTooLarge: _too_large})
    app.state.wandb = state
    return BodyLimitMiddleware(FaultMiddleware(app, state.faults), state.max_body_bytes, state.max_upload_bytes)


async def _too_large(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestTooLarge)
    return _error(exc)
