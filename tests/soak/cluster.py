"""A Redis Cluster of primaries and replicas (the embedded binary) for the soak, and the fault
it brings: a primary killed (optionally while its replica lags), its replica promoted, the old
primary back as a replica."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import redis

from tests.cluster import node_id, start_cluster
from tests.harness import REPO
from tests.soak.chaos import wait_for
from tpr_ws.embedded import EmbeddedRedis


@dataclass(frozen=True)
class NodeView:
    """One line of CLUSTER NODES."""

    id: str
    port: int
    primary: bool
    failed: bool
    primary_id: str  # a replica's primary ('-' for a primary)


class Cluster:
    """Started by `start()`; nodes keep their ports and data dirs across kills."""

    def __init__(self, base: Path, primaries: int = 3, *, node_timeout_ms: int = 2000) -> None:
        self.base = base
        self.primaries = primaries
        self.node_timeout_ms = node_timeout_ms
        self.nodes: list[EmbeddedRedis] = []
        self.ids: dict[int, str] = {}  # port -> node id
        self.promoted_at: list[float] = []  # monotonic time each kill's promotion was seen

    def start(self) -> Cluster:
        # The shipped node configuration (AOF, failover settings), a shorter node timeout.
        self.nodes, _ = start_cluster(
            self.base,
            self.primaries,
            replicas=1,
            appendonly=True,
            node_timeout_ms=self.node_timeout_ms,
            config_file=REPO / "deploy" / "redis-cluster.conf",
        )
        self.ids = {n.port: node_id(n) for n in self.nodes if n.port is not None}
        return self

    def stop(self) -> None:
        for node in self.nodes:
            if node.pid is not None:
                os.kill(node.pid, signal.SIGCONT)
            node.stop()

    def view(self) -> list[NodeView]:
        """CLUSTER NODES as a live node sees it."""
        for node in self.nodes:
            if not node.running:
                continue
            client = redis.Redis.from_url(node.url, socket_timeout=2)
            try:
                text = client.execute_command("CLUSTER", "NODES").decode()
            except redis.RedisError:
                continue
            finally:
                client.close()
            return [_parse(line) for line in text.splitlines() if line.strip()]
        raise RuntimeError("no cluster node answers")

    def node(self, port: int) -> EmbeddedRedis:
        return next(n for n in self.nodes if n.port == port)

    def live_primaries(self) -> list[EmbeddedRedis]:
        return [self.node(v.port) for v in self.view() if v.primary and not v.failed]

    def replica_of(self, primary: EmbeddedRedis) -> EmbeddedRedis:
        pid = self.ids[primary.port or 0]
        return next(self.node(v.port) for v in self.view() if v.primary_id == pid)

    def kill_primary(self, primary: EmbeddedRedis, *, lag_s: float = 0.0) -> None:
        """SIGKILL `primary` (its replica first stalled for `lag_s`: writes acknowledged on
        the primary meanwhile never reach it), wait for the promotion, bring the old primary
        back as a replica."""
        replica = self.replica_of(primary)
        assert replica.pid is not None
        if lag_s:
            os.kill(replica.pid, signal.SIGSTOP)
            time.sleep(lag_s)
        primary.kill()
        if lag_s:
            os.kill(replica.pid, signal.SIGCONT)
        replica_id = self.ids[replica.port or 0]
        wait_for(
            lambda: any(v.id == replica_id and v.primary for v in self.view()),
            60,
            "the replica's promotion",
        )
        self.promoted_at.append(time.monotonic())
        primary.start()  # same port and nodes.conf: it rejoins as the new primary's replica
        wait_for(lambda: self._synced(primary), 60, "the old primary as a replica")

    def _synced(self, node: EmbeddedRedis) -> bool:
        client = redis.Redis.from_url(node.url, socket_timeout=2)
        try:
            info = client.info("replication")
            ok = client.execute_command("CLUSTER", "INFO").decode()
        except redis.RedisError:
            return False
        finally:
            client.close()
        return info.get("master_link_status") == "up" and "cluster_state:ok" in ok


def _parse(line: str) -> NodeView:
    fields = line.split()
    flags = fields[2].split(",")
    port = int(fields[1].split("@")[0].rsplit(":", 1)[1])
    return NodeView(fields[0], port, "master" in flags, "fail" in flags, fields[3])
