"""The chaos loop: every few seconds one fault, held until the deployment is whole again."""

from __future__ import annotations

import asyncio
import random
import signal
import time
from collections.abc import Callable, Mapping

from tests.soak.deployment import Deployment, ServeInstance
from tests.soak.record import Recorder

Action = Callable[[], None]


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll a process-level condition (no event exists to wait on across processes)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"chaos: {what} not back after {timeout} s")
        time.sleep(0.1)


def _whole(instance: ServeInstance, gone: set[int]) -> Callable[[], bool]:
    def check() -> bool:
        pids = set(instance.worker_pids())
        return len(pids) == instance.workers and not pids & gone and _ready(instance)

    return check


def _ready(instance: ServeInstance) -> bool:
    from tests.soak.deployment import http_ok

    return http_ok(instance.url + "/readyz")


def standard_actions(
    deployment: Deployment, rng: random.Random, lease_s: float
) -> dict[str, Action]:
    """The five faults of the soak, each returning once the deployment has recovered."""

    def pick() -> ServeInstance:
        return rng.choice(deployment.instances)

    def kill_worker() -> None:
        instance = pick()
        pid = rng.choice(instance.worker_pids())
        instance.signal_worker(pid, signal.SIGKILL)
        wait_for(_whole(instance, {pid}), 90, "a killed worker")

    def stop_worker() -> None:
        # Past the lease: a turn it held is taken over, and its late commit must be fenced.
        instance = pick()
        pid = rng.choice(instance.worker_pids())
        instance.signal_worker(pid, signal.SIGSTOP)
        time.sleep(lease_s + 1.0)
        instance.signal_worker(pid, signal.SIGCONT)

    def restart_instance() -> None:
        instance = pick()
        instance.kill()
        instance.launch()
        instance.wait_ready()

    def restart_redis() -> None:
        assert deployment.redis is not None
        deployment.redis.kill()
        deployment.redis.start()  # same port and data dir: the AOF brings every key back
        wait_for(deployment.all_ready, 90, "every instance after a Redis restart")

    def roll() -> None:
        instance = pick()
        before = set(instance.worker_pids())
        instance.roll()
        wait_for(_whole(instance, before), 90, "a rolled instance")

    actions = {
        "kill_worker": kill_worker,
        "stop_worker": stop_worker,
        "restart_instance": restart_instance,
        "roll": roll,
    }
    if deployment.redis is not None:
        actions["restart_redis"] = restart_redis
    return actions


class Chaos:
    """Runs one random action every `interval_s` seconds until the deadline."""

    def __init__(
        self,
        recorder: Recorder,
        actions: Mapping[str, Action],
        *,
        interval_s: float = 5.0,
        seed: int = 0,
    ) -> None:
        self.rec = recorder
        self.actions = dict(actions)
        self.interval_s = interval_s
        self.rng = random.Random(seed)
        self.failures: list[str] = []
        self.doing = "idle"

    async def run(self, deadline: float) -> None:
        """Until the deadline, and at least until every action has run once."""
        names = sorted(self.actions)
        order = names[:]  # every action once first, then at random
        self.rng.shuffle(order)
        while order or time.monotonic() + self.interval_s < deadline:
            await asyncio.sleep(self.interval_s)
            name = order.pop() if order else self.rng.choice(names)
            key = self.rec.chaos_started(name)
            self.doing = f"{name} since {time.monotonic():.1f}"
            try:
                await asyncio.to_thread(self.actions[name])
            except Exception as exc:  # a fault that never healed fails the run
                self.rec.violation(f"chaos {name}: {exc}")
            finally:
                self.rec.chaos_ended(key)
                self.doing = f"idle since {time.monotonic():.1f}"
