"""Origin check for WebSocket upgrades (and state-changing HTTP calls)."""

from __future__ import annotations

from aiohttp import web

from tpr_ws.config import normalize_origin
from tpr_ws.errors import ForbiddenOrigin
from tpr_ws.transport.keys import SETTINGS


def check_origin(request: web.Request) -> None:
    """Allow requests without an Origin (non-browser clients) and those from an accepted origin
    (`Settings.accepted_origins`: the public origins, scheme included, and the allowlist);
    refuse every other Origin with ForbiddenOrigin (HTTP 403).

    The Host header is never trusted for this: a DNS-rebinding page sends a Host and an
    Origin that agree, both the attacker's name.
    """
    origin = request.headers.get("Origin")
    if origin is None:
        return
    settings = request.app[SETTINGS]
    if "*" in settings.allowed_origins:
        return
    if normalize_origin(origin) in settings.accepted_origins:
        return
    raise ForbiddenOrigin(f"Origin {origin} is not allowed to connect.")
