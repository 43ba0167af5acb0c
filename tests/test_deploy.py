"""deploy/ as shipped: the Redis configurations run for real, the systemd unit reloads with
SIGHUP (what tests/soak/test_rolling.py does to `tpr-ws serve`). nginx.conf:
tests/soak/test_hosts.py and tests/transport/test_nginx.py; the cluster under failovers:
tests/soak/test_failover.py."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from tests.harness import REPO
from tests.registry.counter import count_of
from tests.registry.helpers import counter, make_registry
from tpr_ws.embedded import EmbeddedRedis
from tpr_ws.registry.client import connect
from tpr_ws.registry.durability import Durability, Policy

DEPLOY = REPO / "deploy"


async def test_shipped_redis_conf_keeps_every_acknowledged_turn_across_a_kill(
    tmp_path: Path,
) -> None:
    server = EmbeddedRedis(data_dir=tmp_path, appendonly=True, config_file=DEPLOY / "redis.conf")
    server.start()
    client = connect(server.url)
    try:
        direct = redis.Redis.from_url(server.url)
        assert direct.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
        direct.close()
        registry = await make_registry(client, 5000)
        registry.durability = Durability(client, registry.storage.keys, Policy(False, True, 3000))
        await registry.durability.check()  # the AOF is on: WAITAOF can be honoured
        for i in range(5):
            await registry.run("s", f"m{i}", counter(f"m{i}"))
        server.kill()  # SIGKILL: no clean shutdown, no final fsync
        server.start()
        assert count_of(await registry.storage.load_state("s")) == 5
    finally:
        await client.aclose()
        server.cleanup()


def test_shipped_cluster_conf_starts_a_cluster_node(tmp_path: Path) -> None:
    node = EmbeddedRedis(
        data_dir=tmp_path, cluster_enabled=True, config_file=DEPLOY / "redis-cluster.conf"
    )
    node.start()
    direct = redis.Redis.from_url(node.url)
    try:
        assert direct.info("cluster")["cluster_enabled"] == 1
        coverage = direct.config_get("cluster-require-full-coverage")
        assert coverage["cluster-require-full-coverage"] == "no"
        # redis.conf, included by the cluster file
        assert direct.config_get("maxmemory-policy")["maxmemory-policy"] == "noeviction"
    finally:
        direct.close()
        node.cleanup()


def _unit() -> configparser.ConfigParser:
    unit = configparser.ConfigParser(interpolation=None, strict=False)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(DEPLOY / "systemd" / "tpr-ws.service")
    return unit


def test_systemd_unit_serves_and_reloads_with_sighup(tmp_path: Path) -> None:
    service = _unit()["Service"]
    assert service["ExecStart"].endswith("/bin/tpr-ws serve")
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"  # serve forwards it to gunicorn
    assert service["KillSignal"] == "SIGTERM" and service["KillMode"] == "mixed"
    if shutil.which("systemd-analyze") is None:
        return  # the unit's syntax is checked where systemd is installed
    local = tmp_path / "tpr-ws.service"
    prefix = str(Path(sys.executable).parent.parent)  # this venv stands for /opt/tpr-ws/venv
    text = (DEPLOY / "systemd" / "tpr-ws.service").read_text()
    local.write_text(text.replace("/opt/tpr-ws/venv", prefix))
    checked = subprocess.run(
        ["systemd-analyze", "verify", str(local)], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0 and not checked.stderr.strip(), checked.stderr


@pytest.mark.parametrize("name", ["docker-compose.yml", "README.md", "tpr-ws.env"])
def test_reference_files_exist(name: str) -> None:
    found = list(DEPLOY.rglob(name))
    assert found and found[0].read_text().strip()
