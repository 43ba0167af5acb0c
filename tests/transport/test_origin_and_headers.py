"""Browsers may call only from the public origin(s), scheme included (never judged by the Host
header: DNS rebinding), and every HTTP response carries the security headers."""

from __future__ import annotations

import aiohttp
import pytest

from tests.harness import ChatClient
from tests.transport.conftest import WorkerFactory

pytestmark = pytest.mark.slow


async def _ws_status(http: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> int:
    """The status of a WebSocket upgrade with these headers (101 when it is accepted)."""
    try:
        ws = await http.ws_connect(url, headers=headers)
    except aiohttp.WSServerHandshakeError as exc:
        return exc.status
    await ws.close()
    return 101


async def _post_status(http: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> int:
    async with http.post(url + "/api/sessions", headers=headers) as r:
        return r.status


async def test_a_rebinding_page_is_refused_though_origin_and_host_agree(
    worker_factory: WorkerFactory, http: aiohttp.ClientSession
) -> None:
    (w,) = worker_factory(1)
    # A page on http://rebind.example:<port> whose name now resolves to 127.0.0.1: the browser
    # sends its own name as both Origin and Host.
    rebound = {"Origin": f"http://rebind.example:{w.port}", "Host": f"rebind.example:{w.port}"}
    assert await _ws_status(http, w.ws_url, rebound) == 403
    assert await _post_status(http, w.url, rebound) == 403
    # The right host and port under another scheme is another origin.
    other_scheme = {"Origin": f"https://127.0.0.1:{w.port}"}
    assert await _ws_status(http, w.ws_url, other_scheme) == 403
    # Where the server listens (a loopback address: its loopback names too) is accepted.
    for origin in (f"http://127.0.0.1:{w.port}", f"http://localhost:{w.port}"):
        assert await _ws_status(http, w.ws_url, {"Origin": origin}) == 101
        assert await _post_status(http, w.url, {"Origin": origin}) == 201


async def test_configured_public_origins_replace_the_bound_address(
    worker_factory: WorkerFactory, http: aiohttp.ClientSession
) -> None:
    (w,) = worker_factory(1, TPR_WS_PUBLIC_ORIGINS="https://tpr.example.org")
    public = {"Origin": "https://tpr.example.org", "Host": "tpr.example.org"}
    assert await _ws_status(http, w.ws_url, public) == 101
    assert await _post_status(http, w.url, public) == 201
    assert await _ws_status(http, w.ws_url, {"Origin": "http://tpr.example.org"}) == 403
    assert await _ws_status(http, w.ws_url, {"Origin": f"http://127.0.0.1:{w.port}"}) == 403


async def test_every_response_carries_the_security_headers(
    worker_factory: WorkerFactory, http: aiohttp.ClientSession
) -> None:
    (w,) = worker_factory(1)
    c = ChatClient(http)
    await c.create_session(w.url)
    requests = [
        ("GET", "/"),
        ("GET", "/static/app.js"),
        ("GET", "/static/app.css"),
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("GET", "/metrics"),
        ("GET", "/no/such/page"),
        ("POST", "/api/sessions"),
        ("GET", f"/api/sessions/{c.sid}/results.csv?token={c.token}"),  # 404: no results yet
        ("GET", f"/api/sessions/{c.sid}/results.csv?token=wrong"),  # 401
    ]
    for method, path in requests:
        async with http.request(method, w.url + path) as r:
            policy = r.headers.get("Content-Security-Policy", "")
            assert "default-src 'self'" in policy, (path, r.status)
            assert "script-src 'self'" in policy and "unsafe-inline" not in policy
            assert f"connect-src 'self' ws://127.0.0.1:{w.port} wss://127.0.0.1:{w.port}" in policy
            assert "frame-ancestors 'none'" in policy
            assert r.headers.get("X-Content-Type-Options") == "nosniff", path
            assert r.headers.get("Referrer-Policy") == "no-referrer", path
