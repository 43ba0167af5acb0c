"""A minimal chat server for baselines: the product's workflow step on state kept in Redis
with GET/SET, optionally under redis-py's `Lock`; no log, no fence, no exactly-once.

    BENCH_REDIS_URL=... BENCH_LOCK=0|1 gunicorn -k aiohttp.GunicornWebWorker \
        bench.baselines.server:create_app

It speaks the subset of the wire protocol bench/chat.py uses: POST /api/sessions, GET /readyz,
/ws with hello -> welcome, say -> one ack frame carrying the turn's events. Without the lock,
concurrent turns of one session lose updates (the point of the product); with it, a waiting
turn polls (redis-py's Lock sleeps and retries).
"""

from __future__ import annotations

import os
import secrets
from typing import Any

import orjson
from aiohttp import WSMsgType, web
from redis.asyncio import BlockingConnectionPool, Redis

from tpr_ws.actors.events import MessageReceived, Reply
from tpr_ws.actors.state import dump_state, initial_state, load_state
from tpr_ws.actors.workflow import step
from tpr_ws.conversation import log_event, reply_event

REDIS = web.AppKey("redis", Redis)
LOCKED = web.AppKey("locked", bool)


def _key(sid: str) -> str:
    return f"base:{{{sid}}}:state"


async def _turn(redis: Redis, sid: str, mid: str, text: str) -> list[dict[str, Any]]:
    state = load_state(await redis.get(_key(sid)))
    events = [log_event("user", str(state.stage), text, mid)]
    state, effects = step(state, MessageReceived(text=text))
    events += [reply_event(e, mid) for e in effects if isinstance(e, Reply)]
    await redis.set(_key(sid), dump_state(state), ex=3600)
    return events


async def create_session(request: web.Request) -> web.Response:
    sid = secrets.token_urlsafe(16)
    await request.app[REDIS].set(_key(sid), dump_state(initial_state()), ex=3600)
    body = orjson.dumps({"session_id": sid, "token": "-"})
    return web.Response(body=body, status=201, content_type="application/json")


async def readyz(request: web.Request) -> web.Response:
    await request.app[REDIS].ping()
    return web.Response(text="ready")


async def websocket(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(heartbeat=20)
    await ws.prepare(request)
    redis, locked = request.app[REDIS], request.app[LOCKED]
    sid = ""
    async for msg in ws:
        if msg.type != WSMsgType.TEXT:
            break
        frame = orjson.loads(msg.data)
        if frame["type"] == "hello":
            sid = frame["session_id"]
            found = await redis.exists(_key(sid))
            welcome = {"type": "welcome", "session_id": sid, "last_seq": found, "worker": "base"}
            await ws.send_str(orjson.dumps(welcome).decode())
        elif frame["type"] == "say":
            mid, text = frame["id"], frame["text"]
            if locked:
                lock = redis.lock(f"base:{{{sid}}}:lock", timeout=10, sleep=0.005)
                async with lock:
                    events = await _turn(redis, sid, mid, text)
            else:
                events = await _turn(redis, sid, mid, text)
            ack = {"type": "ack", "id": mid, "seq": 0, "events": events}
            await ws.send_str(orjson.dumps(ack).decode())
    return ws


async def create_app() -> web.Application:
    """Zero-argument factory for gunicorn; settings from BENCH_REDIS_URL and BENCH_LOCK."""
    app = web.Application()
    pool = BlockingConnectionPool.from_url(os.environ["BENCH_REDIS_URL"], max_connections=100)
    app[REDIS] = Redis(connection_pool=pool)
    app[LOCKED] = os.environ.get("BENCH_LOCK") == "1"
    app.router.add_post("/api/sessions", create_session)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/ws", websocket)
    return app
