"""Session ids and owner tokens: a token is an HMAC of the session id under the shared secret,
so every worker can check it without a lookup, and nothing secret is stored in Redis."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

from aiohttp import web

from tpr_ws.errors import ErrorCode, NotFound, Unauthorized

_SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{22,64}$")


def new_session_id() -> str:
    """A random id of 128 bits, URL-safe."""
    return secrets.token_urlsafe(16)


def token_for(secret: bytes, sid: str) -> str:
    mac = hmac.new(secret, b"session:" + sid.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def check_session_id(sid: str) -> str:
    if not _SESSION_ID.match(sid):
        raise NotFound("No such session.", code=ErrorCode.UNKNOWN_SESSION)
    return sid


def verify(secret: bytes, sid: str, token: str | None) -> None:
    """Raise Unauthorized unless `token` owns session `sid` (constant-time compare)."""
    if not token or not hmac.compare_digest(token_for(secret, sid), token):
        raise Unauthorized("This session's token is missing or wrong.")


def request_token(request: web.Request) -> str | None:
    """The Bearer token of a request, or its `?token=` (for download links)."""
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header[len("Bearer ") :].strip()
    return request.query.get("token")
