"""Smoke test of an installed `tpr-ws serve`: health, the UI, and one chat turn over WebSocket.

    python .ci/smoke.py http://127.0.0.1:8080

Speaks the wire protocol (docs/PROTOCOL.md) with aiohttp, a dependency of the package, so it
runs in the venv the wheel was installed into. Exits non-zero (with the reason) on any failure;
everything it waits for is bounded in time.
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from typing import Any

import aiohttp

READY_S = 120.0
TURN_S = 120.0


async def wait_healthy(http: aiohttp.ClientSession, base: str) -> None:
    deadline = time.monotonic() + READY_S
    while True:
        try:
            async with http.get(base + "/readyz") as r:
                if r.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"smoke: {base} not ready after {READY_S:.0f} s")
        await asyncio.sleep(0.5)


async def expect_status(http: aiohttp.ClientSession, url: str, status: int) -> str:
    async with http.get(url) as r:
        body = await r.text()
        if r.status != status:
            raise SystemExit(f"smoke: GET {url} answered {r.status}, expected {status}")
        return body


async def chat_turn(http: aiohttp.ClientSession, base: str) -> dict[str, Any]:
    """New session, hello, say "sample": the ack, then the state question."""
    async with http.post(base + "/api/sessions") as r:
        if r.status != 201:
            raise SystemExit(f"smoke: POST /api/sessions answered {r.status}: {await r.text()}")
        session = await r.json()
    async with http.ws_connect(base.replace("http://", "ws://") + "/ws") as ws:
        hello = {"type": "hello", "session_id": session["session_id"],
                 "token": session["token"], "last_seq": 0}  # fmt: skip
        await ws.send_json(hello)
        mid = uuid.uuid4().hex
        await ws.send_json({"type": "say", "id": mid, "text": "sample"})
        acked = False
        while True:
            frame = await ws.receive_json(timeout=TURN_S)
            if frame["type"] == "error":
                raise SystemExit(f"smoke: the server refused the turn: {frame}")
            acked = acked or (frame["type"] == "ack" and frame["id"] == mid)
            if acked and frame["type"] == "event" and frame.get("stage") == "select_state":
                return dict(frame)


async def main(base: str) -> None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TURN_S)) as http:
        await wait_healthy(http, base)
        await expect_status(http, base + "/healthz", 200)
        page = await expect_status(http, base + "/", 200)
        if "<html" not in page.lower():
            raise SystemExit("smoke: / is not the chat page")
        await expect_status(http, base + "/static/app.js", 200)
        event = await chat_turn(http, base)
        print(f"smoke: ok: healthz, UI, one chat turn ({event['text'].splitlines()[0][:80]})")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1].rstrip("/")))
