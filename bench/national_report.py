"""What bench/national.py measures, and how bench/chat.py prints it: latencies per phase
(medians of the runs) against the targets, and worker memory against the caches' bound."""

from __future__ import annotations

import inspect
import statistics
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from tpr_ws import analyses
from tpr_ws.datasets import DatasetStore
from tpr_ws.domain.blob import decode_dataset
from tpr_ws.domain.ward_sums import decode_ward_sums
from tpr_ws.registry.keys import KeySpace

WARM_MS, COLD_MS = 50.0, 200.0
# A worker's one-off growth, whatever the datasets: code paths used for the first time (the rows
# path's decoding, its sums building) and the malloc arenas of its thread pool's threads.
ONE_OFF_MB = 64.0


@dataclass
class Phase:
    """The choice changes of one phase of one run."""

    latencies: list[float] = field(default_factory=list)  # seconds
    errors: int = 0
    cpu_s: float = 0.0  # the server's processes, over the phase
    seconds: float = 0.0


@dataclass
class WorkerMemory:
    """One gunicorn worker of a fresh server: kB before the national users, after the cold
    phase (its datasets loaded), at the end, and its peak."""

    pid: int
    before_kb: int = 0
    loaded_kb: int = 0
    end_kb: int = 0
    peak_kb: int = 0
    sums: int = 0  # national datasets it met
    rows: int = 0  # ... of which it decoded every row (no sums stored)


@dataclass
class Run:
    floor_one: Phase
    floor_all: Phase
    cold: Phase
    rows: Phase
    warm_one: Phase
    warm_all: Phase
    memory: list[WorkerMemory]


@dataclass
class Report:
    uploads_s: list[float]
    setup_kb: tuple[int, int]  # the setup server's largest worker VmRSS before/after uploads
    runs: list[Run] = field(default_factory=list)
    sums_mb: float = 0.0  # one dataset's sums, decoded (Python allocations, traced)
    rows_mb: float = 0.0  # one dataset's rows, decoded


def rss_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak) of a process, in kB (zeros if it is gone)."""
    out = {"VmRSS": 0, "VmHWM": 0}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in out:
                out[name] = int(value.split()[0])
    except OSError:
        pass
    return out


def cache_bounds() -> dict[str, int]:
    """How many decoded sums, decoded datasets and result objects one worker keeps at most."""
    params = inspect.signature(DatasetStore.__init__).parameters
    return {
        "sums": int(params["sums_cache_size"].default),
        "datasets": int(params["cache_size"].default),
        "results": analyses.CACHE_SIZE,
    }


def _traced_mb(load: Callable[[], Any]) -> float:
    tracemalloc.start()
    try:
        kept = load()
        size = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    del kept
    return size / 1e6


def dataset_sizes(client: redis.Redis, key: str) -> tuple[float, float]:
    """MB one dataset holds once decoded in a worker: its per-ward sums, and its rows (the
    larger of the traced allocations and pandas' deep count: Arrow's own pool is not traced)."""
    keys = KeySpace()
    sums, blob = client.get(keys.blob_sums(key)), client.get(keys.blob(key))
    assert isinstance(sums, bytes) and isinstance(blob, bytes)
    decode_ward_sums(sums)  # first calls import and cache what every later one shares
    deep = float(decode_dataset(blob).memory_usage(deep=True).sum()) / 1e6
    rows = max(deep, _traced_mb(lambda: decode_dataset(blob)))
    return _traced_mb(lambda: decode_ward_sums(sums)), rows


def pct(values: list[float], q: float) -> float:
    """The q-quantile of seconds, in ms (0 if none)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0


def _row(name: str, phases: list[Phase], target: float | None) -> dict[str, float]:
    """Print one phase's medians over the runs; return them."""
    row = {q: statistics.median(pct(p.latencies, v) for p in phases)
           for q, v in (("p50", 0.5), ("p99", 0.99), ("max", 1.0))}  # fmt: skip
    n = statistics.median(len(p.latencies) for p in phases)
    cpu = statistics.median(p.cpu_s * 1000 / max(len(p.latencies), 1) for p in phases)
    rate = statistics.median(len(p.latencies) / p.seconds if p.seconds else 0 for p in phases)
    errors = sum(p.errors for p in phases)
    cpu_s = f"{cpu:>7.2f}" if any(p.cpu_s for p in phases) else f"{'-':>7}"
    goal = f"<= {target:.0f}" if target else ""
    verdict = "" if target is None else ("ok" if row["p99"] <= target else "MISSED")
    print(f"  {name:<40} {n:>5.0f} {row['p50']:>7.1f} {row['p99']:>7.1f} {row['max']:>7.1f} "
          f"{cpu_s} {rate:>6.0f} {errors:>4} {goal:>7} {verdict}")  # fmt: skip
    return row


def _ratio(name: str, a: dict[str, float], b: dict[str, float]) -> None:
    if a["p50"] and b["p50"]:
        print(f"  {name}: p50 x{a['p50'] / b['p50']:.2f}, p99 x{a['p99'] / b['p99']:.2f}")


def print_report(report: Report, users: int, changes: int) -> None:
    """The latency table (medians of the runs), the ratios, and worker memory."""
    runs, up = report.runs, sorted(report.uploads_s)
    before, after = (kb / 1024 for kb in report.setup_kb)
    print(f"  uploads: {len(up)} files, {statistics.median(up):.1f} s median, {up[-1]:.1f} s max "
          f"(parse, sums, first turn); setup server's largest worker RSS {before:.0f} MB "
          f"before, {after:.0f} MB after")  # fmt: skip
    print(f"  {'choice changes (medians of ' + str(len(runs)) + ' runs)':<40} {'n':>5} "
          f"{'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'CPU ms':>7} {'chg/s':>6} {'err':>4} "
          f"{'target':>7}")  # fmt: skip
    print("  one user at a time:")
    floor = _row(f"floor: small file, warm (x{changes} each)", [r.floor_one for r in runs], None)
    warm = _row(f"national, warm (x{changes} each)", [r.warm_one for r in runs], WARM_MS)
    cold = _row("national, cold: sums (1st on fresh)", [r.cold for r in runs], COLD_MS)
    rows = _row("national, cold: no sums stored (rows)", [r.rows for r in runs], None)
    print(f"  {users} users at once, closed loop:")
    floor_all = _row(f"floor: small files (x{changes} each)", [r.floor_all for r in runs], None)
    warm_all = _row(f"national, warm (x{changes} each)", [r.warm_all for r in runs], None)
    _ratio("national warm / small-file floor, one at a time", warm, floor)
    _ratio("national cold / warm, one at a time", cold, warm)
    _ratio("cold: no sums stored (rows path) / sums", rows, cold)
    _ratio(f"national / floor, {users} at once", warm_all, floor_all)
    print_memory(report)


def print_memory(report: Report) -> None:
    """Each worker of the last run's fresh server, and the most its caches may hold."""
    limits = cache_bounds()
    print(f"  worker memory (last run's fresh server); caches per worker: <= {limits['sums']} "
          f"datasets' sums ({report.sums_mb:.1f} MB each decoded), <= {limits['datasets']} "
          f"decoded datasets (rows path only, {report.rows_mb:.0f} MB each), <= "
          f"{limits['results']} result objects")  # fmt: skip
    cap = limits["sums"] * report.sums_mb + limits["datasets"] * report.rows_mb + ONE_OFF_MB
    print(f"  {'worker':>8} {'sums':>5} {'rows':>5} {'before':>7} {'loaded':>7} {'end':>7} "
          f"{'peak':>7} {'warm +':>7} {'bound':>7}  (MB; warm + = end - loaded, after 2 x "
          f"changes per user; bound = before + full caches + {ONE_OFF_MB:.0f} MB one-off = "
          f"before + {cap:.0f} MB)")  # fmt: skip
    for w in report.runs[-1].memory:
        mb = [x / 1024 for x in (w.before_kb, w.loaded_kb, w.end_kb, w.peak_kb)]
        bound = mb[0] + cap
        verdict = "ok" if mb[3] <= bound else "OVER"
        print(f"  {w.pid:>8} {w.sums:>5} {w.rows:>5} {mb[0]:>7.0f} {mb[1]:>7.0f} {mb[2]:>7.0f} "
              f"{mb[3]:>7.0f} {mb[2] - mb[1]:>7.0f} {bound:>7.0f}  {verdict}")  # fmt: skip
