"""A rolling deploy under load: SIGHUP to every `tpr-ws serve` (gunicorn starts new workers,
then stops the old ones gracefully): sockets close with 1001, clients reconnect and resend by
id, nothing is lost or doubled. Printed: attempts that timed out or lost their lease, during the
deploy and before it (on a shared 2-core machine they happen without a deploy too, so they are
figures here; tests/transport/test_rolling_reload.py proves the accept gap gone by ordering)."""

from __future__ import annotations

import asyncio
import statistics
from pathlib import Path

import pytest

from tests.soak.chaos import Chaos, wait_for
from tests.soak.deployment import Deployment, ServeInstance, local_deployment
from tests.soak.record import Recorder
from tests.soak.redis_ops import OpsSampler
from tests.soak.run import soak

pytestmark = pytest.mark.slow


def deploy(deployment: Deployment) -> None:
    """A rolling deploy: one instance after the other reloads all its workers (SIGHUP)."""
    for instance in deployment.instances:
        before = set(instance.worker_pids())
        instance.roll()

        def rolled(instance: ServeInstance = instance, before: set[int] = before) -> bool:
            pids = set(instance.worker_pids())
            return len(pids) == instance.workers and not pids & before and deployment.all_ready()

        wait_for(rolled, 90, f"every worker of {instance.name} replaced")


def roll_failures(rec: Recorder) -> list[str]:
    """Failed attempts a roll should not cause: an attempt that timed out (e.g. its connection
    sat in the listen backlog while no worker accepted) or a turn that lost its lease."""
    start = min((w.started for w in rec.windows), default=0.0)
    return [
        f"{e.started - start:+.1f}..{e.ended - start:+.1f} s after the deploy began: {e.what}"
        for e in rec.errors
        if "TimeoutError" in e.what or "lease_lost" in e.what
    ]


def storm_figures(rec: Recorder, ops: OpsSampler) -> str:
    back = sorted(rec.back_after_1001)
    p99 = back[min(len(back) - 1, int(0.99 * len(back)))] if back else 0.0
    return (
        f"sockets closed with 1001: {rec.close_codes[1001]}; back after 1001: "
        f"median {statistics.median(back) if back else 0:.3f} s, p99 {p99:.3f} s, "
        f"worst {max(back, default=0):.3f} s; Redis ops/s: steady "
        f"{ops.median_outside(rec.windows):.0f}, peak during the deploy "
        f"{ops.peak_in(rec.windows):.0f}; failed attempts {len(rec.errors)}, of which "
        f"timeouts or lease_lost {len(roll_failures(rec))}"
    )


@pytest.mark.timeout(300)
async def test_rolling_reload_under_load_loses_and_doubles_nothing(tmp_path: Path) -> None:
    deployment = local_deployment(tmp_path, instances=2, workers=2)
    await asyncio.to_thread(deployment.start)
    assert deployment.redis is not None
    ops, stop = OpsSampler(deployment.redis.url), asyncio.Event()
    sampling = asyncio.create_task(ops.run(stop))
    try:
        rec = Recorder()
        chaos = Chaos(rec, {"deploy": lambda: deploy(deployment)}, interval_s=4.0)
        verdict = await soak(deployment.entry_urls, users=12, seconds=12, recorder=rec, chaos=chaos)
    finally:
        stop.set()
        await sampling
        await asyncio.to_thread(deployment.stop)
    print(verdict.table())
    print(storm_figures(rec, ops))
    assert verdict.chaos["deploy"] == 1, verdict.table()
    assert verdict.ok, verdict.table()
    assert rec.close_codes[1001] > 0  # the old workers said "going away"
    assert rec.back_after_1001  # ... and the clients came back elsewhere
    for failure in roll_failures(rec):
        print(f"  {failure}")
