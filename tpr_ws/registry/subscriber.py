"""One pub/sub connection per worker: channels to callbacks, confirmed subscriptions, and
recovery by itself.

`subscribe` returns once the server has confirmed the subscription, so a caller that reads
state after it (a log, a lease) cannot miss a message published in between. Pub/sub is
at-most-once: when the connection is lost, or the server stops answering pings, every callback
is called with None (messages may have been missed: read the truth again), and the connection
is re-opened and every channel subscribed again, after which the callbacks get None once more.

On a Redis Cluster a PUBLISH reaches the subscribers of every node, so the connection may be on
any node; given `addresses` (the nodes the cluster client knows), it moves to another node
when its own fails, so fan-out and wake-ups follow failovers instead of waiting for one node.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import ssl
from collections.abc import Callable, Sequence
from typing import cast

import hiredis
from redis.asyncio.connection import parse_url
from redis.exceptions import ConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from tpr_ws.registry.tls import client_context, server_hostname

log = logging.getLogger(__name__)

Callback = Callable[[bytes | None], None]
"""Called with each message's payload, or None when messages may have been lost."""

Addresses = Callable[[], Sequence[tuple[str, int]]]
"""Other (host, port) pairs the connection may move to (a cluster's nodes)."""


class _Protocol(asyncio.Protocol):
    def __init__(self, owner: Subscriber) -> None:
        self.owner = owner
        self.reader = hiredis.Reader()
        self.transport: asyncio.Transport | None = None
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.pong = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        while (reply := self.reader.gets()) is not False:
            if isinstance(reply, list) and reply:
                if reply[0] == b"pong":
                    self.pong.set()
                else:
                    self.owner._on_reply(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(None)

    def send(self, *args: bytes | str) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(hiredis.pack_command(args))  # type: ignore[arg-type]


class Subscriber:
    """Pub/sub for a whole worker (see module docstring); start with `start()`."""

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 5.0,
        connect_timeout_s: float = 2.0,
        addresses: Addresses | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        """``tls``: the context of a ``rediss://`` URL when the caller has made it already
        (`tls.client_context`), else it is made here from the URL; it is used at every
        address the connection moves to."""
        self._params = parse_url(url)
        self._tls = tls or client_context(self._params)
        self._addresses = addresses
        host, port = self._params.get("host", "localhost"), int(self._params.get("port", 6379))
        self._at: tuple[str, int] = (host, port)
        self.timeout_s = timeout_s
        self.connect_timeout_s = connect_timeout_s
        self._callbacks: dict[bytes, Callback] = {}
        self._confirm: dict[bytes, collections.deque[asyncio.Future[None]]] = {}
        self._proto: _Protocol | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the connection's keeper task (idempotent)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._keep(), name="subscriber")

    async def subscribe(self, channel: bytes, callback: Callback) -> None:
        """Deliver the channel's messages to `callback` (one per channel), once confirmed."""
        self.start()
        self._callbacks[channel] = callback
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._confirm.setdefault(channel, collections.deque()).append(fut)
        if self._proto is not None:
            self._proto.send("SUBSCRIBE", channel)
        try:
            # Generous: under a storm of hellos the confirmation may wait behind a busy loop;
            # a hung server is caught by the pings (and the hello's own reads) sooner.
            async with asyncio.timeout(4 * (self.timeout_s + self.connect_timeout_s)):
                await asyncio.shield(fut)
        except TimeoutError:
            raise RedisTimeoutError("pub/sub subscription not confirmed in time") from None
        finally:
            self._forget(channel, fut)

    def _forget(self, channel: bytes, fut: asyncio.Future[None]) -> None:
        """A confirmation no one waits for any more (timed out, cancelled) leaves the queue:
        left there, it would take the next caller's confirmation, and that caller would wait
        out its whole timeout."""
        waiting = self._confirm.get(channel)
        if waiting is not None and fut in waiting:
            waiting.remove(fut)
            if not waiting:
                del self._confirm[channel]

    def unsubscribe(self, channel: bytes) -> None:
        """Stop delivering the channel (no wait); a caller still waiting for its
        confirmation is cancelled."""
        for fut in self._confirm.pop(channel, ()):
            fut.cancel()
        if self._callbacks.pop(channel, None) is not None and self._proto is not None:
            self._proto.send("UNSUBSCRIBE", channel)

    def _on_reply(self, reply: list[bytes]) -> None:
        kind = reply[0]
        if kind == b"message":
            callback = self._callbacks.get(reply[1])
            if callback is not None:
                callback(reply[2])
        elif kind == b"subscribe":
            waiting = self._confirm.get(reply[1])
            if waiting:
                fut = waiting.popleft()
                if not waiting:
                    del self._confirm[reply[1]]
                if not fut.done():
                    fut.set_result(None)

    async def _open(self) -> _Protocol:
        """Connect where the last connection was, else to the first other address that answers."""
        candidates = [self._at]
        if self._addresses is not None:
            candidates += [a for a in self._addresses() if a != self._at]
        error: Exception | None = None
        for address in candidates:
            try:
                proto = await self._open_at(address)
            except (OSError, TimeoutError) as exc:
                error = exc
                continue
            if address != self._at:
                log.warning("pub/sub: moved from %s:%s to %s:%s", *self._at, *address)
                self._at = address
            return proto
        assert error is not None
        raise error

    async def _open_at(self, address: tuple[str, int]) -> _Protocol:
        loop = asyncio.get_running_loop()
        p = self._params
        async with asyncio.timeout(self.connect_timeout_s):
            if "path" in p:
                _, proto = await loop.create_unix_connection(lambda: _Protocol(self), p["path"])
            else:
                host, port = address
                _, proto = await loop.create_connection(
                    lambda: _Protocol(self),
                    host,
                    port,
                    ssl=self._tls,
                    server_hostname=server_hostname(self._tls, host),
                )
            if p.get("password"):
                # The AUTH reply (+OK, not a list) is skipped by data_received.
                proto.send("AUTH", *([p["username"]] if p.get("username") else []), p["password"])
        return proto

    async def _keep(self) -> None:
        """Connect, (re)subscribe, ping; on any loss tell every callback and start again."""
        backoff = 0.05
        while True:
            try:
                proto = await self._open()
            except (OSError, TimeoutError) as exc:
                self._connect_failed(exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
                continue
            self._proto = proto
            # One SUBSCRIBE per caller still waiting for a confirmation (each gets its own
            # reply, in order), else one per channel.
            for channel in list(self._callbacks):
                for _ in range(max(1, len(self._confirm.get(channel, ())))):
                    proto.send("SUBSCRIBE", channel)
            answered = await self._watch(proto)
            self._proto = None
            if proto.transport is not None:
                proto.transport.abort()
            log.warning("pub/sub: connection lost; reconnecting")
            self._tell_all()
            if answered:
                backoff = 0.05
            else:
                # Lost before its first pong (say, a server that refuses the client's
                # certificate once the handshake is done): no reconnecting in a tight loop.
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)

    async def _watch(self, proto: _Protocol) -> bool:
        """Return when the connection is lost or the server stops answering pings; whether
        it ever answered. After the first pong (every SUBSCRIBE sent before it is then in
        force) the callbacks are told that messages published while the connection was down
        were missed."""
        told = False
        while not proto.lost.done():
            proto.pong.clear()
            proto.send("PING")
            pong: asyncio.Future[object] = asyncio.ensure_future(proto.pong.wait())
            lost: asyncio.Future[object] = proto.lost  # type: ignore[assignment]
            await asyncio.wait(
                [pong, lost], timeout=self.timeout_s, return_when=asyncio.FIRST_COMPLETED
            )
            pong.cancel()
            if proto.lost.done() or not proto.pong.is_set():
                return told
            if not told:
                count = len(self._callbacks)
                log.info("pub/sub: %d channels subscribed at %s:%s", count, *self._at)
                self._tell_all()
                told = True
            await asyncio.wait([proto.lost], timeout=self.timeout_s)
        return told

    def _connect_failed(self, exc: OSError | TimeoutError) -> None:
        """Log a failed attempt. A server certificate that does not verify (wrong CA, wrong
        host name) is a configuration error, not an outage: the callers waiting for a
        subscription get it at once instead of waiting out their timeout."""
        if not isinstance(exc, ssl.SSLCertVerificationError):
            log.warning("pub/sub: cannot connect (%s); retrying", exc)
            return
        log.error("pub/sub: the server's TLS certificate is refused (%s); retrying", exc)
        error = ConnectionError(f"pub/sub: the server's TLS certificate is refused: {exc}")
        for waiting in self._confirm.values():
            for fut in waiting:
                if not fut.done():
                    fut.set_exception(error)
        self._confirm.clear()

    def _tell_all(self) -> None:
        for callback in list(self._callbacks.values()):
            callback(None)

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._proto is not None and self._proto.transport is not None:
            self._proto.transport.close()
        for waiting in self._confirm.values():
            for fut in waiting:
                if not fut.done():
                    fut.set_exception(ConnectionError("closed"))
        self._confirm.clear()
