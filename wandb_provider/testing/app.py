"""HTTP routes of the local W&B server; the only place emulator errors become responses.

``/graphql`` (Basic ``api:<key>``), signed storage URLs (no auth, as W&B's presigned URLs),
the authenticated ``artifactsV2`` fallback, the run file stream, ``/healthz`` and the
loopback-only ``/_admin`` control plane.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import mimetypes
from typing import Any
from urllib.parse import unquote

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from . import ids
from .errors import EmulatorError, InvalidInput, NotFound, PermissionDenied, Unauthenticated
from .faults import FaultMiddleware, FaultState
from .graphql_api import GraphQLService
from .resolvers import Context
from .store import Store
from .store.records import User
from .urls import UrlBuilder, UrlSigner


class ServerState:
    """Everything the routes share: the store, GraphQL service, URL signer and fault rules."""

    def __init__(self, store: Store, signer: UrlSigner, faults: FaultState) -> None:
        self.store = store
        self.signer = signer
        self.faults = faults
        self.graphql = GraphQLService()


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
        username, _, password = base64.b64decode(value).decode().partition(":")
    except (binascii.Error, UnicodeError):
        return None
    return password or None


def _authenticate(state: ServerState, request: Request) -> User:
    key = _api_key(request)
    if key is None:
        raise Unauthenticated("user is not logged in: send the API key as HTTP Basic auth, user 'api'")
    user = state.store.user_by_key(key)
    if user is None:
        raise Unauthenticated("invalid API key: the server did not recognize an account for this key")
    return user


def _state(request: Request) -> ServerState:
    state: ServerState = request.app.state.wandb
    return state


# --- GraphQL ---------------------------------------------------------------------------------


async def graphql(request: Request) -> Response:
    state = _state(request)
    try:
        user = _authenticate(state, request)
        payload = json.loads(await request.body())
        if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
            raise InvalidInput("a GraphQL request is a JSON object with a string 'query'")
        variables = payload.get("variables")
        if variables is not None and not isinstance(variables, dict):
            raise InvalidInput("'variables' must be a JSON object")
    except EmulatorError as exc:
        return _error(exc)
    except ValueError:
        return _error(InvalidInput("the request body is not JSON"))
    context = Context(store=state.store, user=user, urls=UrlBuilder(str(request.base_url), state.signer))

    def execute() -> Any:
        db = state.store.db
        with db.transaction():
            outcome = state.graphql.run(payload["query"], variables, payload.get("operationName"), context)
            if outcome.failed:
                db.rollback_current()  # a failed mutation changes nothing
            return outcome

    outcome = await run_in_threadpool(execute)
    return JSONResponse(outcome.body, status_code=outcome.status)


# --- storage (signed URLs) -------------------------------------------------------------------


def _check_signature(state: ServerState, request: Request) -> None:
    raw_path = request.scope.get("raw_path", request.url.path.encode()).decode("latin-1").split("?")[0]
    reason = state.signer.check(raw_path, request.query_params.get("exp"), request.query_params.get("sig"))
    if reason:
        raise PermissionDenied(f"access denied to {request.url.path}: {reason}")


async def download_blob(request: Request) -> Response:
    state = _state(request)
    try:
        _check_signature(state, request)
    except EmulatorError as exc:
        return _error(exc)
    return _blob_response(state, request.path_params["md5"], request.path_params["name"])


def _blob_response(state: ServerState, md5_hex: str, name: str) -> Response:
    if len(md5_hex) != 32 or not state.store.blobs.has(md5_hex):
        return _error(NotFound(f"no stored file has MD5 {md5_hex}"))
    media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return FileResponse(state.store.blobs.path(md5_hex), media_type=media_type,
                        headers={"ETag": f'"{md5_hex}"'})


async def _receive_upload(request: Request) -> tuple[str, str, int]:
    """Stream the request body into the blob store; return (hex md5, base64 md5, size)."""
    writer = _state(request).store.blobs.writer()
    try:
        async for chunk in request.stream():
            writer.write(chunk)
    except BaseException:
        writer.abort()
        raise
    md5_b64 = writer.md5_b64
    declared = request.headers.get("content-md5")
    if declared and declared != md5_b64:
        writer.abort()
        raise InvalidInput(f"Content-MD5 {declared} does not match the uploaded bytes (MD5 {md5_b64})")
    size = writer.size
    return writer.commit(), md5_b64, size


async def upload_file(request: Request) -> Response:
    state = _state(request)
    try:
        _check_signature(state, request)
        expected = request.path_params["md5"]
        md5_hex, _, _ = await _receive_upload(request)
        if md5_hex != expected:
            raise InvalidInput(f"uploaded bytes have MD5 {md5_hex}, but this URL expects {expected}")
    except EmulatorError as exc:
        return _error(exc)
    return Response(status_code=200)


async def upload_manifest(request: Request) -> Response:
    state = _state(request)
    try:
        _check_signature(state, request)
        artifact_id = ids.decode(unquote(request.path_params["artifact"]), "Artifact")
        if artifact_id is None:
            raise NotFound("unknown artifact in upload URL")
        md5_hex, md5_b64, _ = await _receive_upload(request)
        await run_in_threadpool(_record_manifest, state, artifact_id, md5_hex, md5_b64)
    except EmulatorError as exc:
        return _error(exc)
    return Response(status_code=200)


def _record_manifest(state: ServerState, artifact_id: int, md5_hex: str, md5_b64: str) -> None:
    with state.store.db.transaction():
        state.store.store_manifest_upload(artifact_id, md5_hex, md5_b64)


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
    try:
        user = _authenticate(state, request)
        parts = request.url.path.strip("/").split("/")
        if parts[0] == "artifactsV2" and len(parts) >= 7:
            entity_name, md5_hex, name = parts[2], parts[-2], parts[-1]
        elif parts[0] == "artifacts" and len(parts) == 3:
            entity_name, md5_hex, name = parts[1], parts[2], parts[2]
        else:
            raise NotFound(f"no artifact file at {request.url.path}")
        entity = state.store.entity_by_name(unquote(entity_name))
        if entity is None or not state.store.can_read(user, entity):
            raise NotFound(f"entity {entity_name!r} not found")
        if state.store.role(user, entity) == "viewer":
            raise PermissionDenied("view-only members cannot download artifact files")
    except EmulatorError as exc:
        return _error(exc)
    return _blob_response(state, md5_hex, name)


async def file_stream(request: Request) -> Response:
    try:
        _authenticate(_state(request), request)
    except EmulatorError as exc:
        return _error(exc)
    await request.body()
    return JSONResponse({})


async def otel(request: Request) -> Response:
    return Response(status_code=404)  # no telemetry proxy (wandb-protocol.md §1.1)


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


# --- admin (loopback only) -------------------------------------------------------------------


def _loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


async def admin(request: Request) -> Response:
    if not _loopback(request):
        return JSONResponse({"errors": [{"message": "admin routes answer only on loopback"}]}, status_code=403)
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
        if action == "faults" and request.method == "POST":
            state.faults.configure(json.loads(await request.body() or b"{}"))
            return JSONResponse(state.faults.describe())
        if action == "signed-urls" and request.method == "POST":
            state.signer.ttl_seconds = float(json.loads(await request.body())["ttl_seconds"])
            return JSONResponse({"ttl_seconds": state.signer.ttl_seconds})
        if action == "protected-aliases" and request.method == "POST":
            body = json.loads(await request.body())
            await run_in_threadpool(
                state.store.set_protected_aliases, body["entity"], body["project"], list(body["aliases"])
            )
            return JSONResponse({"ok": True})
    except (ValueError, KeyError, TypeError) as exc:
        return JSONResponse({"errors": [{"message": f"bad admin request: {exc}"}]}, status_code=400)
    except EmulatorError as exc:
        return _error(exc)
    return JSONResponse({"errors": [{"message": f"no admin action {request.method} {action}"}]}, status_code=404)


def create_app(state: ServerState) -> Any:
    routes = [
        Route("/graphql", graphql, methods=["POST"]),
        Route("/storage/blobs/{md5}/{name:path}", download_blob, methods=["GET", "HEAD"]),
        Route("/storage/uploads/{artifact}/{md5}", upload_file, methods=["PUT"]),
        Route("/storage/manifests/{artifact}", upload_manifest, methods=["PUT"]),
        Route("/storage/runs/{run}/{name:path}", upload_run_file, methods=["PUT"]),
        Route("/artifactsV2/{rest:path}", artifact_file_fallback, methods=["GET", "HEAD"]),
        Route("/artifacts/{rest:path}", artifact_file_fallback, methods=["GET", "HEAD"]),
        Route("/files/{entity}/{project}/{run}/file_stream", file_stream, methods=["POST"]),
        Route("/sdk/otel/v1/{rest:path}", otel, methods=["GET", "POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/_admin/{action:path}", admin, methods=["GET", "POST"]),
    ]
    app = Starlette(routes=routes)
    app.state.wandb = state
    return FaultMiddleware(app, state.faults)
