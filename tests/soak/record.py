"""What a soak run records: steps, errors, chaos windows, acknowledged ids, sessions."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Step:
    """One user action carried to success (or given up): its duration and its retries."""

    name: str
    started: float
    seconds: float
    retries: int
    errors: tuple[str, ...] = ()  # what the failed attempts saw


@dataclass(frozen=True)
class Error:
    """A failed attempt: the time it started and ended, and what the client saw."""

    started: float
    ended: float
    what: str


@dataclass(frozen=True)
class Window:
    """A chaos event: from the fault until the deployment is whole again."""

    action: str
    started: float
    ended: float


@dataclass
class Session:
    """A session the soak created: its acknowledged ids and the events its tabs hold."""

    sid: str
    token: str
    acked: list[str] = field(default_factory=list)  # ids as they appear in `reply_to`
    tabs: list[list[dict[str, Any]]] = field(default_factory=list)  # events seen, per tab


@dataclass
class Recorder:
    """Shared by the users and the chaos loop of one run (single event loop: no locks)."""

    grace_s: float = 3.0
    steps: list[Step] = field(default_factory=list)
    errors: list[Error] = field(default_factory=list)
    windows: list[Window] = field(default_factory=list)
    sessions: dict[str, Session] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)
    workflows: int = 0
    resends: int = 0  # deliberate: a say or an upload sent again after a dropped socket
    downloads_checked: int = 0
    workers_seen: set[str] = field(default_factory=set)
    tab_lags: list[float] = field(default_factory=list)  # how long a tab took to see a reply
    close_codes: Counter[int | None] = field(default_factory=Counter)  # sockets the server closed
    back_after_1001: list[float] = field(default_factory=list)  # close 1001 -> next welcome
    open_windows: dict[int, tuple[str, float]] = field(default_factory=dict)

    def step(self, name: str, started: float, retries: int, errors: tuple[str, ...] = ()) -> None:
        self.steps.append(Step(name, started, time.monotonic() - started, retries, errors))

    def error(self, started: float, what: str) -> None:
        self.errors.append(Error(started, time.monotonic(), what))

    def violation(self, what: str) -> None:
        self.violations.append(what)

    def chaos_started(self, action: str) -> int:
        key = len(self.windows) + len(self.open_windows)
        self.open_windows[key] = (action, time.monotonic())
        return key

    def chaos_ended(self, key: int) -> None:
        action, started = self.open_windows.pop(key)
        self.windows.append(Window(action, started, time.monotonic()))

    def in_chaos(self, error: Error) -> bool:
        """An error whose attempt overlaps a chaos window (plus the grace after it)."""
        now = time.monotonic()
        spans = [(w.started, w.ended) for w in self.windows]
        spans += [(started, now) for _, started in self.open_windows.values()]
        return any(
            error.started <= end + self.grace_s and error.ended >= start for start, end in spans
        )
