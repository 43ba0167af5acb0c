"""Security headers on every HTTP response: the UI runs only its own files, in no frame."""

from __future__ import annotations

import re

from aiohttp import web

# The host the browser used, when it is a plain host[:port] (it is written into a header).
_HOST = re.compile(r"^[A-Za-z0-9.-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")
_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'{sockets}; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


def content_security_policy(host: str) -> str:
    """No inline script or style, nothing from another origin, never framed; WebSockets to
    the page's own host (older browsers do not count ws: as 'self')."""
    sockets = f" ws://{host} wss://{host}" if _HOST.match(host) else ""
    return _POLICY.format(sockets=sockets)


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """`on_response_prepare` hook: CSP, nosniff, no referrer, on every response."""
    headers = response.headers
    headers.setdefault("Content-Security-Policy", content_security_policy(request.host))
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
