"""Redis client plumbing for the registry: the clients, scripts by SHA, connect."""

from __future__ import annotations

import asyncio
import hashlib
import sys
from collections.abc import Iterable
from typing import Any, NoReturn

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import Connection, parse_url
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.connection import HiredisRespSerializer
from redis.exceptions import (
    ConnectionError,
    NoScriptError,
    RedisClusterException,
    SlotNotCoveredError,
)

from tpr_ws.registry.pipe import Pipe
from tpr_ws.registry.subscriber import Subscriber
from tpr_ws.registry.tls import client_context

RedisClient = Redis | RedisCluster


class PackedConnection(Connection):
    """An asyncio connection that packs commands with hiredis (in C), as redis-py's blocking
    client does; its asyncio client packs in Python, which costs more than a turn's Lua."""

    _serializer = HiredisRespSerializer()

    def pack_command(self, *args: Any) -> list[bytes]:
        return self._serializer.pack(*args)  # type: ignore[no-any-return]

    async def send_packed_command(
        self, command: bytes | str | Iterable[bytes], check_health: bool = True
    ) -> None:
        """redis-py's send, but a cancellation that arrives as the send completes is raised.

        redis-py bounds the send with `asyncio.wait_for`, which on Python 3.11 then returns
        normally and drops the cancellation: the caller went on as if never cancelled (a
        socket's turn loop outlived its socket and held its handler past a worker's shutdown).
        The command's reply is never read, so the connection is dropped."""
        task = asyncio.current_task()
        requested = 0 if task is None else task.cancelling()
        await super().send_packed_command(command, check_health)
        if task is not None and task.cancelling() > requested:
            await self.disconnect(nowait=True)
            raise asyncio.CancelledError


class LeanRedis(Redis):
    """A redis-py client (a bounded pool, for blobs and other cold commands) that also carries
    the shared pipelined connection (`Pipe`) of the registry's scripts and hot reads, and the
    worker's pub/sub connection (`Subscriber`: wake-ups of waiting turns, fan-out)."""

    pipe: Pipe
    subscriber: Subscriber

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        await self.pipe.aclose()
        await self.subscriber.aclose()
        await super().aclose(close_connection_pool)


class ClusterUnavailable(ConnectionError):
    """The cluster client could not serve a command while the cluster changes (a failover):
    no node known for the slot, no agreed slot map, or a connection closed under the command
    by the client's own re-initialisation. A `ConnectionError`, so a retryable
    `storage_unavailable` wherever storage errors are mapped."""


def cluster_fault(exc: BaseException) -> ClusterUnavailable | None:
    """The `ClusterUnavailable` an exception of redis-py's cluster client stands for, if any.

    redis-py raises these outside its `RedisError` hierarchy during a failover:
    `SlotNotCoveredError` (the slot map has no node for the slot) and the
    `RedisClusterException` of a failed topology refresh ("cannot be connected", "not covered",
    "could not agree"); and, since its reaction to `ClusterDownError` / `SlotNotCoveredError`
    closes every connection of the client, a command in flight on another task finds its
    connection's writer or reader gone (`AttributeError` inside `redis.asyncio.connection`).
    A `RedisClusterException` about a command itself (keys in different slots) stays a bug.
    """
    if isinstance(exc, SlotNotCoveredError) or (
        # the same, from a slot map loaded without full coverage (redis-py's dict lookup)
        isinstance(exc, KeyError) and _raised_in(exc, "redis.asyncio.cluster", "get_node_from_slot")
    ):
        return ClusterUnavailable(f"no node serves the slot (a failover under way): {exc!r}")
    if isinstance(exc, RedisClusterException) and any(
        text in str(exc) for text in ("cannot be connected", "not covered", "could not agree")
    ):
        return ClusterUnavailable(f"the cluster's slot map is unknown: {exc}")
    if isinstance(exc, AttributeError) and _raised_in(exc, "redis.asyncio.connection"):
        return ClusterUnavailable(f"a connection was closed under the command: {exc}")
    return None


def _raised_in(exc: BaseException, module: str, function: str | None = None) -> bool:
    """Whether the innermost frame of the exception's traceback is in `module` (and
    `function`): a lookup or attribute error of redis-py's own, not of our code."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None or tb.tb_frame.f_globals.get("__name__") != module:
        return False
    return function is None or tb.tb_frame.f_code.co_name == function


def _reraise(exc: Exception) -> NoReturn:
    fault = cluster_fault(exc)
    if fault is None:
        raise exc
    raise fault from exc


class LeanCluster(RedisCluster):
    """A Redis Cluster client with the worker's `Subscriber` (on any node, since a PUBLISH
    reaches every node's subscribers; it moves to another known node when its own fails).
    What its commands raise during a failover is always a `RedisError` (`cluster_fault`)."""

    subscriber: Subscriber

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # redis-py's cluster client makes its nodes' connections of its own classes, whatever
        # `connection_class` says: plain TCP ones are `PackedConnection`s here too.
        if self.connection_kwargs.get("connection_class", Connection) is Connection:
            self.connection_kwargs["connection_class"] = PackedConnection  # later nodes
            for node in self.nodes_manager.startup_nodes.values():
                node.connection_class = PackedConnection

    async def initialize(self, *args: Any, **kwargs: Any) -> LeanCluster:
        """Load the slot map if it is marked for a refresh: redis-py's own, except that a
        refresh that fails (a failover under way) leaves the connections of other commands in
        flight open (the base class closes them all) and raises `ClusterUnavailable`."""
        if not self._initialize:
            return self
        if not self._lock:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._initialize:
                try:
                    await self.nodes_manager.initialize(*args, **kwargs)
                    await self.commands_parser.initialize(self.nodes_manager.default_node)
                except (RedisClusterException, AttributeError, KeyError) as exc:
                    _reraise(exc)
                self._initialize = False
        return self

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().execute_command(*args, **kwargs)
        except (RedisClusterException, AttributeError, KeyError) as exc:
            _reraise(exc)

    async def aclose(self) -> None:
        """Close every connection. Called by redis-py itself (its reaction to CLUSTERDOWN, an
        uncovered slot or repeated MOVED), only mark the slot map for a refresh before the next
        command: closing every connection failed every command other tasks had in flight, and
        their failures closed them again, a storm that outlasted a failover by many seconds.
        A dead node's connections fail by themselves; a refresh keeps the others' pools."""
        if _called_from_redis_cluster():
            self._initialize = True
            return
        await self.subscriber.aclose()
        self._initialize = False  # (a pending refresh must not skip closing the connections)
        await super().aclose()


def _called_from_redis_cluster() -> bool:
    caller = sys._getframe(2)  # aclose's caller (1 is this function's caller, aclose)
    return caller.f_globals.get("__name__") == "redis.asyncio.cluster"


def pipe_of(redis: RedisClient) -> Pipe | None:
    """The lean connection of a client from `connect()`, if it has one."""
    return redis.pipe if isinstance(redis, LeanRedis) else None


def subscriber_of(redis: RedisClient) -> Subscriber | None:
    """The pub/sub connection of a client from `connect()`, if it has one."""
    return redis.subscriber if isinstance(redis, LeanRedis | LeanCluster) else None


class Script:
    """A Lua script run by EVALSHA, loaded again after NOSCRIPT (a restarted server).

    Through the client's `Pipe` when it has one, else through redis-py. ``idempotent`` scripts
    are sent once more after a dropped connection (a restarted server); a timeout is not retried.
    """

    def __init__(self, redis: RedisClient, text: str, *, idempotent: bool = True) -> None:
        self._redis = redis
        self._pipe = pipe_of(redis)
        self._text = text
        self._idempotent = idempotent
        self.sha = hashlib.sha1(text.encode()).hexdigest()

    async def __call__(self, keys: list[bytes], args: list[Any]) -> Any:
        if self._pipe is None:
            return await self._via_client(keys, args)
        try:
            return await self._via_pipe(self._pipe, keys, args)
        except ConnectionError:
            if not self._idempotent:
                raise
            return await self._via_pipe(self._pipe, keys, args)

    async def _via_pipe(self, pipe: Pipe, keys: list[bytes], args: list[Any]) -> Any:
        try:
            return await pipe.execute("EVALSHA", self.sha, len(keys), *keys, *args)
        except NoScriptError:
            self.sha = (await pipe.execute("SCRIPT", "LOAD", self._text)).decode()
            return await pipe.execute("EVALSHA", self.sha, len(keys), *keys, *args)

    async def _via_client(self, keys: list[bytes], args: list[Any]) -> Any:
        try:
            return await self._redis.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            self.sha = await self._redis.script_load(self._text)
            return await self._redis.evalsha(self.sha, len(keys), *keys, *args)


def connect(
    url: str,
    *,
    cluster: bool = False,
    timeout_s: float = 5.0,
    connect_timeout_s: float = 2.0,
    max_connections: int = 50,
) -> RedisClient:
    """A client for Storage: bytes replies, socket and connect timeouts (a hung server gives
    a quick error), a bounded pool whose callers wait for a free connection (up to
    ``timeout_s``) instead of failing, and the worker's `Subscriber`. A standalone server also
    gets the shared `Pipe` (no pool at all on the hot path). Over TLS (``rediss://``) the pipe
    and the subscriber share one context made from the URL as redis-py makes its own.

    Retrying is safe for every script here (acquire, renew, release and commit are idempotent
    per caller token / message id); only `append_events` could append a batch twice.
    """
    retry = Retry(ExponentialWithJitterBackoff(base=0.01, cap=1.0), retries=2)
    tls = client_context(parse_url(url))
    timeouts: dict[str, Any] = {
        "socket_timeout": timeout_s,
        "socket_connect_timeout": connect_timeout_s,
    }
    if cluster:
        lean_cluster: LeanCluster = LeanCluster.from_url(  # type: ignore[assignment]
            url,
            retry=retry,
            connection_class=PackedConnection,
            # A slot map with a shard missing (its primary failed, no promotion yet) still
            # serves every other shard; commands for the missing slots get ClusterUnavailable.
            require_full_coverage=False,
            **timeouts,
        )
        lean_cluster.subscriber = Subscriber(
            url,
            timeout_s=timeout_s,
            connect_timeout_s=connect_timeout_s,
            addresses=lambda: [(n.host, int(n.port)) for n in lean_cluster.get_nodes()],
            tls=tls,
        )
        return lean_cluster
    subscriber = Subscriber(url, timeout_s=timeout_s, connect_timeout_s=connect_timeout_s, tls=tls)
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=timeout_s,
        connection_class=PackedConnection,
        retry=retry,
        retry_on_error=[ConnectionError],
        **timeouts,
    )
    client: LeanRedis = LeanRedis.from_pool(pool)  # type: ignore[assignment]
    client.pipe = Pipe(url, timeout_s=timeout_s, connect_timeout_s=connect_timeout_s, tls=tls)
    client.subscriber = subscriber
    return client
