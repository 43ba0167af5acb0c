"""A local 3-master Redis Cluster of embedded servers, for the `cluster` tests."""

from __future__ import annotations

import time
from pathlib import Path

import redis

from tpr_ws.embedded import EmbeddedRedis
from tpr_ws.errors import StorageUnavailable


def start_cluster(
    base_dir: Path | str, masters: int = 3, *, appendonly: bool = False
) -> tuple[list[EmbeddedRedis], str]:
    """Start `masters` cluster-enabled nodes, join them, and wait for cluster_state:ok."""
    base = Path(base_dir)
    nodes = [
        EmbeddedRedis(data_dir=base / f"node{i}", appendonly=appendonly, cluster_enabled=True)
        for i in range(masters)
    ]
    try:
        for node in nodes:
            node.start()
        _join_cluster(nodes)
        _wait_cluster_ok(nodes)
    except BaseException:
        for node in nodes:
            node.stop()
        raise
    return nodes, nodes[0].url


def _join_cluster(nodes: list[EmbeddedRedis]) -> None:
    # What `valkey-cli --cluster create` does, without its one-second polling: split the
    # 16384 slots into even ranges, one per master, and introduce every node to the first.
    per = 16384 // len(nodes)
    first = nodes[0]
    for i, node in enumerate(nodes):
        low, high = i * per, (16383 if i == len(nodes) - 1 else (i + 1) * per - 1)
        client = redis.Redis.from_url(node.url, socket_timeout=5)
        try:
            client.cluster("ADDSLOTSRANGE", low, high)
            if node is not first:
                client.cluster("MEET", "127.0.0.1", first.port)
        finally:
            client.close()


def _wait_cluster_ok(nodes: list[EmbeddedRedis]) -> None:
    # Every node must see every slot assigned (cluster_state:ok) and know every other node.
    deadline = time.monotonic() + 30
    for node in nodes:
        client = redis.Redis.from_url(node.url, socket_timeout=1)
        try:
            while True:
                info = client.cluster("INFO")
                known = int(info.get("cluster_known_nodes", 0))
                if str(info.get("cluster_state")) == "ok" and known == len(nodes):
                    break
                if time.monotonic() > deadline:
                    raise StorageUnavailable("cluster did not reach cluster_state:ok")
                # Gossip converges in well under a second; this wait happens once, at startup.
                time.sleep(0.05)
        finally:
            client.close()
