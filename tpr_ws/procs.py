"""Processes by pid: files named after the process that wrote them (metrics snapshots, spooled
uploads) are cleaned up once that process is gone."""

from __future__ import annotations

import os


def alive(pid: int) -> bool:
    """Whether a process with this pid exists (one of another user counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
