"""Process-local metrics summed over the workers that share a directory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tpr_ws.metrics import Metrics


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_metrics_sum_every_worker_and_drop_dead_workers_gauges(tmp_path: Path) -> None:
    other = Metrics(str(tmp_path))  # another worker, since exited: its snapshot stays
    other.turn_finished(0.002, "committed")
    other.sockets.inc()
    other.errors.labels("bad_json").inc()
    snapshot = other.snapshot()
    (tmp_path / f"tpr-ws-{_dead_pid()}.json").write_text(json.dumps(snapshot))
    mine = Metrics(str(tmp_path))
    mine.turn_finished(0.2, "committed")
    mine.turn_finished(0.2, "fenced")
    mine.sockets.inc()
    mine.sockets.inc()
    mine.sockets.dec()
    lines = mine.render().decode().splitlines()
    assert 'tpr_ws_turns_total{outcome="committed"} 2.0' in lines
    assert 'tpr_ws_turns_total{outcome="fenced"} 1.0' in lines
    assert "tpr_ws_fenced_commits_total 1.0" in lines
    assert 'tpr_ws_client_errors_total{code="bad_json"} 1.0' in lines
    assert "tpr_ws_sockets 1.0" in lines  # the dead worker's open sockets are gone
    assert 'tpr_ws_turn_seconds_bucket{le="0.0025"} 1' in lines
    assert 'tpr_ws_turn_seconds_bucket{le="0.25"} 3' in lines
    assert "tpr_ws_turn_seconds_count 3" in lines
    assert "# TYPE tpr_ws_turn_seconds histogram" in lines


def test_metrics_of_a_single_process_without_a_directory() -> None:
    m = Metrics(None)
    m.replays.labels("events").inc()
    text = m.render().decode()
    assert 'tpr_ws_replays_total{kind="events"} 1.0' in text
    assert "tpr_ws_sockets 0.0" in text
    assert "tpr_ws_fenced_commits_total 0.0" in text
