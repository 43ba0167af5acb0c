"""HTTP endpoints: sessions, uploads, downloads, health, metrics, and the UI."""

from __future__ import annotations

import logging
import re
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web
from redis.exceptions import RedisError

from tpr_ws.errors import ClientError, ErrorCode, ProtocolError, ServerError, TooLarge
from tpr_ws.transport import auth
from tpr_ws.transport.keys import CONVERSATION, METRICS, SETTINGS, STORAGE
from tpr_ws.transport.origin import check_origin

log = logging.getLogger(__name__)
access_log = logging.getLogger("tpr_ws.access")
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
_IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
_CHUNK = 256 * 1024


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
        body: dict[str, Any] = {"code": exc.code, "message": exc.message}
        problems = getattr(exc, "problems", None)
        if problems:
            body["problems"] = problems
        return _json({"error": body}, status=exc.http_status)
    except web.HTTPException:
        raise
    except (ServerError, RedisError, OSError) as exc:
        log.warning("request failed: %s", exc)
        code = _server_code(exc)
        request.app[METRICS].errors.labels(code).inc()
        message = "The server could not finish that; try again."
        return _json({"error": {"code": code, "message": message}}, 503)
    except Exception:
        log.exception("unexpected error in %s %s", request.method, request.path)
        request.app[METRICS].errors.labels(ErrorCode.SERVER_ERROR).inc()
        body = {"code": ErrorCode.SERVER_ERROR, "message": "Something went wrong."}
        return _json({"error": body}, 500)


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
    sid = auth.new_session_id()
    await request.app[CONVERSATION].start(sid)
    token = auth.token_for(request.app[SETTINGS].secret, sid)
    return _json({"session_id": sid, "token": token}, status=201)


async def _read_upload(request: web.Request, limit: int) -> tuple[str, bytes]:
    """Stream the multipart field `file` into memory, refusing it as soon as it passes `limit`."""
    if request.content_length is not None and request.content_length > limit + 64 * 1024:
        raise TooLarge(f"The file is larger than the {limit // 1_048_576} MB limit.")
    try:
        reader = await request.multipart()
    except (AssertionError, ValueError, KeyError):
        raise ProtocolError(
            "Send the file as multipart/form-data in a field named 'file'.",
            code=ErrorCode.BAD_UPLOAD,
        ) from None
    async for part in reader:
        if getattr(part, "name", None) != "file":
            continue
        file_name = Path(getattr(part, "filename", None) or "upload").name[:200]
        chunks, size = [], 0
        while chunk := await part.read_chunk(_CHUNK):  # type: ignore[union-attr]
            size += len(chunk)
            if size > limit:
                raise TooLarge(f"The file is larger than the {limit // 1_048_576} MB limit.")
            chunks.append(chunk)
        return file_name, b"".join(chunks)
    raise ProtocolError(
        "Send the file in a multipart field named 'file'.", code=ErrorCode.BAD_UPLOAD
    )


async def upload(request: web.Request) -> web.Response:
    check_origin(request)
    sid = auth.owned_session(request, request.app[SETTINGS].secret)
    await auth.existing_session(request.app[STORAGE], sid)
    key = request.headers.get("Idempotency-Key") or uuid.uuid4().hex
    if not _IDEMPOTENCY_KEY.match(key):
        raise ProtocolError(
            "Idempotency-Key must be 1-128 URL-safe characters.", code=ErrorCode.BAD_KEY
        )
    upload_id = key
    file_name, data = await _read_upload(request, request.app[SETTINGS].max_upload_bytes)
    result = await request.app[CONVERSATION].upload(sid, upload_id, data, file_name)
    request.app[METRICS].uploads.labels("duplicate" if result.duplicate else "done").inc()
    return _json({"upload_id": upload_id, "seq": result.first_seq}, status=202)


async def healthz(request: web.Request) -> web.Response:
    return _json({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    try:
        await request.app[STORAGE].ping()
    except (RedisError, OSError) as exc:
        return _json({"status": "unavailable", "reason": type(exc).__name__}, status=503)
    return _json({"status": "ready"})


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
