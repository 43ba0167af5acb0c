"""The soak's short form: users looping over whole workflows while every chaos action strikes
once (a SIGKILLed worker, a worker SIGSTOPped past the lease, a killed and restarted instance,
Redis killed and restarted from its AOF, all workers of an instance rolled by SIGHUP)."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from tests.soak.chaos import Chaos, standard_actions
from tests.soak.deployment import SOAK_ENV, local_deployment
from tests.soak.record import Recorder
from tests.soak.run import soak

pytestmark = pytest.mark.slow

ACTIONS = {"kill_worker", "stop_worker", "restart_instance", "restart_redis", "roll"}


@pytest.mark.timeout(300)
async def test_workflows_survive_every_chaos_action_with_nothing_lost(tmp_path: Path) -> None:
    deployment = local_deployment(tmp_path, instances=2, workers=2)
    await asyncio.to_thread(deployment.start)
    try:
        rec = Recorder()
        lease_s = int(SOAK_ENV["TPR_WS_LEASE_TTL_MS"]) / 1000
        actions = standard_actions(deployment, random.Random(7), lease_s=lease_s)
        chaos = Chaos(rec, actions, interval_s=2.0, seed=7)
        verdict = await soak(deployment.entry_urls, users=6, seconds=20, recorder=rec, chaos=chaos)
    finally:
        await asyncio.to_thread(deployment.stop)
    print(verdict.table())
    assert set(verdict.chaos) == ACTIONS, verdict.table()
    assert verdict.ok, verdict.table()
    assert verdict.lost == verdict.dup == verdict.gap == verdict.stall == 0
    assert verdict.workflows >= 6 and verdict.downloads_checked >= 12
    assert verdict.resends > 0 and verdict.errors_in_chaos > 0  # the faults were felt
