"""Live fan-out: one Redis pub/sub connection per worker delivers a session's new events to
every local socket of that session.

The commit script publishes each turn's events (with their sequence numbers) on the session's
channel. Pub/sub is at-most-once, so it is only the fast path: a subscriber that sees a gap in
sequence numbers, or is told that the connection was re-established, reads the log instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

Listener = Callable[[list[dict[str, Any]] | None], None]
"""Called with the published events, or None when messages may have been lost."""


class Fanout:
    """Refcounted per-session subscriptions over a single pub/sub connection."""

    def __init__(
        self, redis: Redis, channel_of: Callable[[str], str], control_channel: str
    ) -> None:
        self._redis = redis
        self._channel_of = channel_of
        self._listeners: dict[str, set[Listener]] = {}
        self._sessions_by_channel: dict[str, str] = {}
        self._pubsub: Any = None
        self._task: asyncio.Task[None] | None = None
        self._control = control_channel
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        # A permanent subscription keeps the connection open while no session is watched.
        await self._pubsub.subscribe(self._control)
        self._task = asyncio.create_task(self._run(), name="fanout")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._pubsub is not None:
            with contextlib.suppress(RedisError, OSError):
                await self._pubsub.aclose()

    async def subscribe(self, sid: str, listener: Listener) -> None:
        channel = self._channel_of(sid)
        async with self._lock:
            first = sid not in self._listeners
            self._listeners.setdefault(sid, set()).add(listener)
            self._sessions_by_channel[channel] = sid
            if first:
                await self._pubsub.subscribe(channel)

    async def unsubscribe(self, sid: str, listener: Listener) -> None:
        channel = self._channel_of(sid)
        async with self._lock:
            listeners = self._listeners.get(sid)
            if listeners is None:
                return
            listeners.discard(listener)
            if not listeners:
                del self._listeners[sid]
                self._sessions_by_channel.pop(channel, None)
                with contextlib.suppress(RedisError, OSError):
                    await self._pubsub.unsubscribe(channel)

    def _dispatch(self, channel: str, payload: bytes) -> None:
        sid = self._sessions_by_channel.get(channel)
        if sid is None:
            return
        try:
            events = orjson.loads(payload)
        except orjson.JSONDecodeError:
            log.warning("fanout: undecodable message on %s", channel)
            events = None
        for listener in list(self._listeners.get(sid, ())):
            listener(events)

    def _poke_all(self) -> None:
        for listeners in list(self._listeners.values()):
            for listener in list(listeners):
                listener(None)

    async def _run(self) -> None:
        backoff = 0.1
        while True:
            try:
                message = await self._pubsub.get_message(timeout=5.0)
                backoff = 0.1
                if message is None or message.get("type") != "message":
                    continue
                channel = message["channel"]
                if isinstance(channel, bytes):
                    channel = channel.decode()
                self._dispatch(channel, message["data"])
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                # redis-py resubscribes on reconnect; anything published meanwhile is lost,
                # so every local socket re-reads the log from its cursor.
                log.warning("fanout: pub/sub connection lost (%s); reconnecting", exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                with contextlib.suppress(RedisError, OSError):
                    await self._pubsub.ping()
                self._poke_all()
