"""Prometheus metrics of one worker: turns, turn latency, lease waits, fenced commits,
sockets, replays. With PROMETHEUS_MULTIPROC_DIR set (gunicorn), /metrics aggregates workers."""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Metrics:
    """The worker's instruments; also the registry's `RegistryMetrics` observer."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self, multiproc_dir: str | None = None) -> None:
        self._multiproc_dir = multiproc_dir
        self.registry = CollectorRegistry()
        r = self.registry
        self.turns = Counter("tpr_ws_turns", "Actor turns by outcome", ["outcome"], registry=r)
        self.turn_seconds = Histogram(
            "tpr_ws_turn_seconds", "Turn latency", buckets=_LATENCY_BUCKETS, registry=r
        )
        self.lease_wait_seconds = Histogram(
            "tpr_ws_lease_wait_seconds",
            "Time waiting for a session lease",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.fenced = Counter("tpr_ws_fenced_commits", "Commits rejected by the fence", registry=r)
        self.sockets = Gauge(
            "tpr_ws_sockets", "Open WebSockets", registry=r, multiprocess_mode="livesum"
        )
        self.replays = Counter("tpr_ws_replays", "Reconnect replays by kind", ["kind"], registry=r)
        self.uploads = Counter("tpr_ws_uploads", "Uploads by outcome", ["outcome"], registry=r)
        self.errors = Counter("tpr_ws_client_errors", "Errors sent by code", ["code"], registry=r)

    # RegistryMetrics protocol
    def turn_finished(self, seconds: float, outcome: str) -> None:
        self.turns.labels(outcome).inc()
        self.turn_seconds.observe(seconds)
        if outcome == "fenced":
            self.fenced.inc()

    def lease_waited(self, seconds: float) -> None:
        self.lease_wait_seconds.observe(seconds)

    def render(self) -> bytes:
        if self._multiproc_dir and os.path.isdir(self._multiproc_dir):
            merged = CollectorRegistry()
            multiprocess.MultiProcessCollector(merged, path=self._multiproc_dir)  # type: ignore[no-untyped-call]
            return generate_latest(merged)
        return generate_latest(self.registry)
