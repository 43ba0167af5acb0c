"""Live fan-out: the worker's one pub/sub connection delivers a session's new events to every
local socket of that session, and a turn's events reach the other local sockets in-process.

The commit script publishes each turn's events (with their sequence numbers) on the session's
channel (with durable acks, the registry publishes them once they are durable). Pub/sub is
at-most-once, so it is only the fast path: a listener that sees a gap in sequence numbers, or is
told (None: a lost connection, or a published `null`, the registry's nudge) that messages may
have been missed, reads the log instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import orjson

from tpr_ws.registry.subscriber import Subscriber

log = logging.getLogger(__name__)

Listener = Callable[[list[dict[str, Any]] | None], None]
"""Called with the published events, or None when messages may have been lost."""


class Fanout:
    """Refcounted per-session subscriptions over the worker's `Subscriber`."""

    def __init__(
        self, subscriber: Subscriber, channel_of: Callable[[str], str], origin: str
    ) -> None:
        self._subscriber = subscriber
        self._channel_of = channel_of
        self._origin = origin.encode()
        self._listeners: dict[str, set[Listener]] = {}
        self._ready: dict[str, asyncio.Future[None]] = {}  # the session's confirmation

    async def start(self) -> None:
        self._subscriber.start()

    async def stop(self) -> None:
        for sid in list(self._listeners):
            self._subscriber.unsubscribe(self._channel_of(sid).encode())
        self._listeners.clear()
        for confirming in self._ready.values():
            confirming.cancel()
        self._ready.clear()

    def local_count(self, sid: str) -> int:
        """How many local sockets watch the session."""
        return len(self._listeners.get(sid, ()))

    async def subscribe(self, sid: str, listener: Listener) -> None:
        """Watch a session; returns once the server confirmed the subscription, so a log read
        after it misses nothing. The subscription is the session's, not the first caller's:
        a caller that goes away (its socket closed mid-hello: cancelled) stops waiting, and
        the others keep waiting for the same confirmation."""
        listeners = self._listeners.get(sid)
        if listeners is None:
            listeners = self._listeners[sid] = set()
            confirming = asyncio.ensure_future(self._confirm(sid))
            confirming.add_done_callback(_retrieve)
            self._ready[sid] = confirming
        listeners.add(listener)
        await asyncio.shield(self._ready[sid])

    async def _confirm(self, sid: str) -> None:
        channel = self._channel_of(sid).encode()
        try:
            await self._subscriber.subscribe(channel, lambda payload: self._dispatch(sid, payload))
        except BaseException:
            # Every caller waiting gets the error and starts again with a hello; the next
            # subscribe of the session subscribes afresh.
            if self._ready.get(sid) is asyncio.current_task():
                self._listeners.pop(sid, None)
                self._ready.pop(sid, None)
                self._subscriber.unsubscribe(channel)
            raise

    async def unsubscribe(self, sid: str, listener: Listener) -> None:
        listeners = self._listeners.get(sid)
        if listeners is None:
            return
        listeners.discard(listener)
        if not listeners:
            del self._listeners[sid]
            self._ready.pop(sid, None)
            self._subscriber.unsubscribe(self._channel_of(sid).encode())

    def deliver(self, sid: str, events: list[dict[str, Any]]) -> None:
        """Hand a turn committed by this worker to the session's local sockets (the registry
        calls this; the published copy, tagged with this worker's origin, is skipped)."""
        for listener in list(self._listeners.get(sid, ())):
            listener(events)

    def poke(self, sid: str) -> None:
        """Tell the session's local sockets to read the log (a commit of this worker whose
        outcome it does not know: its published copy is skipped here)."""
        for listener in list(self._listeners.get(sid, ())):
            listener(None)

    def _dispatch(self, sid: str, payload: bytes | None) -> None:
        events: list[dict[str, Any]] | None = None
        if payload is not None:
            origin, _, body = payload.partition(b"|")
            if origin == self._origin:
                return  # committed here: already delivered in-process
            try:
                events = orjson.loads(body)
            except orjson.JSONDecodeError:
                log.warning("fanout: undecodable message for session %s", sid)
        for listener in list(self._listeners.get(sid, ())):
            listener(events)


def _retrieve(done: asyncio.Future[None]) -> None:
    """A confirmation whose callers all went away: its error is theirs, not the loop's."""
    if not done.cancelled():
        done.exception()
