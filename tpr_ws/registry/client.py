"""Redis client plumbing for the registry: the packed connection, scripts by SHA, connect."""

from __future__ import annotations

import hashlib
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import Connection
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.connection import HiredisRespSerializer
from redis.exceptions import ConnectionError, NoScriptError, TimeoutError

RedisClient = Redis | RedisCluster


class PackedConnection(Connection):
    """An asyncio connection that packs commands with hiredis (in C), as redis-py's blocking
    client does; its asyncio client packs in Python, which costs more than a turn's Lua."""

    _serializer = HiredisRespSerializer()

    def pack_command(self, *args: Any) -> list[bytes]:
        return self._serializer.pack(*args)  # type: ignore[no-any-return]


class Script:
    """A Lua script run by EVALSHA, loaded again after NOSCRIPT (a restarted server).

    What redis-py's Script objects do, without their per-call argument copying and imports:
    every turn runs two of these.
    """

    def __init__(self, redis: RedisClient, text: str) -> None:
        self._redis = redis
        self._text = text
        self.sha = hashlib.sha1(text.encode()).hexdigest()

    async def __call__(self, keys: list[bytes], args: list[Any]) -> Any:
        try:
            return await self._redis.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            self.sha = await self._redis.script_load(self._text)
            return await self._redis.evalsha(self.sha, len(keys), *keys, *args)


def connect(url: str, *, cluster: bool = False) -> RedisClient:
    """A client for Storage: bytes replies, and reconnect-and-retry on a dropped connection.

    Retrying is safe for every script here (acquire, renew, release and commit are idempotent
    per caller token / message id); only `append_events` could append a batch twice.
    """
    retry = Retry(ExponentialWithJitterBackoff(base=0.01, cap=1.0), retries=5)
    if cluster:
        return RedisCluster.from_url(url, retry=retry, connection_class=PackedConnection)
    return Redis.from_url(
        url,
        retry=retry,
        retry_on_error=[ConnectionError, TimeoutError],
        health_check_interval=30,
        connection_class=PackedConnection,
    )
