"""The WebSocket endpoint: hello/welcome, replay or resync, say/ack, live events.

Each socket has one cursor (the last sequence number it was sent). Every path that delivers
events (its own turn's events, pub/sub fan-out, replay) goes through `_catch_up`, which sends
only events above the cursor, in order, and reads the log to fill any gap, so a socket never
sees an event twice or misses one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from typing import Any

import orjson
from aiohttp import WSMsgType, web
from redis.exceptions import RedisError

from tpr_ws.errors import (
    CLOSE_CODES,
    ClientError,
    ErrorCode,
    LimitReached,
    NotFound,
    ProtocolError,
    RateLimited,
    ServerError,
    StorageUnavailable,
    TooLarge,
)
from tpr_ws.transport import auth
from tpr_ws.transport.backend import Services
from tpr_ws.transport.keys import (
    BACKEND,
    CLIENTS,
    CONNECTIONS,
    METRICS,
    SETTINGS,
    SLOTS,
    SOCKETS,
    WORKER_ID,
)
from tpr_ws.transport.origin import check_origin
from tpr_ws.transport.timers import HelloDeadline, StorageRetry

log = logging.getLogger(__name__)

_MESSAGE_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
MAX_TEXT_CHARS = 2000
MAX_LABEL_CHARS = 200
PROTOCOL_EVENTS_IN_ACK = 2  # hello's "protocol": the ack carries the turn's events
REPLAY_PAGE = 64  # events read from the log per round trip while replaying


class _Bucket:
    """Token bucket: `rate` messages per `window` seconds, bursts up to `rate`."""

    def __init__(self, rate: int, window: float) -> None:
        self._capacity = float(rate)
        self._per_second = rate / window
        self._tokens = float(rate)
        self._at = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self._tokens = min(self._capacity, self._tokens + (now - self._at) * self._per_second)
        self._at = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False


class Connection:
    """One client socket."""

    def __init__(
        self, request: web.Request, ws: web.WebSocketResponse, services: Services, client: str
    ) -> None:
        app = request.app
        self.ws = ws
        self.client = client
        self.settings = app[SETTINGS]
        self.storage = services.storage
        self.fanout = services.fanout
        self.conversation = services.conversation
        self.windows = services.windows
        self.metrics = app[METRICS]
        self.worker_id = app[WORKER_ID]
        self.sid: str | None = None
        self._greeting: tuple[str, int] | None = None  # a verified hello not yet welcomed
        self.cursor = 0
        self.welcomed = False  # the hello set the cursor: events may flow
        self._pending: list[dict[str, Any]] = []
        self._must_read = False
        self._events_in_ack = False  # protocol 2: a turn's events ride in its ack
        self._hold = 0  # turns running: the writer leaves their events to the ack
        self._idle = asyncio.Event()  # set while no turn runs
        self._idle.set()
        self._draining = False  # the worker is stopping: no new turn starts
        self._wake = asyncio.Event()
        self._send_lock = asyncio.Lock()
        self._inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._bucket = _Bucket(self.settings.rate_limit_messages, self.settings.rate_limit_window_s)
        self._retry = StorageRetry(self._wake.set, self.settings.storage_retry_max_s)
        self._deadline = HelloDeadline(self.settings.hello_timeout_s, self._hello_expired)

    # -- receiving -----------------------------------------------------------------------
    async def serve(self) -> None:
        tasks = [
            asyncio.create_task(self._writer(), name="ws-writer"),
            asyncio.create_task(self._worker(), name="ws-turns"),
        ]
        try:
            async for msg in self.ws:
                if msg.type == WSMsgType.TEXT:
                    await self._guard(self._receive, msg.data, None)
                elif msg.type == WSMsgType.BINARY:
                    await self._send_error(
                        ErrorCode.BAD_FRAME, "Send JSON text frames, not binary."
                    )
                elif msg.type == WSMsgType.ERROR:
                    break
        finally:
            self._deadline.cancel()
            self._retry.cancel()
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if self.sid is not None:
                await self.fanout.unsubscribe(self.sid, self._on_published)

    async def _receive(self, raw: str) -> None:
        if len(raw.encode()) > self.settings.max_message_bytes:
            raise TooLarge(
                f"Message too large: the limit is {self.settings.max_message_bytes} bytes."
            )
        try:
            frame = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise ProtocolError("That frame is not valid JSON.", code=ErrorCode.BAD_JSON) from None
        if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
            raise ProtocolError(
                'A frame must be a JSON object with a "type".', code=ErrorCode.BAD_FRAME
            )
        kind = frame["type"]
        if kind == "hello":
            await self._hello(frame)
        elif kind == "say":
            mid = frame.get("id") if isinstance(frame.get("id"), str) else None
            try:
                self._check_say(frame)
                assert self.sid is not None
                await self.windows.message(self.sid, self.client)
            except ClientError as exc:
                await self._send_error(exc.code, str(exc), mid)
                return
            except (StorageUnavailable, RedisError) as exc:  # the shared windows are in Redis
                await self._storage_failed(exc, mid)
                return
            await self._inbox.put(frame)
        elif kind == "ping":
            await self._send({"type": "pong"})
        else:
            raise ProtocolError(f"Unknown frame type {kind!r}.", code=ErrorCode.UNKNOWN_TYPE)

    def _check_say(self, frame: dict[str, Any]) -> None:
        mid = frame.get("id")
        if not isinstance(mid, str) or not _MESSAGE_ID.match(mid):
            raise ProtocolError(
                "A say needs an id of 1-128 letters, digits, '-', '_', ':' or '.'.",
                code=ErrorCode.BAD_ID,
            )
        if not self.welcomed:
            raise ProtocolError("Send hello before say.", code=ErrorCode.HELLO_REQUIRED)
        text = frame.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ProtocolError("A say needs a non-empty text.", code=ErrorCode.EMPTY_TEXT)
        if len(text) > MAX_TEXT_CHARS:
            raise TooLarge(f"Messages are limited to {MAX_TEXT_CHARS} characters.")
        label = frame.get("label")
        if label is not None and (not isinstance(label, str) or len(label) > MAX_LABEL_CHARS):
            raise ProtocolError(
                f"A say's label must be text of at most {MAX_LABEL_CHARS} characters.",
                code=ErrorCode.BAD_LABEL,
            )
        if not self._bucket.take():
            raise RateLimited("Too many messages; wait a few seconds and try again.")

    async def _hello(self, frame: dict[str, Any]) -> None:
        if self.sid is not None or self._greeting is not None:
            raise ProtocolError("This socket already said hello.", code=ErrorCode.ALREADY_GREETED)
        sid, token, last_seq = frame.get("session_id"), frame.get("token"), frame.get("last_seq", 0)
        if not isinstance(sid, str) or not isinstance(last_seq, int) or last_seq < 0:
            raise ProtocolError("hello needs session_id (string) and last_seq (integer >= 0).")
        auth.check_session_id(sid)
        auth.verify(self.settings.secret, sid, token if isinstance(token, str) else None)
        self._deadline.met()
        self._events_in_ack = frame.get("protocol") == PROTOCOL_EVENTS_IN_ACK
        # Verified: from here a storage failure is retried on a timer until the welcome.
        self._greeting = (sid, last_seq)
        await self._welcome()

    async def _hello_expired(self) -> None:
        if self.sid is None and self._greeting is None:
            code = ErrorCode.HELLO_TIMEOUT
            await self._send_error(code, "No valid hello in time; reconnect and say hello.")
            await self.ws.close(code=CLOSE_CODES[code], message=code.encode())

    async def _welcome(self, _: Any = None) -> None:
        # All under the send lock, from the subscription to the cursor: the writer (woken by a
        # publish or a pub/sub reconnect while the subscription is confirmed) must neither send
        # from a cursor the hello has not set yet nor welcome a second time.
        async with self._send_lock:
            if self._greeting is None:
                return  # welcomed meanwhile
            sid, last_seq = self._greeting
            try:
                current = await auth.existing_session(self.storage, sid)
            except NotFound:
                self._greeting = None
                raise
            # Subscribe before reading the log, so nothing committed in between is missed.
            try:
                await self.fanout.subscribe(sid, self._on_published)
            except BaseException:
                await self.fanout.unsubscribe(sid, self._on_published)
                raise
            self.sid, self._greeting = sid, None
            await self._send(
                {
                    "type": "welcome",
                    "session_id": sid,
                    "last_seq": current,
                    "worker": self.worker_id,
                }
            )
            if last_seq > current:
                await self._resync()
                self.welcomed = True
            else:
                self.cursor = last_seq
                self.welcomed = True
                self.metrics.replays.labels("events").inc()
                await self._catch_up([], force_read=True)

    # -- turns ---------------------------------------------------------------------------
    async def _worker(self) -> None:
        while True:
            frame = await self._inbox.get()
            if self._draining:
                continue  # never acknowledged: the client resends it, by id, after the 1001
            await self._guard(self._say, frame, frame.get("id"))

    async def finish_turn(self) -> None:
        """The worker is stopping: start no new turn, and return once the one running has
        finished (committed and acknowledged, or failed and answered)."""
        self._draining = True
        await self._idle.wait()

    async def _say(self, frame: dict[str, Any]) -> None:
        assert self.sid is not None
        self._hold += 1
        self._idle.clear()
        try:
            result = await self.conversation.say(
                self.sid, frame["id"], frame["text"], shown=frame.get("label")
            )
            ack: dict[str, Any] = {"type": "ack", "id": frame["id"], "seq": result.first_seq}
            async with self._send_lock:
                if not self._events_in_ack:
                    await self._send(ack)
                    await self._catch_up(result.events)
                    return
                fresh = self._take_fresh(result.events)
                if fresh is None:  # a gap or a possible loss: the log fills it, frame by frame
                    await self._catch_up([], force_read=True)
                    fresh = []
                ack["events"] = [{"type": "event", **e} for e in fresh]
                await self._send(ack)
                if fresh:
                    self.cursor = int(fresh[-1]["seq"])
        finally:
            self._hold -= 1
            if not self._hold:
                self._idle.set()
            self._wake.set()

    # -- delivering ----------------------------------------------------------------------
    def _on_published(self, events: list[dict[str, Any]] | None) -> None:
        if events is None:
            self._must_read = True
        else:
            self._pending.extend(events)
        self._wake.set()

    async def _writer(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._greeting is not None:
                await self._guard(self._welcome, None, None)
                continue
            if self._hold or self.sid is None:
                continue
            async with self._send_lock:
                if self.welcomed:
                    await self._guard(self._catch_up, [], None)

    def _take_fresh(self, events: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
        """The pending and given events above the cursor, in order and unique; None if they
        do not follow the cursor without a gap (or messages may have been lost): read the log."""
        cursor = self.cursor
        if self._pending:
            merged = {e["seq"]: e for e in (*self._pending, *events) if e["seq"] > cursor}
            self._pending.clear()
            fresh = [merged[seq] for seq in sorted(merged)]
        else:
            fresh = [e for e in events if e["seq"] > cursor]
        if self._must_read or any(e["seq"] != cursor + 1 + i for i, e in enumerate(fresh)):
            return None
        return fresh

    async def _catch_up(self, events: list[dict[str, Any]], *, force_read: bool = False) -> None:
        assert self.sid is not None
        unique = self._take_fresh(events)
        if force_read or unique is None:
            self._must_read = False
            while True:
                read = await self.storage.read_log(self.sid, self.cursor, limit=REPLAY_PAGE)
                if read.gap:
                    await self._resync()
                    return
                for event in read.events:
                    await self._send_event(event)
                if not read.events or self.cursor >= read.last_seq:
                    self._retry.succeeded()
                    return
        for event in unique:
            await self._send_event(event)

    async def _resync(self) -> None:
        """One frame with the newest events that fit in the log's byte bound (so a hello after
        a long absence never pulls a whole log into one frame)."""
        assert self.sid is not None
        self.metrics.replays.labels("resync").inc()
        read = await self.storage.read_tail(
            self.sid, self.settings.log_max_bytes, limit=self.settings.log_max_events
        )
        events = [{"type": "event", **e} for e in read.events]
        await self._send({"type": "resync", "events": events, "last_seq": read.last_seq})
        self.cursor = read.last_seq

    async def _send_event(self, event: dict[str, Any]) -> None:
        if event["seq"] <= self.cursor:
            return
        await self._send({"type": "event", **event})
        self.cursor = int(event["seq"])

    async def _send(self, frame: dict[str, Any]) -> None:
        if not self.ws.closed:
            await self.ws.send_str(orjson.dumps(frame).decode())

    # -- errors: the one boundary ------------------------------------------------------------
    async def _guard(self, handler: Any, arg: Any, message_id: Any) -> None:
        try:
            await handler(arg)
        except ClientError as exc:
            await self._send_error(exc.code, str(exc), message_id)
            close = CLOSE_CODES.get(exc.code)
            if close is not None:
                await self.ws.close(code=close, message=exc.code.encode())
        except (StorageUnavailable, RedisError) as exc:
            await self._storage_failed(exc, message_id)
        except ServerError as exc:
            log.warning("turn failed: %s (%s)", exc.code, exc)
            await self._send_error(
                exc.code, "The server could not finish that; send it again.", message_id
            )
        except (asyncio.CancelledError, ConnectionResetError):
            raise
        except Exception:
            log.exception("unexpected error on a WebSocket")
            await self._send_error(
                ErrorCode.SERVER_ERROR,
                "Something went wrong on the server; send it again.",
                message_id,
            )

    async def _storage_failed(self, exc: Exception, message_id: Any) -> None:
        """Redis is unreachable: a retryable error (once per outage unless it answers a say),
        no traceback, and the hello or catch-up is retried on a timer."""
        self._must_read = self.sid is not None
        first = self._retry.failed()
        if first or isinstance(message_id, str):
            log.warning("storage unavailable on a WebSocket: %s", exc)
            text = "The server cannot reach its storage; it retries by itself."
            await self._send_error(ErrorCode.STORAGE_UNAVAILABLE, text, message_id)

    async def _send_error(self, code: ErrorCode, message: str, message_id: Any = None) -> None:
        self.metrics.errors.labels(code).inc()
        frame: dict[str, Any] = {"type": "error", "code": code, "message": message}
        if isinstance(message_id, str):
            frame["id"] = message_id
        with contextlib.suppress(ConnectionResetError):
            await self._send(frame)


async def websocket_handler(request: web.Request) -> web.WebSocketResponse:
    check_origin(request)
    app = request.app
    services = app[BACKEND].require()  # before the upgrade: 503 while storage is not connected
    settings = app[SETTINGS]
    ws = web.WebSocketResponse(
        heartbeat=settings.heartbeat_s,
        max_msg_size=settings.max_message_bytes * 4,
    )
    await ws.prepare(request)
    client = app[CLIENTS].of(request)
    with contextlib.ExitStack() as held:
        try:
            held.enter_context(app[SLOTS].socket(client))
        except LimitReached as exc:
            await _refuse(ws, exc)
            return ws
        sockets, metrics = app[SOCKETS], app[METRICS]
        connection = Connection(request, ws, services, client)
        sockets.add(ws)
        app[CONNECTIONS].add(connection)
        metrics.sockets.inc()
        try:
            await connection.serve()
        finally:
            app[CONNECTIONS].discard(connection)
            sockets.discard(ws)
            metrics.sockets.dec()
    return ws


async def _refuse(ws: web.WebSocketResponse, exc: ClientError) -> None:
    """Tell a socket why it is refused, then close it with the code's close code."""
    frame = {"type": "error", "code": exc.code, "message": exc.message}
    await ws.send_str(orjson.dumps(frame).decode())
    await ws.close(code=CLOSE_CODES[exc.code], message=exc.code.encode())
