"""The embedded server is real, restartable with AOF, and its fixtures work."""

from __future__ import annotations

from pathlib import Path

import redis

from tests.conftest import RedisFactory
from tpr_ws.embedded import EmbeddedRedis, find_server_binary


def test_binary_is_a_real_server() -> None:
    assert find_server_binary().name in {"valkey-server", "redis-server"}


def test_aof_keeps_keys_across_restart(tmp_path: Path) -> None:
    with EmbeddedRedis(data_dir=tmp_path, appendonly=True) as server:
        pid = server.pid
        client = redis.Redis.from_url(server.url)
        client.set("k", "v")
        client.close()
        server.stop()
        assert not server.running
        server.start()
        assert server.pid != pid
        client = redis.Redis.from_url(server.url)
        assert client.get("k") == b"v"
        client.close()


async def test_factory_gives_flushed_server(redis_factory: RedisFactory) -> None:
    client = redis_factory()
    assert await client.dbsize() == 0
    await client.set("x", 1)
    assert await client.get("x") == b"1"
