"""Origin allowlist for WebSocket upgrades (and state-changing HTTP calls)."""

from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import web

from tpr_ws.errors import ForbiddenOrigin
from tpr_ws.transport.keys import SETTINGS


def check_origin(request: web.Request) -> None:
    """Allow requests without an Origin (non-browser clients), same-origin requests, and the
    configured allowlist; refuse every other Origin with ForbiddenOrigin (HTTP 403)."""
    origin = request.headers.get("Origin")
    if origin is None:
        return
    allowed = request.app[SETTINGS].allowed_origins
    if allowed:
        if origin.rstrip("/") in allowed or "*" in allowed:
            return
        raise ForbiddenOrigin(f"Origin {origin} is not allowed to connect.")
    parts = urlsplit(origin)
    if parts.netloc and parts.netloc == request.host:
        return
    raise ForbiddenOrigin(f"Origin {origin} is not allowed to connect.")
