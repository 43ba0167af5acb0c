"""Soak (and chaos) run: N virtual users looping over whole workflows, then an end check from a
full replay of every session. Prints the table; exits 1 on any violation.

    python bench/soak.py [--users 50] [--seconds 120] [--chaos] [--topology local]
    python bench/soak.py --topology hosts --users 200 --seconds 600 --chaos   # as root
    python bench/soak.py --topology cluster --durability replica --chaos --replica-lag 0.5
    python bench/soak.py --chaos --actions restart_redis --busy-disk [--redis-fsync everysec \
        --expect-loss]     # Redis killed while the disk is busy: always keeps every ack
    python bench/soak.py --topology cluster --durability none --chaos --actions kill_primary \
        --expect-loss      # counts the acknowledged turns failovers lose without durability

Topologies: `local` (instances of `tpr-ws serve` on loopback, one Redis with AOF), `hosts`
(three network-namespace hosts behind nginx running deploy/nginx.conf, one Redis; needs root),
`cluster` (instances on a Redis Cluster of 3 primaries + 3 replicas). Every step reconnects to
another instance (through nginx: wherever round robin sends it); a step's first attempt sometimes
drops its socket and resends the same message id (or upload Idempotency-Key); every third user
keeps a second tab that must see every event live. `--chaos` every few seconds: SIGKILL a worker,
SIGSTOP one past the lease, kill and restart an instance, kill and restart Redis (AOF), roll an
instance's workers (SIGHUP); `hosts` adds cutting a host off Redis, `cluster` killing a primary
(its replica stalled for --replica-lag first) instead of restarting Redis.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.crash import DiskPressure
from tests.soak.chaos import Chaos, standard_actions, wait_for
from tests.soak.check import Verdict, served_again
from tests.soak.cluster import Cluster
from tests.soak.deployment import Deployment, ServeInstance, http_ok, local_deployment
from tests.soak.hosts import Network, Nginx, hosts_deployment
from tests.soak.record import Recorder
from tests.soak.redis_ops import OpsSampler
from tests.soak.run import soak
from tests.soak.users import SoakConfig

LEASE_S = 3.0
PROMOTIONS: list[float] = []  # cluster topology: when each killed primary's replica took over


@contextlib.contextmanager
def topology(
    args: argparse.Namespace, logs: Path
) -> Iterator[tuple[Deployment, dict[str, Callable[[], None]], str | None]]:
    """The deployment, its chaos actions and the Redis URL to sample (started and stopped)."""
    rng = random.Random(args.seed)
    env = {"TPR_WS_DURABILITY": args.durability}
    if args.topology == "local":
        deployment = local_deployment(
            logs, instances=args.instances, workers=args.workers, env=env,
            appendfsync=args.redis_fsync,
        )  # fmt: skip
        deployment.start()
        try:
            assert deployment.redis is not None
            yield deployment, standard_actions(deployment, rng, LEASE_S), deployment.redis.url
        finally:
            deployment.stop()
    elif args.topology == "hosts":
        with Network(hosts=3) as net:
            nginx = Nginx(net, logs / "nginx")
            deployment = hosts_deployment(
                net, nginx, logs, workers=args.workers, appendfsync=args.redis_fsync
            )
            for instance in deployment.instances:
                instance.env.update(env)
            deployment.start()
            nginx.start()
            try:
                actions = standard_actions(deployment, rng, LEASE_S)
                actions["cut_host"] = lambda: cut_host(net, deployment, rng)
                assert deployment.redis is not None
                yield deployment, actions, deployment.redis.url
            finally:
                nginx.stop()
                deployment.stop()
    else:
        cluster = Cluster(logs / "cluster").start()
        cluster.promoted_at = PROMOTIONS
        secret = secrets.token_urlsafe(24)
        url, workers = cluster.nodes[0].url, args.workers
        made = [
            ServeInstance(f"app{i}", url, secret, logs, workers=workers, env=env)
            for i in range(args.instances)
        ]
        deployment = Deployment(made, None)
        try:
            deployment.start()
            actions = standard_actions(deployment, rng, LEASE_S)
            actions["kill_primary"] = lambda: kill_primary(cluster, rng, args.replica_lag)
            yield deployment, actions, None
        finally:
            deployment.stop()
            cluster.stop()


def cut_host(net: Network, deployment: Deployment, rng: random.Random) -> None:
    """One host loses its link to Redis for a while (nginx still reaches it)."""
    i = rng.randrange(1, net.hosts + 1)
    net.cut(i)
    time.sleep(8.0)
    net.restore(i)
    instance = deployment.instances[i - 1]
    wait_for(lambda: http_ok(instance.url + "/readyz"), 60, "the host after the cut")


def kill_primary(cluster: Cluster, rng: random.Random, lag_s: float) -> None:
    """The primary REDIS_URL names first, then any live primary."""
    live = cluster.live_primaries()
    first = cluster.nodes[0]
    cluster.kill_primary(first if first in live else rng.choice(live), lag_s=lag_s)


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--topology", choices=("local", "hosts", "cluster"), default="local")
    parser.add_argument("--chaos", action="store_true")
    parser.add_argument("--chaos-every", type=float, default=5.0)
    parser.add_argument("--actions", default="", help="comma-separated subset of the actions")
    parser.add_argument("--instances", type=int, default=2, help="local and cluster topologies")
    parser.add_argument("--workers", type=int, default=2, help="per instance")
    parser.add_argument("--durability", default="none", help="TPR_WS_DURABILITY of the workers")
    parser.add_argument(
        "--redis-fsync",
        choices=("always", "everysec"),
        default="always",
        help="local and hosts: the AOF's appendfsync (always: as tpr-ws serve runs it)",
    )
    parser.add_argument(
        "--busy-disk",
        action="store_true",
        help="keep the disk busy meanwhile (big writes + fsync next to Redis's AOF)",
    )
    parser.add_argument("--replica-lag", type=float, default=0.5, help="cluster: s, per kill")
    parser.add_argument("--stall", type=float, default=30.0, help="stall bound per step, s")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--logs", type=Path, default=None, help="keep server logs here")
    parser.add_argument(
        "--expect-loss",
        action="store_true",
        help="lost acknowledged turns are the finding, not a failure (--durability none)",
    )
    return parser.parse_args()


async def run(
    args: argparse.Namespace, deployment: Deployment, actions: dict[str, Callable[[], None]],
    redis_url: str | None,
) -> tuple[Verdict, Recorder, OpsSampler | None]:  # fmt: skip
    rec = Recorder()
    chaos = None
    if args.chaos:
        wanted = {a for a in args.actions.split(",") if a} or set(actions)
        picked = {name: act for name, act in actions.items() if name in wanted}
        chaos = Chaos(rec, picked, interval_s=args.chaos_every, seed=args.seed)
    ops = OpsSampler(redis_url) if redis_url else None
    stop = asyncio.Event()
    sampling = asyncio.create_task(ops.run(stop)) if ops else None
    try:
        verdict = await soak(
            deployment.entry_urls, users=args.users, seconds=args.seconds,
            config=SoakConfig(stall_s=args.stall), recorder=rec, chaos=chaos,
        )  # fmt: skip
    finally:
        stop.set()
        if sampling is not None:
            await sampling
    return verdict, rec, ops


def report(
    args: argparse.Namespace, verdict: Verdict, rec: Recorder, ops: OpsSampler | None
) -> None:
    chaos = f", chaos every {args.chaos_every:.0f} s" if args.chaos else ""
    fsync = args.redis_fsync if args.topology != "cluster" else "always"
    print(
        f"\nsoak: topology {args.topology}, {args.workers} workers per instance, durability "
        f"{args.durability}, appendfsync {fsync}"
        f"{', disk kept busy' if args.busy_disk else ''}, {args.seconds:.0f} s{chaos}"
    )
    print(verdict.table())
    back = sorted(rec.back_after_1001)
    if back:
        p99 = back[min(len(back) - 1, int(0.99 * len(back)))]
        print(f"reconnects after 1001: {len(back)}, p99 back in {p99:.3f} s, worst {back[-1]:.3f}s")
    after = promotion_figures(rec)
    if after:
        print(
            f"served again after a promotion: worst {max(after):.2f} s, median "
            f"{statistics.median(after):.2f} s (per kill: {', '.join(f'{a:.2f}' for a in after)};"
            " from the replica's promotion until every step the failover held up succeeded)"
        )
    if args.expect_loss:
        print(
            f"acknowledged turns lost: {verdict.lost} of {verdict.turns} in "
            f"{len(PROMOTIONS)} failovers with durability {args.durability} (expected: an ack "
            "there waits for the primary only)"
        )
    if ops is not None and ops.samples:
        print(
            f"Redis commands/s: steady {ops.median_outside(rec.windows):.0f}, peak in chaos "
            f"windows {ops.peak_in(rec.windows):.0f}, overall {max(r for _, r in ops.samples):.0f}"
        )


def promotion_figures(rec: Recorder) -> list[float]:
    """Per killed primary: seconds from its replica's promotion until every user step in
    progress during that chaos window had succeeded."""
    figures = []
    for window in rec.windows:
        promoted = [p for p in PROMOTIONS if window.started <= p <= window.ended]
        if promoted:
            back = served_again(rec, window.started, window.ended)
            figures.append(window.ended + back - promoted[0])
    return figures


def ok(args: argparse.Namespace, verdict: Verdict) -> bool:
    """The run's verdict; with --expect-loss, lost acknowledged turns alone do not fail it."""
    if not args.expect_loss:
        return verdict.ok
    others = [p for p in verdict.problems if "has no effect in the log" not in p]
    return not others and verdict.workflows > 0


def main() -> int:
    args = parse()
    with tempfile.TemporaryDirectory(prefix="tpr-soak-") as tmp:
        logs = args.logs or Path(tmp)
        logs.mkdir(parents=True, exist_ok=True)
        busy = DiskPressure(logs / "busy", max_s=args.seconds + 300) if args.busy_disk else None
        with (
            topology(args, logs) as (deployment, actions, redis_url),
            busy or contextlib.nullcontext(),
        ):
            verdict, rec, ops = asyncio.run(run(args, deployment, actions, redis_url))
    report(args, verdict, rec, ops)
    return 0 if ok(args, verdict) else 1


if __name__ == "__main__":
    raise SystemExit(main())
