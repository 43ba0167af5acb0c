"""Invariant 4 against a crash of the server: a SIGKILL of the Redis-protocol server, taken at
the moment its AOF is most at risk and while the disk is busy, loses no acknowledged turn, as
`tpr-ws serve` runs it and as `deploy/redis.conf` configures it (tests/crash.py says how)."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from tests.crash import DiskPressure, lost_after_kills
from tests.harness import REPO
from tests.registry.helpers import make_registry
from tpr_ws.cli import _embedded_redis
from tpr_ws.config import Settings
from tpr_ws.embedded import EmbeddedRedis
from tpr_ws.registry.client import connect


async def _kill_three_times(server: EmbeddedRedis, busy: Path) -> tuple[int, int]:
    """Start the server, kill it three times under load with the disk busy, clean up:
    (acknowledged turns lost, turns acknowledged)."""
    server.start()
    client = connect(server.url)  # reconnects (with retries) after each restart
    try:
        registry = await make_registry(client, 2000)
        with DiskPressure(busy):
            return await lost_after_kills(server, registry, rounds=3)
    finally:
        await client.aclose()
        server.cleanup()


@pytest.mark.slow
async def test_a_kill_while_the_disk_is_busy_loses_no_acknowledged_turn(tmp_path: Path) -> None:
    server = EmbeddedRedis(data_dir=tmp_path / "redis", appendonly=True)
    lost, acked = await _kill_three_times(server, tmp_path / "busy")
    assert acked > 0
    assert lost == 0, f"{lost} of {acked} acknowledged turns lost by a kill -9 of the server"


@pytest.mark.slow
async def test_shipped_redis_conf_loses_no_acknowledged_turn_to_a_kill(tmp_path: Path) -> None:
    config = REPO / "deploy" / "redis.conf"
    server = EmbeddedRedis(data_dir=tmp_path / "redis", appendonly=True, config_file=config)
    lost, acked = await _kill_three_times(server, tmp_path / "busy")
    assert acked > 0
    assert lost == 0, f"{lost} of {acked} acknowledged turns lost by a kill -9 of the server"


def test_serve_runs_its_embedded_server_with_an_fsync_per_write(tmp_path: Path) -> None:
    # What `tpr-ws serve` starts when REDIS_URL is unset, by default and when told otherwise.
    for env, expected in (({}, "always"), ({"TPR_WS_EMBEDDED_FSYNC": "everysec"}, "everysec")):
        base = {"TPR_WS_SECRET": "s" * 32, "TPR_WS_DATA_DIR": str(tmp_path / expected)}
        server = _embedded_redis(Settings.from_env({**base, **env})).start()
        try:
            direct = redis.Redis.from_url(server.url)
            assert direct.config_get("appendfsync") == {"appendfsync": expected}
            assert direct.config_get("appendonly") == {"appendonly": "yes"}
            direct.close()
        finally:
            server.cleanup()
