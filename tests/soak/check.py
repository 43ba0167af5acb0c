"""The end check of a soak run, from a full replay of every session, and its table."""

from __future__ import annotations

import asyncio
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from tests.harness import ChatClient
from tests.soak.record import Error, Recorder, Session

USER_STEPS = frozenset({"create", "say", "upload", "download"})


@dataclass
class Verdict:
    """The run's figures; `ok` is False on any violation."""

    users: int
    workflows: int = 0
    turns: int = 0
    steps: int = 0
    p50_s: float = 0.0
    p99_s: float = 0.0
    worst_s: float = 0.0
    retries: int = 0
    resends: int = 0
    chaos: Counter[str] = field(default_factory=Counter)
    lost: int = 0
    dup: int = 0
    gap: int = 0
    stall: int = 0
    tab: int = 0
    download: int = 0
    errors_in_chaos: int = 0
    errors_outside: int = 0
    downloads_checked: int = 0
    workers_seen: int = 0
    tab_lag_p99_s: float = 0.0
    back_s: list[float] = field(default_factory=list)  # per chaos window, see `served_again`
    slowest: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and self.workflows > 0

    def table(self) -> str:
        head = (
            f"{'users':>5} {'workflows':>9} {'turns':>6} {'p50 s':>6} {'p99 s':>6} "
            f"{'worst s':>7} {'retries':>7} {'resends':>7} {'chaos':>5} {'lost':>4} {'dup':>4} "
            f"{'gap':>4} {'stall':>5} {'tab':>4} {'dl':>4} {'err*':>5} {'back s':>6}"
        )
        row = (
            f"{self.users:>5} {self.workflows:>9} {self.turns:>6} {self.p50_s:>6.3f} "
            f"{self.p99_s:>6.3f} {self.worst_s:>7.3f} {self.retries:>7} {self.resends:>7} "
            f"{sum(self.chaos.values()):>5} {self.lost:>4} {self.dup:>4} {self.gap:>4} "
            f"{self.stall:>5} {self.tab:>4} {self.download:>4} {self.errors_outside:>5} "
            f"{max(self.back_s, default=0.0):>6.2f}"
        )
        chaos = ", ".join(f"{k} x{v}" for k, v in sorted(self.chaos.items())) or "none"
        notes = [
            head,
            row,
            f"chaos events: {chaos}; errors inside chaos windows: {self.errors_in_chaos}",
            f"downloads checked against the oracle: {self.downloads_checked}; distinct "
            f"workers seen: {self.workers_seen}; tab lag p99: {self.tab_lag_p99_s:.3f} s",
            "* errors outside chaos windows (must be 0); dl = downloads differing from the oracle;"
            " back s = worst time from a chaos window's end (the deployment whole again) until"
            " every step it held up had succeeded"
            + (
                f" (per window: {', '.join(f'{b:.2f}' for b in self.back_s)})"
                if self.back_s
                else ""
            ),
            "slowest steps:",
            *(f"  {s}" for s in self.slowest),
        ]
        if self.problems:
            notes.append(f"VIOLATIONS ({len(self.problems)}):")
            notes += [f"  - {p}" for p in self.problems[:40]]
        else:
            notes.append("OK: every acknowledged id has exactly one effect; no gap, stall or loss")
        return "\n".join(notes)


async def replay(
    http: aiohttp.ClientSession, urls: Sequence[str], session: Session
) -> list[dict[str, Any]]:
    """The session's whole log, as a fresh tab connecting with last_seq 0 receives it."""
    client = ChatClient(http)
    client.sid, client.token = session.sid, session.token
    for attempt in range(12):
        try:
            await client.connect(urls[attempt % len(urls)], last_seq=0, timeout=5)
            return list(client.events)
        except (TimeoutError, OSError, aiohttp.ClientError, AssertionError):
            client.events = []
            await asyncio.sleep(0.5)
        finally:
            await client.disconnect()
    raise RuntimeError(f"could not replay session {session.sid}")


def _view(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(e["seq"], e["role"], e["stage"], e["text"], e["reply_to"]) for e in events]


def check_session(session: Session, log: list[dict[str, Any]], verdict: Verdict) -> None:
    """Count losses, duplicates, gaps and tab mismatches of one session into the verdict."""
    sid = session.sid
    if [e["seq"] for e in log] != list(range(1, len(log) + 1)):
        verdict.gap += 1
        verdict.problems.append(f"{sid}: log seqs not 1..{len(log)}")
    users = Counter(e["reply_to"] for e in log if e["role"] == "user")
    replies = {e["reply_to"] for e in log if e["role"] == "bot" and e["stage"]}
    for mid, count in users.items():
        if count > 1:
            verdict.dup += 1
            verdict.problems.append(f"{sid}: message {mid} applied {count} times")
    for mid in session.acked:
        if users[mid] == 0 or mid not in replies:
            verdict.lost += 1
            verdict.problems.append(f"{sid}: acknowledged {mid} has no effect in the log")
    for i, tab in enumerate(session.tabs):
        if _view(tab) != _view(log):
            verdict.tab += 1
            verdict.problems.append(
                f"{sid}: tab {i} holds {len(tab)} events that differ from the log's {len(log)}"
            )


def _quantile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def served_again(rec: Recorder, since: float, until: float) -> float:
    """How long after `until` the last user step in progress between `since` and `until`
    succeeded (0 if all were done by then): how soon everyone was served again."""
    ends = [
        s.started + s.seconds
        for s in rec.steps
        if s.name in USER_STEPS and s.started <= until and s.started + s.seconds >= since
    ]
    return max(0.0, max(ends, default=until) - until)


def summarise(rec: Recorder, users: int, stall_s: float) -> Verdict:
    """Step figures, chaos and errors from the recorder (the replay adds the log checks)."""
    verdict = Verdict(users=users, workflows=rec.workflows)
    steps = [s for s in rec.steps if s.name in USER_STEPS]
    durations = [s.seconds for s in steps]
    verdict.steps = len(steps)
    verdict.p50_s = statistics.median(durations) if durations else 0.0
    verdict.p99_s = _quantile(durations, 0.99)
    verdict.worst_s = max(durations, default=0.0)
    verdict.slowest = [
        f"{s.name} {s.seconds:.2f} s ({s.retries} retries{': ' if s.errors else ''}"
        f"{' | '.join(e[:120] for e in s.errors)})"
        for s in sorted(steps, key=lambda s: -s.seconds)[:5]
    ]
    verdict.retries = sum(s.retries for s in steps)
    verdict.resends = rec.resends
    verdict.turns = sum(len(s.acked) for s in rec.sessions.values())
    verdict.chaos = Counter(w.action for w in rec.windows)
    verdict.downloads_checked = rec.downloads_checked
    verdict.workers_seen = len(rec.workers_seen)
    verdict.tab_lag_p99_s = _quantile(rec.tab_lags, 0.99)
    verdict.back_s = [served_again(rec, w.started, w.ended) for w in rec.windows]
    for step in steps:
        if step.seconds > stall_s:
            verdict.stall += 1
            verdict.problems.append(f"{step.name} took {step.seconds:.1f} s (bound {stall_s} s)")
    outside = [e for e in rec.errors if not rec.in_chaos(e)]
    verdict.errors_outside = len(outside)
    verdict.errors_in_chaos = len(rec.errors) - len(outside)
    ends = sorted(w.ended for w in rec.windows)

    def after(e: Error) -> str:
        last = max((t for t in ends if t <= e.started), default=None)
        since = "no window before" if last is None else f"{e.started - last:.1f} s after a window"
        return f"(began {since}, lasted {e.ended - e.started:.1f} s)"

    verdict.problems += [f"error outside chaos {after(e)}: {e.what}" for e in outside[:20]]
    for problem in rec.violations:
        verdict.problems.append(problem)
        if "download" in problem:
            verdict.download += 1
        elif "stalled" in problem or "still failing" in problem:
            verdict.stall += 1
        elif "tab" in problem:
            verdict.tab += 1
        elif "gap or duplicate" in problem:
            verdict.gap += 1
    return verdict


async def check(
    http: aiohttp.ClientSession, urls: Sequence[str], rec: Recorder, users: int, stall_s: float
) -> Verdict:
    """The verdict of a finished run: replay every session and check it."""
    verdict = summarise(rec, users, stall_s)
    sessions = list(rec.sessions.values())
    for start in range(0, len(sessions), 20):
        batch = sessions[start : start + 20]
        logs = await asyncio.gather(*(replay(http, urls, s) for s in batch))
        for session, log in zip(batch, logs, strict=True):
            check_session(session, log, verdict)
    return verdict
