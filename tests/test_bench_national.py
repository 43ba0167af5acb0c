"""bench/chat.py's national load at tiny scale, so the bench code cannot rot: its choice walk,
its file cache, and one whole run against real gunicorn servers on the suite's Redis."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import pytest
import redis

from bench import choices, national, national_report
from bench.chat import Server


def test_the_walk_changes_one_choice_at_a_time_in_turn_and_never_repeats() -> None:
    walk = choices.Walk(["Kano", "Lagos"], ("Kano", "Primary", "u5"))
    seen, before, kinds = {walk.now}, walk.now, []
    for _ in range(choices.MAX_CHANGES):
        text, combo = walk.next()
        kind, _, value = text.partition(":")
        changed = [i for i in range(3) if combo[i] != before[i]]
        assert len(changed) == 1 and choices.KINDS[changed[0]] == kind and value in combo
        assert combo not in seen
        seen.add(combo)
        kinds.append(kind)
        before = combo
    assert kinds[:3] == ["state", "level", "age"]  # in turn while the grid allows it
    with pytest.raises(RuntimeError):  # 2 x 4 x 4 = 32 combinations: the walk ends, never loops
        for _ in range(32):
            walk.next()


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_tiny_national_run_measures_every_phase_without_errors(
    redis_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("TPR_WS_BENCH_CACHE", str(tmp_path / "cache"))
    opts = national.Options(users=2, changes=3, repeat=1, rows=900)
    files = choices.national_files(opts.users, opts.rows)
    assert "generating" in capsys.readouterr().out
    assert choices.national_files(opts.users, opts.rows) == files  # built once, then reused
    assert "generating" not in capsys.readouterr().out
    assert len({data for data, _ in files}) == opts.users  # one distinct file per user

    names = (f"server-{i}" for i in itertools.count())
    setup = Server("product", redis_url, 2, tmp_path, name=next(names))
    client = redis.Redis.from_url(redis_url)
    try:
        setup.wait_ready()
        report = asyncio.run(
            national.national(
                setup, lambda: Server("product", redis_url, 2, tmp_path, name=next(names)),
                client, opts, files,
            )
        )  # fmt: skip
    finally:
        setup.stop()
        client.close()
    (run,) = report.runs
    alone = opts.users * opts.changes
    for phase in (run.floor_one, run.floor_all, run.warm_one, run.warm_all):
        assert phase.errors == 0 and len(phase.latencies) == alone and phase.cpu_s > 0
    for phase in (run.cold, run.rows):  # users 0 (rows path: its sums deleted) and 1
        assert phase.errors == 0 and len(phase.latencies) == 1 and phase.seconds > 0
    # every national dataset was met by one worker of the fresh server; user 0 took the rows path
    assert sum(w.sums for w in run.memory) == opts.users
    assert sum(w.rows for w in run.memory) == 1
    assert all(w.before_kb and w.loaded_kb and w.peak_kb >= w.end_kb > 0 for w in run.memory)
    assert report.sums_mb > 0 and report.rows_mb > 0 and len(report.uploads_s) == opts.users

    national_report.print_report(report, opts.users, opts.changes)
    out = capsys.readouterr().out
    assert "national, warm" in out and "<= 50" in out and "bound" in out
