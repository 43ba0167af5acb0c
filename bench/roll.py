"""The accept gap of a rolling reload: one `tpr-ws serve`, a probe opening a fresh connection to
/healthz every few milliseconds, SIGHUP, and how long the probes made after it waited.

    python bench/roll.py [--rolls 3] [--workers 2] [--every-ms 25]

Printed per roll, next to the probes of the same run before the SIGHUP (the baseline): the
slowest probe made after the SIGHUP, how many waited over 1 s, the time from SIGHUP to the
first answer of a new worker and to the old workers' exit. A probe that waits is a client
whose connection sits in the listen backlog while no worker accepts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.soak.chaos import wait_for
from tests.soak.deployment import ServeInstance
from tpr_ws.embedded import EmbeddedRedis


@dataclass(frozen=True)
class Probe:
    sent: float
    seconds: float
    worker: str  # who answered ("" when the answer does not say, or none came)


async def probe(host: str, port: int, timeout: float) -> tuple[float, str]:
    """One fresh connection, GET /healthz: its duration and the worker that answered."""
    began = time.monotonic()
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(b"GET /healthz HTTP/1.0\r\nHost: bench\r\n\r\n")
            raw = await reader.read()
            writer.close()
    except (OSError, TimeoutError):
        return time.monotonic() - began, ""
    body = raw.split(b"\r\n\r\n", 1)[-1]
    try:
        worker = str(json.loads(body).get("worker", ""))
    except ValueError:
        worker = ""
    return time.monotonic() - began, worker


async def probing(host: str, port: int, every_s: float, stop: asyncio.Event) -> list[Probe]:
    """A probe every `every_s` until `stop`, each on its own connection (none waits for another)."""
    tasks: list[tuple[float, asyncio.Task[tuple[float, str]]]] = []
    while not stop.is_set():
        tasks.append((time.monotonic(), asyncio.create_task(probe(host, port, 30.0))))
        await asyncio.sleep(every_s)
    done = [(sent, await task) for sent, task in tasks]
    return [Probe(sent, seconds, worker) for sent, (seconds, worker) in done]


def _rolled(instance: ServeInstance, before: set[int]) -> bool:
    pids = set(instance.worker_pids())
    return len(pids) == instance.workers and not pids & before


async def one_roll(instance: ServeInstance, every_s: float) -> dict[str, float]:
    """Probes for 2 s, SIGHUP, probes until the roll is over (+1 s): the figures."""
    stop = asyncio.Event()
    task = asyncio.create_task(probing(instance.host, instance.port, every_s, stop))
    await asyncio.sleep(2.0)
    before = set(instance.worker_pids())
    old = {f":{pid}" for pid in before}
    hup = time.monotonic()
    instance.roll()
    await asyncio.to_thread(wait_for, lambda: _rolled(instance, before), 90, "the roll")
    gone = time.monotonic() - hup
    await asyncio.sleep(1.0)
    stop.set()
    probes = await task
    base = [p.seconds for p in probes if p.sent < hup]
    after = [p for p in probes if p.sent >= hup]
    new = [
        p.sent + p.seconds - hup for p in after if p.worker and not p.worker.endswith(tuple(old))
    ]
    return {
        "baseline p50 ms": 1000 * statistics.median(base),
        "after: worst s": max(p.seconds for p in after),
        "after: waited >1 s": float(sum(p.seconds > 1.0 for p in after)),
        "probes after": float(len(after)),
        "first new worker s": min(new, default=float("nan")),
        "old workers gone s": gone,
    }


async def main_async(args: argparse.Namespace, logs: Path) -> list[dict[str, float]]:
    redis = EmbeddedRedis(data_dir=logs / "redis").start()
    instance = ServeInstance("roll", redis.url, secrets.token_urlsafe(24), logs, args.workers)
    try:
        instance.launch()
        await asyncio.to_thread(instance.wait_ready)
        rows = []
        for _ in range(args.rolls):
            rows.append(await one_roll(instance, args.every_ms / 1000))
            await asyncio.to_thread(instance.wait_ready)
        return rows
    finally:
        instance.stop()
        redis.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rolls", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--every-ms", type=float, default=25.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tpr-roll-") as tmp:
        rows = asyncio.run(main_async(args, Path(tmp)))
    names = list(rows[0])
    print(" | ".join(f"{n:>18}" for n in ["roll", *names]))
    for i, row in enumerate(rows, 1):
        print(" | ".join([f"{i:>18}", *(f"{row[n]:>18.3f}" for n in names)]))
    medians = [statistics.median(r[n] for r in rows) for n in names]
    print(" | ".join([f"{'median':>18}", *(f"{m:>18.3f}" for m in medians)]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
