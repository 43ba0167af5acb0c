"""A local Redis Cluster of embedded servers, for the `cluster` tests: primaries, and
optionally replicas of each (the failover tests)."""

from __future__ import annotations

import time
from pathlib import Path

import redis

from tpr_ws.embedded import EmbeddedRedis
from tpr_ws.errors import StorageUnavailable


def start_cluster(
    base_dir: Path | str,
    masters: int = 3,
    *,
    replicas: int = 0,
    appendonly: bool = False,
    node_timeout_ms: int = 5000,
    config_file: Path | None = None,
) -> tuple[list[EmbeddedRedis], str]:
    """Start `masters` cluster-enabled primaries (and `replicas` replicas of each), join them,
    and wait for cluster_state:ok with every replica's link up. Nodes: primaries first, then
    the replicas of primary 0, of primary 1, ..."""
    base = Path(base_dir)
    # A replica's first sync starts at once (no 5 s wait for other replicas to join it).
    extra = {"cluster-node-timeout": str(node_timeout_ms), "repl-diskless-sync-delay": "0"}
    nodes = [
        EmbeddedRedis(
            data_dir=base / f"node{i}",
            appendonly=appendonly,
            cluster_enabled=True,
            extra=extra,
            config_file=config_file,
        )
        for i in range(masters * (1 + replicas))
    ]
    try:
        for node in nodes:
            node.start()
        _join_cluster(nodes[:masters], nodes)
        _wait_cluster_ok(nodes)
        for i, replica in enumerate(nodes[masters:]):
            _cluster(replica, "REPLICATE", node_id(nodes[i // replicas]))
        for replica in nodes[masters:]:
            _wait_synced(replica)
        _wait_cluster_ok(nodes)
    except BaseException:
        for node in nodes:
            node.stop()
        raise
    return nodes, nodes[0].url


def node_id(node: EmbeddedRedis) -> str:
    """The cluster node id of a running node."""
    return str(_cluster(node, "MYID").decode())


def _cluster(node: EmbeddedRedis, *args: object) -> object:
    client = redis.Redis.from_url(node.url, socket_timeout=5)
    try:
        return client.cluster(*args)  # type: ignore[arg-type]
    finally:
        client.close()


def _join_cluster(masters: list[EmbeddedRedis], nodes: list[EmbeddedRedis]) -> None:
    # What `valkey-cli --cluster create` does, without its one-second polling: split the
    # 16384 slots into even ranges, one per master, and introduce every node to the first.
    per = 16384 // len(masters)
    first = nodes[0]
    for i, node in enumerate(nodes):
        if i < len(masters):
            low, high = i * per, (16383 if i == len(masters) - 1 else (i + 1) * per - 1)
            _cluster(node, "ADDSLOTSRANGE", low, high)
        if node is not first:
            _cluster(node, "MEET", first.host, first.port)


def _wait_synced(replica: EmbeddedRedis) -> None:
    client = redis.Redis.from_url(replica.url, socket_timeout=5)
    try:
        deadline = time.monotonic() + 30
        while client.info("replication").get("master_link_status") != "up":
            if time.monotonic() > deadline:
                raise StorageUnavailable("replica did not sync with its primary")
            time.sleep(0.05)  # a first sync of an empty primary: once, at startup
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
