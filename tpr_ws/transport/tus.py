"""Resumable uploads: tus 1.0.0 core with its creation, checksum, expiration and termination
extensions, beside the one-request upload (which stays for scripts).

Any worker serves any request: the bytes received so far live in Redis (bounded per upload and
per session, with a TTL that slides with each chunk), so a dropped connection, a reload or a
sleeping laptop continues with `HEAD` (how much arrived) and `PATCH` from there. The `PATCH`
that completes the upload decodes it (``encoding`` gzip is allowed), checks the whole file's
SHA-256 (``sha256`` metadata) and runs the same conversation turn as the one-request upload.
Completion is idempotent: one worker claims it, and a resent completion answers with the
recorded outcome.

    OPTIONS /api/sessions/{sid}/files          what this server speaks
    POST    /api/sessions/{sid}/files          create (Upload-Length, Upload-Metadata)
    HEAD    /api/sessions/{sid}/files/{uid}    Upload-Offset, Upload-Length, Tpr-Upload-State
    PATCH   /api/sessions/{sid}/files/{uid}    a chunk at Upload-Offset (Upload-Checksum)
    DELETE  /api/sessions/{sid}/files/{uid}    give it up
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import re
import time
import uuid
from email.utils import formatdate
from pathlib import Path

import orjson
from aiohttp import web

from tpr_ws.domain.encoding import ENCODINGS, check_sha256, decode_upload
from tpr_ws.errors import (
    ChecksumMismatch,
    Conflict,
    ErrorCode,
    NotFound,
    PreconditionFailed,
    ProtocolError,
    RateLimited,
    TooLarge,
    Unsupported,
    UploadRejected,
)
from tpr_ws.registry.storage import UploadInfo
from tpr_ws.transport import auth
from tpr_ws.transport.keys import BACKEND, CLIENTS, METRICS, SETTINGS, WORKER_ID
from tpr_ws.transport.origin import check_origin
from tpr_ws.transport.spool import spool_bytes

TUS_VERSION = "1.0.0"
EXTENSIONS = "creation,checksum,expiration,termination"
CHECKSUMS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256}
CLAIM_TTL_MS = 15_000  # a finishing worker renews its claim every third of this
OUTCOME_KEEP_MS = 24 * 3600 * 1000  # a resent completion gets the same answer this long
_UPLOAD_ID = re.compile(r"^[A-Za-z0-9_-]{8,128}$")
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
_READ = 64 * 1024


def _headers(**extra: str) -> dict[str, str]:
    return {"Tus-Resumable": TUS_VERSION, "Cache-Control": "no-store", **extra}


def _expires(ttl_ms: int) -> str:
    return formatdate(time.time() + max(ttl_ms, 0) / 1000, usegmt=True)


def _now_ms() -> int:
    return int(time.time() * 1000)


async def _session(request: web.Request, *, state_changing: bool = True) -> str:
    """The request's session id, once its token and its existence are checked."""
    if state_changing:
        check_origin(request)
    if request.headers.get("Tus-Resumable") != TUS_VERSION:
        raise PreconditionFailed(f"Send Tus-Resumable: {TUS_VERSION}.", code=ErrorCode.TUS_VERSION)
    sid = auth.owned_session(request, request.app[SETTINGS].secret)
    await auth.existing_session(request.app[BACKEND].require().storage, sid)
    return sid


def _upload_id(request: web.Request) -> str:
    uid = request.match_info["uid"]
    if not _UPLOAD_ID.match(uid):
        raise NotFound("No such upload.", code=ErrorCode.UNKNOWN_UPLOAD)
    return uid


def parse_metadata(header: str) -> dict[str, str]:
    """Upload-Metadata: comma-separated ``key base64value`` pairs (tus creation)."""
    meta: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in header.split(","))):
        key, _, value = pair.partition(" ")
        try:
            meta[key] = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise ProtocolError(f"Upload-Metadata {key!r} is not base64 text.") from None
    return meta


def _stored_metadata(raw: dict[str, str]) -> dict[str, str]:
    """What is kept of the client's metadata: the file name, its encoding and SHA-256."""
    encoding = raw.get("encoding", "identity") or "identity"
    if encoding not in ENCODINGS:
        raise Unsupported(f"encoding {encoding!r} is not supported (identity or gzip).")
    sha256 = raw.get("sha256", "")
    if sha256 and not _SHA256.match(sha256):
        raise ProtocolError("sha256 metadata must be 64 hexadecimal characters.")
    name = Path(raw.get("filename") or "upload").name[:200] or "upload"
    return {"filename": name, "encoding": encoding, "sha256": sha256.lower()}


def _int_header(request: web.Request, name: str) -> int:
    raw = request.headers.get(name, "")
    if not raw.isdigit():
        raise ProtocolError(f"{name} must be a non-negative integer.", code=ErrorCode.BAD_UPLOAD)
    return int(raw)


async def options(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    return web.Response(
        status=204,
        headers={
            "Tus-Resumable": TUS_VERSION,
            "Tus-Version": TUS_VERSION,
            "Tus-Extension": EXTENSIONS,
            "Tus-Max-Size": str(settings.max_upload_bytes),
            "Tus-Checksum-Algorithm": ",".join(CHECKSUMS),
        },
    )


async def create(request: web.Request) -> web.Response:
    sid = await _session(request)
    settings = request.app[SETTINGS]
    length = _int_header(request, "Upload-Length")
    if length < 1:
        raise ProtocolError("Upload-Length must be at least 1.", code=ErrorCode.BAD_UPLOAD)
    if length > settings.max_upload_bytes:
        raise TooLarge(
            f"The file is larger than the {settings.max_upload_bytes // 1_048_576} MB limit."
        )
    meta = _stored_metadata(parse_metadata(request.headers.get("Upload-Metadata", "")))
    key = request.headers.get("Idempotency-Key", "")
    uid = key if _UPLOAD_ID.match(key) else uuid.uuid4().hex
    ttl_ms = settings.upload_ttl_s * 1000
    services, client = request.app[BACKEND].require(), request.app[CLIENTS].of(request)
    await services.windows.upload_allowed(client)  # the client address's upload quota
    kind, value = await services.storage.create_upload(
        sid, uid, length, meta, now_ms=_now_ms(), ttl_ms=ttl_ms,
        max_pending=settings.upload_max_pending,
        max_pending_bytes=settings.upload_max_pending_bytes,
    )  # fmt: skip
    if kind == "exists" and value != length:
        raise Conflict("An upload with this key exists with another length.")
    if kind == "too_many":
        raise RateLimited(f"This session already has {value} unfinished uploads.")
    if kind == "quota":
        raise TooLarge("This session's unfinished uploads hold too much; finish or cancel one.")
    if kind == "created":
        await services.windows.count_upload(client, length)
    location = f"/api/sessions/{sid}/files/{uid}"
    return web.Response(
        status=201, headers=_headers(Location=location, **{"Upload-Expires": _expires(ttl_ms)})
    )


def _gone() -> NotFound:
    return NotFound("No such upload (it expired or was never made).", code=ErrorCode.UNKNOWN_UPLOAD)


def _state(info: UploadInfo) -> str:
    if info.state == "receiving" and info.finishing:
        return "finishing"
    return info.state


async def head(request: web.Request) -> web.Response:
    sid = await _session(request, state_changing=False)
    uid = _upload_id(request)
    info = await request.app[BACKEND].require().storage.upload_info(sid, uid)
    if info is None or info.state == "deleted":
        raise _gone()
    offset = info.offset if info.state == "receiving" else info.length
    return web.Response(
        status=200,
        headers=_headers(
            **{
                "Upload-Offset": str(offset),
                "Upload-Length": str(info.length),
                "Upload-Expires": _expires(info.ttl_ms),
                "Tpr-Upload-State": _state(info),
            }
        ),
    )


async def _read_chunk(request: web.Request, limit: int) -> bytes:
    if request.content_type != "application/offset+octet-stream":
        raise Unsupported("Send chunks as application/offset+octet-stream.")
    if request.content_length is not None and request.content_length > limit:
        raise TooLarge(f"A chunk may be at most {limit} bytes.")
    parts, size = [], 0
    async for piece in request.content.iter_chunked(_READ):
        size += len(piece)
        if size > limit:
            raise TooLarge(f"A chunk may be at most {limit} bytes.")
        parts.append(piece)
    return b"".join(parts)


def _check_checksum(request: web.Request, chunk: bytes) -> None:
    header = request.headers.get("Upload-Checksum")
    if not header:
        return
    algorithm, _, encoded = header.strip().partition(" ")
    digest = CHECKSUMS.get(algorithm.lower())
    if digest is None:
        raise ProtocolError(f"Checksum algorithm {algorithm!r} is not supported.")
    try:
        expected = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise ProtocolError("Upload-Checksum must be '<algorithm> <base64 digest>'.") from None
    if digest(chunk).digest() != expected:
        raise ChecksumMismatch("The chunk's checksum does not match its bytes; send it again.")


async def patch(request: web.Request) -> web.Response:
    sid = await _session(request)
    uid = _upload_id(request)
    settings = request.app[SETTINGS]
    offset = _int_header(request, "Upload-Offset")
    chunk = await _read_chunk(request, settings.upload_chunk_max_bytes)
    _check_checksum(request, chunk)
    storage = request.app[BACKEND].require().storage
    ttl_ms = settings.upload_ttl_s * 1000
    outcome = await storage.append_chunk(sid, uid, offset, chunk, now_ms=_now_ms(), ttl_ms=ttl_ms)
    if outcome.kind == "gone":
        raise _gone()
    if outcome.kind == "conflict":
        raise Conflict(f"The upload is at offset {outcome.offset}, not {offset}.")
    if outcome.kind == "too_long":
        raise ProtocolError("The chunk goes past the upload's length.", code=ErrorCode.BAD_UPLOAD)
    state = "receiving"
    if outcome.kind == "closed" or outcome.offset == outcome.length:
        state = await _finish(request, sid, uid)
    info_offset = outcome.length if state != "receiving" else outcome.offset
    return web.Response(
        status=204,
        headers=_headers(
            **{
                "Upload-Offset": str(info_offset),
                "Upload-Expires": _expires(ttl_ms),
                "Tpr-Upload-State": state,
            }
        ),
    )


async def _finish(request: web.Request, sid: str, uid: str) -> str:
    """Decode, check and hand a complete upload to the conversation, once. Returns its state:
    ``done``, or ``finishing`` while another worker does it; raises the refusal if it failed."""
    storage = request.app[BACKEND].require().storage
    info = await storage.upload_info(sid, uid)
    if info is None or info.state == "deleted":
        raise _gone()
    if info.state == "failed":
        raise _refusal(info)
    if info.state == "done":
        return "done"
    token = f"{request.app[WORKER_ID]}:{uuid.uuid4().hex}"
    if not await storage.claim_upload(sid, uid, token, CLAIM_TTL_MS):
        return "finishing"
    renewer = asyncio.create_task(_renew_claim(request, sid, uid, token), name="upload-claim")
    try:
        await _hand_over(request, sid, uid, info)
    except UploadRejected as exc:
        outcome = {"code": exc.code, "problems": exc.problems}
        await storage.close_upload(sid, uid, "failed", outcome, OUTCOME_KEEP_MS)
        request.app[METRICS].uploads.labels("rejected").inc()
        raise
    except BaseException:
        await storage.renew_upload_claim(sid, uid, token, 0)
        raise
    finally:
        renewer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await renewer
    await storage.close_upload(sid, uid, "done", {}, OUTCOME_KEEP_MS)
    return "done"


def _refusal(info: UploadInfo) -> UploadRejected:
    """The refusal recorded for a failed upload, to answer a resent completion the same way."""
    try:
        outcome = orjson.loads(info.meta.get("outcome", "{}"))
        problems = [str(p) for p in outcome.get("problems", [])]
        code = ErrorCode(outcome.get("code") or ErrorCode.UPLOAD_REJECTED)
    except (orjson.JSONDecodeError, AttributeError, ValueError):
        problems, code = [], ErrorCode.UPLOAD_REJECTED
    return UploadRejected(problems or ["The file could not be used."], code=code)


async def _hand_over(request: web.Request, sid: str, uid: str, info: UploadInfo) -> None:
    settings = request.app[SETTINGS]
    storage = request.app[BACKEND].require().storage
    conversation = request.app[BACKEND].require().conversation
    name = info.meta.get("filename", "upload")
    sent = await storage.upload_bytes(sid, uid)
    if sent is None or len(sent) != info.length:
        raise NotFound(
            "The upload's bytes are no longer stored; send it again.", code=ErrorCode.UNKNOWN_UPLOAD
        )

    def decode() -> bytes:
        data = decode_upload(
            sent, info.meta.get("encoding", "identity"),
            max_bytes=settings.max_upload_bytes, file_name=name,
        )  # fmt: skip
        check_sha256(data, info.meta.get("sha256", ""), file_name=name)
        return data

    try:
        data = await asyncio.to_thread(decode)
    except UploadRejected as exc:
        await conversation.reject_upload(sid, uid, name, len(sent), exc.problems)
        raise
    spooled = await spool_bytes(settings.upload_dir, data, name)
    try:
        result = await conversation.upload(sid, uid, spooled)
    finally:
        await asyncio.to_thread(spooled.remove)
    request.app[METRICS].uploads.labels("duplicate" if result.duplicate else "done").inc()


async def _renew_claim(request: web.Request, sid: str, uid: str, token: str) -> None:
    storage = request.app[BACKEND].require().storage
    while True:
        await asyncio.sleep(CLAIM_TTL_MS / 3000)
        if not await storage.renew_upload_claim(sid, uid, token, CLAIM_TTL_MS):
            return


async def delete(request: web.Request) -> web.Response:
    sid = await _session(request)
    uid = _upload_id(request)
    storage = request.app[BACKEND].require().storage
    info = await storage.upload_info(sid, uid)
    if info is None or info.state == "deleted":
        raise NotFound("No such upload.", code=ErrorCode.UNKNOWN_UPLOAD)
    if info.state == "receiving" and not info.finishing:
        await storage.close_upload(sid, uid, "deleted", {}, OUTCOME_KEEP_MS)
    return web.Response(status=204, headers=_headers())


def add_tus_routes(app: web.Application) -> None:
    """The resumable-upload endpoints (see the module docstring)."""
    base = "/api/sessions/{sid}/files"
    app.router.add_route("OPTIONS", base, options)
    app.router.add_post(base, create)
    app.router.add_route("HEAD", base + "/{uid}", head)
    app.router.add_patch(base + "/{uid}", patch)
    app.router.add_delete(base + "/{uid}", delete)
