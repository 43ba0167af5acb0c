"""A lean Redis connection for the registry's hot path: every caller shares one socket.

Commands are packed by hiredis and those of one loop iteration written together (one system
call); replies (RESP2) are parsed by hiredis and matched to callers in order. No pool checkout,
no health check, no per-call timer: a watchdog armed while commands are outstanding fails them
all (and drops the socket) once the oldest has waited `timeout_s` while nothing came back, so a
hung server (SIGSTOP) gives a quick, retryable error. The next call connects again. Plain TCP,
a Unix socket or TLS (``rediss://``, the context from `tls.client_context`). Blocking
commands (BLPOP, WAIT) must not go through it: they would hold up every other caller.
"""

from __future__ import annotations

import asyncio
import collections
import ssl
from typing import Any, cast

import hiredis
from redis.asyncio.connection import parse_url
from redis.exceptions import ConnectionError, NoScriptError, RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from tpr_ws.registry.tls import client_context, server_hostname


def _reply_error(reply: hiredis.ReplyError) -> RedisError:
    text = str(reply)
    return NoScriptError(text) if text.startswith("NOSCRIPT") else ResponseError(text)


class _Protocol(asyncio.Protocol):
    """Feeds replies to the futures of the commands written, in order."""

    def __init__(self) -> None:
        self.reader = hiredis.Reader()
        self.waiting: collections.deque[tuple[asyncio.Future[Any], float]] = collections.deque()
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.outgoing: list[bytes] = []
        self.received_at = float("-inf")

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.received_at = asyncio.get_running_loop().time()
        self.reader.feed(data)
        while (reply := self.reader.gets()) is not False:
            fut, _ = self.waiting.popleft()
            if fut.done():  # its caller was cancelled; the reply is still consumed in order
                continue
            if isinstance(reply, hiredis.ReplyError):
                fut.set_exception(_reply_error(reply))
            else:
                fut.set_result(reply)

    def flush(self) -> None:
        """Write every command queued since the last flush."""
        if self.outgoing and self.transport is not None and not self.closed:
            self.transport.write(b"".join(self.outgoing))
        self.outgoing.clear()

    def connection_lost(self, exc: Exception | None) -> None:
        self.fail(ConnectionError(f"Redis connection lost: {exc or 'closed by the server'}"))

    def fail(self, error: RedisError) -> None:
        self.closed = True
        while self.waiting:
            fut, _ = self.waiting.popleft()
            if not fut.done():
                fut.set_exception(error)
        if self.transport is not None:
            self.transport.abort()


class Pipe:
    """Pipelined commands on one shared connection (see module docstring)."""

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 5.0,
        connect_timeout_s: float = 2.0,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        """``tls``: the context of a ``rediss://`` URL when the caller has made it already
        (`tls.client_context`), else it is made here from the URL."""
        self._params = parse_url(url)
        self._tls = tls or client_context(self._params)
        self.timeout_s = timeout_s
        self.connect_timeout_s = connect_timeout_s
        self._proto: _Protocol | None = None
        self._connecting: asyncio.Future[_Protocol] | None = None
        self._watchdog: asyncio.TimerHandle | None = None

    async def execute(self, *args: Any) -> Any:
        """Send one command and wait for its reply (RedisError subclasses on failure)."""
        proto = self._proto
        if proto is None or proto.closed:
            proto = await self._connect()
        return await self._send(proto, args)

    def _send(self, proto: _Protocol, args: tuple[Any, ...]) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        if proto.closed:
            # Lost between being opened and this command (a server killed or cut off just
            # then, while this caller waited for the connection): nothing would ever answer
            # or fail a command queued on it.
            fut.set_exception(ConnectionError("Redis connection lost before the command"))
            return fut
        # Commands issued in the same loop iteration leave in one write (one system call,
        # and one wake-up of the server) at the end of it.
        if not proto.outgoing:
            loop.call_soon(proto.flush)
        proto.outgoing.append(hiredis.pack_command(args))
        proto.waiting.append((fut, loop.time()))
        if self._watchdog is None:
            self._watchdog = loop.call_at(loop.time() + self.timeout_s, self._check, proto)
        return fut

    def _check(self, proto: _Protocol) -> None:
        """The watchdog: fail everything once the oldest command has waited too long."""
        self._watchdog = None
        if proto.closed or not proto.waiting:
            return
        loop = asyncio.get_running_loop()
        oldest = proto.waiting[0][1]
        if loop.time() - oldest < self.timeout_s:
            self._watchdog = loop.call_at(oldest + self.timeout_s, self._check, proto)
        elif proto.received_at >= oldest:
            # Replies are flowing: the wait is this busy loop's own backlog, not a hung
            # server. Look again once the loop has read what is waiting.
            proto.received_at = float("-inf")
            self._watchdog = loop.call_later(self.timeout_s / 10, self._check, proto)
        else:
            proto.fail(RedisTimeoutError(f"Redis did not answer within {self.timeout_s} s"))

    async def _connect(self) -> _Protocol:
        # One connection attempt at a time; concurrent callers wait for the same one.
        if self._connecting is None:
            self._connecting = asyncio.ensure_future(self._open())
        connecting = self._connecting
        try:
            return await asyncio.shield(connecting)
        finally:
            if connecting.done() and self._connecting is connecting:
                self._connecting = None

    async def _open(self) -> _Protocol:
        loop = asyncio.get_running_loop()
        p = self._params
        try:
            async with asyncio.timeout(self.connect_timeout_s):
                if "path" in p:
                    _, proto = await loop.create_unix_connection(_Protocol, p["path"])
                else:
                    host = p.get("host", "localhost")
                    _, proto = await loop.create_connection(
                        _Protocol,
                        host,
                        int(p.get("port", 6379)),
                        ssl=self._tls,
                        server_hostname=server_hostname(self._tls, host),
                    )
                if self._watchdog is not None:
                    self._watchdog.cancel()
                    self._watchdog = None
                if p.get("password"):
                    auth = [p["username"]] if p.get("username") else []
                    await self._send(proto, ("AUTH", *auth, p["password"]))
                if int(p.get("db") or 0):
                    await self._send(proto, ("SELECT", int(p["db"])))
        except (OSError, TimeoutError) as exc:
            over = " over TLS" if self._tls is not None else ""
            raise ConnectionError(f"cannot connect to Redis{over}: {exc}") from exc
        self._proto = proto
        return proto

    async def aclose(self) -> None:
        """Close the connection; pending commands fail with ConnectionError."""
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        if self._proto is not None:
            self._proto.fail(ConnectionError("closed"))
            self._proto = None
