"""Session ids, owner tokens and signed download links, all HMACs under the shared secret, so
every worker checks them without a lookup and nothing secret is stored in Redis.

- The session token (HMAC of the session id) lives as long as the session; it is accepted only
  in the `Authorization: Bearer` header and in the WebSocket hello, never in a URL.
- A download link carries its own signature instead: HMAC of (session, result key, format,
  expiry), valid until that expiry (`TPR_WS_DOWNLOAD_LINK_TTL_S` after it was issued), for that
  one file of that one session only. A leaked link expires soon and opens nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time

from aiohttp import web

from tpr_ws.errors import ErrorCode, NotFound, Unauthorized
from tpr_ws.registry.storage import Storage

_SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{22,64}$")


def new_session_id() -> str:
    """A random id of 128 bits, URL-safe."""
    return secrets.token_urlsafe(16)


def token_for(secret: bytes, sid: str) -> str:
    mac = hmac.new(secret, b"session:" + sid.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def check_session_id(sid: str) -> str:
    if not _SESSION_ID.match(sid):
        raise unknown_session()
    return sid


def unknown_session() -> NotFound:
    """The one answer to a session that does not exist (never created, or expired)."""
    return NotFound("No such session; start a new one.", code=ErrorCode.UNKNOWN_SESSION)


async def existing_session(storage: Storage, sid: str) -> int:
    """The session's last sequence number; `unknown_session()` if it has none (a session's
    log starts with its welcome, and expires with its state)."""
    last = await storage.last_seq(sid)
    if last == 0:
        raise unknown_session()
    return last


def owned_session(request: web.Request, secret: bytes) -> str:
    """The URL's session id, if the request's Bearer token owns it."""
    sid = check_session_id(request.match_info["sid"])
    verify(secret, sid, request_token(request))
    return sid


def verify(secret: bytes, sid: str, token: str | None) -> None:
    """Raise Unauthorized unless `token` owns session `sid` (constant-time compare)."""
    if not token or not hmac.compare_digest(token_for(secret, sid), token):
        raise Unauthorized("This session's token is missing or wrong.")


def request_token(request: web.Request) -> str | None:
    """The Bearer token of a request. A token in the URL is refused: URLs end up in logs,
    browser history and Referer headers."""
    if "token" in request.query:
        raise Unauthorized(
            "Send the session token in the Authorization header, not in the URL; download "
            "links carry their own short-lived signature.",
            code=ErrorCode.TOKEN_IN_URL,
        )
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header[len("Bearer ") :].strip()
    return None


def _link_mac(secret: bytes, sid: str, key: str, fmt: str, expires: int) -> str:
    message = f"download\x00{sid}\x00{key}\x00{fmt}\x00{expires}".encode()
    mac = hmac.new(secret, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def sign_link(secret: bytes, sid: str, key: str, fmt: str, expires: int) -> str:
    """The query string (`exp=...&sig=...`) of a download link valid until `expires`."""
    return f"exp={expires}&sig={_link_mac(secret, sid, key, fmt, expires)}"


def link_signed(request: web.Request, secret: bytes, sid: str, key: str, fmt: str) -> bool:
    """True if the request carries a valid, unexpired signature for this exact file;
    False if it carries none; Unauthorized if it carries a wrong or expired one."""
    exp, sig = request.query.get("exp"), request.query.get("sig")
    if exp is None and sig is None:
        return False
    if not exp or not sig or not exp.isdigit():
        raise Unauthorized("This download link is malformed.", code=ErrorCode.BAD_LINK)
    if not hmac.compare_digest(_link_mac(secret, sid, key, fmt, int(exp)), sig):
        raise Unauthorized("This download link is not valid.", code=ErrorCode.BAD_LINK)
    if int(exp) < time.time():
        raise Unauthorized(
            "This download link has expired; download again from the page.",
            code=ErrorCode.LINK_EXPIRED,
        )
    return True
