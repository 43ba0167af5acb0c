"""HTTP endpoints: sessions, uploads, downloads, health, metrics, and the UI."""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web
from redis.exceptions import RedisError

from tpr_ws.errors import (
    ClientError,
    ErrorCode,
    ProtocolError,
    RateLimited,
    ServerError,
    TimedOut,
    TooLarge,
)
from tpr_ws.transport import auth
from tpr_ws.transport.keys import (
    BACKEND,
    CLIENTS,
    GENERATION,
    METRICS,
    SETTINGS,
    SLOTS,
    WORKER_ID,
)
from tpr_ws.transport.origin import check_origin
from tpr_ws.transport.spool import spool_upload

log = logging.getLogger(__name__)
access_log = logging.getLogger("tpr_ws.access")
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
_IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")


def _json(payload: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(payload), status=status, content_type="application/json")


@web.middleware
async def error_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """The HTTP error boundary: the error hierarchy becomes status codes and JSON bodies."""
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except ClientError as exc:
        request.app[METRICS].errors.labels(exc.code).inc()
        return _client_error(exc)
    except web.HTTPException:
        raise
    except (ServerError, RedisError, OSError) as exc:
        log.warning("request failed: %s", exc)
        code = _server_code(exc)
        request.app[METRICS].errors.labels(code).inc()
        message = "The server could not finish that; try again."
        response = _json({"error": {"code": code, "message": message}}, 503)
        response.headers["Retry-After"] = "2"
        return response
    except Exception:
        log.exception("unexpected error in %s %s", request.method, request.path)
        request.app[METRICS].errors.labels(ErrorCode.SERVER_ERROR).inc()
        body = {"code": ErrorCode.SERVER_ERROR, "message": "Something went wrong."}
        return _json({"error": body}, 500)


def _client_error(exc: ClientError) -> web.Response:
    body: dict[str, Any] = {"code": exc.code, "message": exc.message}
    problems = getattr(exc, "problems", None)
    if problems:
        body["problems"] = problems
    response = _json({"error": body}, status=exc.http_status)
    if isinstance(exc, RateLimited) and exc.retry_after_s is not None:
        response.headers["Retry-After"] = str(max(1, int(exc.retry_after_s)))
    if isinstance(exc, TimedOut | TooLarge):
        response.force_close()  # the rest of the body is not wanted
    return response


def _server_code(exc: Exception) -> ErrorCode:
    if isinstance(exc, ServerError):
        return exc.code
    return ErrorCode.STORAGE_UNAVAILABLE if isinstance(exc, RedisError) else ErrorCode.SERVER_ERROR


@web.middleware
async def access_log_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """One line per request, by path only: the signatures of download links (and any token
    wrongly put in a URL) must not reach the logs."""
    started = time.perf_counter()
    status = 500
    try:
        response: web.StreamResponse = await handler(request)
        status = response.status
        if request.path.startswith("/static/") and not response.prepared:
            # Revalidate (ETag / Last-Modified) on every load, so a page never mixes modules
            # of two releases after a deploy.
            response.headers["Cache-Control"] = "no-cache"
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        ms = (time.perf_counter() - started) * 1000
        access_log.info("%s %s %s %.1fms", request.method, request.path, status, ms)


async def create_session(request: web.Request) -> web.Response:
    check_origin(request)
    services = request.app[BACKEND].require()
    await services.windows.new_session(request.app[CLIENTS].of(request))
    sid = auth.new_session_id()
    await services.conversation.start(sid)
    token = auth.token_for(request.app[SETTINGS].secret, sid)
    return _json({"session_id": sid, "token": token}, status=201)


async def upload(request: web.Request) -> web.Response:
    check_origin(request)
    sid = auth.owned_session(request, request.app[SETTINGS].secret)
    services = request.app[BACKEND].require()
    await auth.existing_session(services.storage, sid)
    key = request.headers.get("Idempotency-Key") or uuid.uuid4().hex
    if not _IDEMPOTENCY_KEY.match(key):
        raise ProtocolError(
            "Idempotency-Key must be 1-128 URL-safe characters.", code=ErrorCode.BAD_KEY
        )
    settings, client = request.app[SETTINGS], request.app[CLIENTS].of(request)
    metrics = request.app[METRICS]
    with request.app[SLOTS].upload(sid, client):
        await services.windows.upload_allowed(client)
        metrics.uploads_in_progress.inc()
        try:
            spooled = await spool_upload(
                request,
                settings.upload_dir,
                limit=settings.max_upload_bytes,
                stall_s=settings.upload_stall_s,
                min_progress_bytes=settings.upload_min_progress_bytes,
            )
        finally:
            metrics.uploads_in_progress.dec()
        try:
            await services.windows.count_upload(client, spooled.size)
            result = await services.conversation.upload(sid, key, spooled)
        finally:
            await asyncio.to_thread(spooled.remove)
    metrics.uploads.labels("duplicate" if result.duplicate else "done").inc()
    return _json({"upload_id": key, "seq": result.first_seq}, status=202)


def _who(app: web.Application) -> dict[str, Any]:
    """Which worker answers, and its generation (a rolling reload waits for a newer one)."""
    return {"worker": app[WORKER_ID], "generation": app.get(GENERATION, 0)}


async def healthz(request: web.Request) -> web.Response:
    return _json({"status": "ok", **_who(request.app)})


async def readyz(request: web.Request) -> web.Response:
    backend = request.app[BACKEND]
    if backend.services is None:
        return _json(
            {"status": "starting", "reason": backend.problem, **_who(request.app)}, status=503
        )
    try:
        await backend.services.storage.ping()
    except (RedisError, OSError) as exc:
        body = {"status": "unavailable", "reason": type(exc).__name__, **_who(request.app)}
        return _json(body, status=503)
    return _json({"status": "ready", **_who(request.app)})


async def metrics(request: web.Request) -> web.Response:
    m = request.app[METRICS]
    return web.Response(body=m.render(), headers={"Content-Type": m.content_type})


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})


def add_routes(app: web.Application) -> None:
    from tpr_ws.transport import results
    from tpr_ws.transport.ws import websocket_handler

    app.router.add_post("/api/sessions", create_session)
    app.router.add_post("/api/sessions/{sid}/upload", upload)
    results.add_routes(app)
    app.router.add_get("/ws", websocket_handler)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/", index)
    app.router.add_static("/static/", STATIC_DIR, append_version=False)
