"""Sockets: a deadline for the hello, and a cap per client address (the peer, or behind a
trusted proxy the forwarded address)."""

from __future__ import annotations

import asyncio

import aiohttp
import orjson
import pytest

from tests.harness import ChatClient
from tests.transport.rawhttp import gauge, wait_for

pytestmark = pytest.mark.slow


async def _closed(ws: aiohttp.ClientWebSocketResponse) -> list[dict]:
    """Every frame until the server closes the socket (which it must do within 30 s)."""
    frames = []
    async with asyncio.timeout(30):
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                frames.append(orjson.loads(msg.data))
    return frames


async def test_a_socket_without_a_valid_hello_is_closed_at_the_deadline(
    worker_factory, http
) -> None:
    (w,) = worker_factory(1, TPR_WS_HELLO_TIMEOUT_S="1")
    greeted = ChatClient(http)
    await greeted.create_session(w.url)
    await greeted.connect(w.url)  # opened first: its deadline passes first
    silent = await http.ws_connect(w.ws_url)
    chatty = await http.ws_connect(w.ws_url)
    await chatty.send_str('{"type": "ping"}')  # frames, but no hello
    for ws in (silent, chatty):
        frames = await _closed(ws)
        assert [f["code"] for f in frames if f["type"] == "error"] == ["hello_timeout"]
        assert ws.close_code == 4408
    # the greeted socket outlived its deadline and still works
    assert (await greeted.say("help"))["type"] == "ack"


async def test_sockets_per_client_address_are_capped(worker_factory, http) -> None:
    (w,) = worker_factory(1, TPR_WS_MAX_SOCKETS_PER_CLIENT="3")
    held = [await http.ws_connect(w.ws_url) for _ in range(3)]
    extra = await http.ws_connect(w.ws_url)
    frames = await _closed(extra)
    assert [f["code"] for f in frames] == ["too_many_sockets"]
    assert extra.close_code == 4429
    await held.pop().close()
    await wait_for(lambda: gauge(w.url, "tpr_ws_sockets") == 2, what="a socket released")
    c = ChatClient(http)  # a freed place is usable again
    await c.create_session(w.url)
    await c.connect(w.url)
    for ws in held:
        await ws.close()


async def test_behind_a_trusted_proxy_the_forwarded_address_is_the_client(
    worker_factory, http
) -> None:
    (w,) = worker_factory(
        1, TPR_WS_MAX_SOCKETS_PER_CLIENT="2", TPR_WS_TRUSTED_PROXIES="127.0.0.1/32"
    )

    async def connect(address: str) -> aiohttp.ClientWebSocketResponse:
        return await http.ws_connect(w.ws_url, headers={"X-Forwarded-For": address})

    held = [await connect("198.51.100.1") for _ in range(2)]
    refused = await connect("203.0.113.5, 198.51.100.1")  # the client's own claim is ignored
    assert [f["code"] for f in await _closed(refused)] == ["too_many_sockets"]
    other = await connect("198.51.100.2")
    await other.send_str('{"type": "ping"}')
    assert orjson.loads((await other.receive()).data) == {"type": "pong"}
    for ws in [*held, other]:
        await ws.close()


async def test_forwarded_for_from_an_untrusted_peer_changes_nothing(worker_factory, http) -> None:
    (w,) = worker_factory(1, TPR_WS_MAX_SOCKETS_PER_CLIENT="2")
    held = [
        await http.ws_connect(w.ws_url, headers={"X-Forwarded-For": f"198.51.100.{i}"})
        for i in range(2)
    ]
    spoofed = await http.ws_connect(w.ws_url, headers={"X-Forwarded-For": "198.51.100.9"})
    assert [f["code"] for f in await _closed(spoofed)] == ["too_many_sockets"]
    for ws in held:
        await ws.close()
