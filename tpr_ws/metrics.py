"""Metrics of one worker: turns, turn latency, lease waits, fenced commits, sockets, replays,
uploads.

Instruments are plain process-local numbers (a turn costs a few dict updates, not the file
writes of prometheus_client's multiprocess mode). With a shared directory (gunicorn: the
PROMETHEUS_MULTIPROC_DIR setting), each worker writes a JSON snapshot of its numbers there every
few seconds and when asked for /metrics; /metrics sums the snapshots of every worker (a dead
worker's counters stay counted, its gauges do not) into Prometheus text.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tpr_ws import procs

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class _Child:
    __slots__ = ("_family", "_key")

    def __init__(self, family: Counter, key: str) -> None:
        self._family, self._key = family, key

    def inc(self, amount: float = 1.0) -> None:
        values = self._family.values
        values[self._key] = values.get(self._key, 0.0) + amount


class Counter:
    """A counter family; ``labels(value)`` picks one series (one label at most)."""

    kind = "counter"

    def __init__(self, name: str, doc: str, label: str | None = None) -> None:
        self.name, self.doc, self.label = name, doc, label
        self.values: dict[str, float] = {}

    def labels(self, value: str) -> _Child:
        return _Child(self, str(value))

    def inc(self, amount: float = 1.0) -> None:
        self.values[""] = self.values.get("", 0.0) + amount


class Gauge(Counter):
    """A gauge summed over live workers."""

    kind = "gauge"

    def dec(self, amount: float = 1.0) -> None:
        self.inc(-amount)


class Histogram:
    """Cumulative-bucket histogram (Prometheus semantics)."""

    kind = "histogram"

    def __init__(self, name: str, doc: str) -> None:
        self.name, self.doc = name, doc
        self.counts = [0] * (len(_LATENCY_BUCKETS) + 1)
        self.total = 0.0

    def observe(self, seconds: float) -> None:
        i = 0
        for bound in _LATENCY_BUCKETS:
            if seconds <= bound:
                break
            i += 1
        self.counts[i] += 1
        self.total += seconds


Instrument = Counter | Histogram


class Metrics:
    """The worker's instruments; also the registry's `RegistryMetrics` observer."""

    content_type = CONTENT_TYPE

    def __init__(self, multiproc_dir: str | None = None) -> None:
        self._dir = Path(multiproc_dir) if multiproc_dir else None
        self.turns = Counter("tpr_ws_turns", "Actor turns by outcome", "outcome")
        self.turn_seconds = Histogram("tpr_ws_turn_seconds", "Turn latency")
        self.lease_wait_seconds = Histogram(
            "tpr_ws_lease_wait_seconds", "Time waiting for a session lease"
        )
        self.fenced = Counter("tpr_ws_fenced_commits", "Commits rejected by the fence")
        self.sockets = Gauge("tpr_ws_sockets", "Open WebSockets")
        self.replays = Counter("tpr_ws_replays", "Reconnect replays by kind", "kind")
        self.uploads = Counter("tpr_ws_uploads", "Uploads by outcome", "outcome")
        self.uploads_in_progress = Gauge(
            "tpr_ws_uploads_receiving", "Upload bodies being received (spooled to disk)"
        )
        self.errors = Counter("tpr_ws_client_errors", "Errors sent by code", "code")
        self._all: tuple[Instrument, ...] = (
            self.turns, self.turn_seconds, self.lease_wait_seconds, self.fenced,
            self.sockets, self.replays, self.uploads, self.uploads_in_progress, self.errors,
        )  # fmt: skip

    # RegistryMetrics protocol
    def turn_finished(self, seconds: float, outcome: str) -> None:
        self.turns.labels(outcome).inc()
        self.turn_seconds.observe(seconds)
        if outcome == "fenced":
            self.fenced.inc()

    def lease_waited(self, seconds: float) -> None:
        self.lease_wait_seconds.observe(seconds)

    def snapshot(self) -> dict[str, Any]:
        """This worker's numbers, JSON-able."""
        out: dict[str, Any] = {}
        for m in self._all:
            if isinstance(m, Histogram):
                out[m.name] = {"counts": m.counts, "sum": m.total}
            else:
                out[m.name] = m.values
        return out

    def flush(self) -> None:
        """Write this worker's snapshot into the shared directory (atomically)."""
        if self._dir is None or not self._dir.is_dir():
            return
        path = self._dir / f"tpr-ws-{os.getpid()}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.snapshot()))
        tmp.replace(path)

    def render(self) -> bytes:
        """Prometheus text of this worker, or of every worker sharing the directory."""
        snapshots: list[tuple[dict[str, Any], bool]] = [(self.snapshot(), True)]
        if self._dir is not None and self._dir.is_dir():
            self.flush()
            snapshots = list(_read_snapshots(self._dir))
        return "".join(_family(m, snapshots) for m in self._all).encode()


def _read_snapshots(directory: Path) -> Iterable[tuple[dict[str, Any], bool]]:
    for path in directory.glob("tpr-ws-*.json"):
        with contextlib.suppress(OSError, ValueError):
            pid = int(path.stem.rsplit("-", 1)[1])
            yield json.loads(path.read_text()), procs.alive(pid)


def _family(m: Instrument, snapshots: list[tuple[dict[str, Any], bool]]) -> str:
    lines = [f"# HELP {m.name} {m.doc}", f"# TYPE {m.name} {m.kind}"]
    if isinstance(m, Histogram):
        counts = [0] * (len(_LATENCY_BUCKETS) + 1)
        total = 0.0
        for snap, _ in snapshots:
            data = snap.get(m.name) or {}
            for i, n in enumerate(data.get("counts", ())):
                counts[i] += n
            total += data.get("sum", 0.0)
        running = 0
        for bound, n in zip((*_LATENCY_BUCKETS, "+Inf"), counts, strict=True):
            running += n
            lines.append(f'{m.name}_bucket{{le="{bound}"}} {running}')
        lines += [f"{m.name}_count {running}", f"{m.name}_sum {total}"]
        return "\n".join(lines) + "\n"
    sums: dict[str, float] = {}
    for snap, alive in snapshots:
        if m.kind == "gauge" and not alive:
            continue
        for key, value in (snap.get(m.name) or {}).items():
            sums[key] = sums.get(key, 0.0) + value
    suffix = "_total" if m.kind == "counter" else ""
    if not sums and m.label is None:  # an unlabelled series exists from the start
        sums[""] = 0.0
    for key, value in sorted(sums.items()):
        label = f'{{{m.label}="{key}"}}' if key and m.label else ""
        lines.append(f"{m.name}{suffix}{label} {value}")
    return "\n".join(lines) + "\n"
