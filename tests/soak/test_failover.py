"""Redis Cluster of 3 primaries + 3 replicas under the soak: primaries killed while their
replica lags (the one REDIS_URL names first); with TPR_WS_DURABILITY=replica no acknowledged
turn is lost and the users carry on."""

from __future__ import annotations

import asyncio
import random
import secrets
from pathlib import Path

import pytest

from tests.soak.chaos import Chaos
from tests.soak.cluster import Cluster
from tests.soak.deployment import Deployment, ServeInstance
from tests.soak.record import Recorder
from tests.soak.run import soak

pytestmark = [pytest.mark.slow, pytest.mark.cluster]


def cluster_deployment(
    cluster: Cluster, log_dir: Path, *, durability: str, instances: int = 2
) -> Deployment:
    """`tpr-ws serve` instances whose REDIS_URL names the cluster's first primary."""
    secret = secrets.token_urlsafe(24)
    env = {"TPR_WS_DURABILITY": durability}
    made = [
        ServeInstance(f"app{i}", cluster.nodes[0].url, secret, log_dir, workers=2, env=env)
        for i in range(instances)
    ]
    return Deployment(made, None)


def kill_primaries(cluster: Cluster, rng: random.Random, lag_s: float) -> dict[str, object]:
    """The chaos action: the primary REDIS_URL names first, then any primary."""
    first = cluster.nodes[0]

    def kill_primary() -> None:
        live = cluster.live_primaries()
        target = first if first in live else rng.choice(live)
        cluster.kill_primary(target, lag_s=lag_s)

    return {"kill_primary": kill_primary}


@pytest.mark.timeout(300)
async def test_primary_failovers_under_load_lose_no_acknowledged_turn(tmp_path: Path) -> None:
    cluster = await asyncio.to_thread(Cluster(tmp_path / "cluster").start)
    deployment = cluster_deployment(cluster, tmp_path, durability="replica")
    try:
        await asyncio.to_thread(deployment.start)
        rec = Recorder()
        actions = kill_primaries(cluster, random.Random(3), lag_s=0.5)
        chaos = Chaos(rec, actions, interval_s=4.0)  # type: ignore[arg-type]
        verdict = await soak(deployment.entry_urls, users=6, seconds=25, recorder=rec, chaos=chaos)
    finally:
        await asyncio.to_thread(deployment.stop)
        await asyncio.to_thread(cluster.stop)
    print(verdict.table())
    assert verdict.chaos["kill_primary"] >= 2, verdict.table()
    assert verdict.ok, verdict.table()
    assert verdict.lost == verdict.dup == verdict.gap == verdict.stall == 0
