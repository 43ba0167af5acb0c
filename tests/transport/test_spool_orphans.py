"""Spooled upload files left by a worker that died mid-upload are removed at start-up; a live
worker's files are kept."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tpr_ws.transport.spool import remove_orphans


def test_files_of_dead_workers_are_removed_and_a_live_ones_kept(tmp_path: Path) -> None:
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    dead = tmp_path / f"tpr-ws-upload-{int(gone.stdout)}-abc"
    live = tmp_path / f"tpr-ws-upload-{os.getpid()}-def"
    other = tmp_path / "unrelated-file"
    for path in (dead, live, other):
        path.write_bytes(b"x")
    assert remove_orphans(tmp_path) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, other.name])
