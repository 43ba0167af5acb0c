"""One soak run: N virtual users (and optionally the chaos loop) against entry URLs, then the
end check from a full replay of every session."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import aiohttp

from tests.soak.chaos import Chaos
from tests.soak.check import Verdict, check
from tests.soak.record import Recorder
from tests.soak.users import Dataset, SoakConfig, VirtualUser
from tpr_ws.domain.sample.generator import generate, sample_upload


def datasets() -> list[Dataset]:
    """The sample (chosen by saying "sample") first, then generated files to upload."""
    sample = sample_upload()
    made = [
        generate("B", "tiny", seed=11),
        generate("C", "tiny", seed=12, fmt="csv"),
        generate("D", "tiny", seed=13),
    ]
    return [Dataset(sample.file_name, None, sample.truth)] + [
        Dataset(m.file_name, m.data, m.truth) for m in made
    ]


def _stacks(tasks: set[asyncio.Task[Any]]) -> str:
    """Where every pending task waits, down its chain of awaits (to explain an overrun)."""
    lines = [f"{len(tasks)} pending: {sorted(t.get_name() for t in tasks)}"]
    for task in tasks | asyncio.all_tasks():
        chain, coro = [], task.get_coro()
        while coro is not None and len(chain) < 30:
            frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
            if frame is not None:
                chain.append(f"{frame.f_code.co_name}:{frame.f_lineno}")
            coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
        lines.append(f"{task.get_name()}: {' -> '.join(chain)}")
    return "\n".join(lines)


async def soak(
    urls: Sequence[str],
    *,
    users: int,
    seconds: float,
    config: SoakConfig | None = None,
    recorder: Recorder | None = None,
    chaos: Chaos | None = None,
) -> Verdict:
    """Run the users (and chaos) for `seconds`, let running workflows finish, then check."""
    config = config or SoakConfig()
    rec = recorder or Recorder()
    data = await asyncio.to_thread(datasets)
    connector = aiohttp.TCPConnector(limit=0, ssl=False)  # nginx in tests has a self-signed cert
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=5)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        deadline = time.monotonic() + seconds
        chaos_task = asyncio.create_task(chaos.run(deadline)) if chaos is not None else None

        def running() -> bool:
            # Load lasts as long as the chaos does (every action runs at least once).
            return time.monotonic() < deadline or (chaos_task is not None and not chaos_task.done())

        made = [VirtualUser(i, urls, http, rec, config, data) for i in range(users)]
        tasks = [asyncio.create_task(u.run(running), name=f"user {u.number}") for u in made]
        tasks += [chaos_task] if chaos_task is not None else []
        # Every wait of a user is bounded; should a run still overrun, say where it is stuck.
        _, pending = await asyncio.wait(tasks, timeout=seconds + 2 * config.give_up_s + 120)
        if pending:
            stuck = [f"user {u.number}: {u.doing}" for u in made]
            if chaos is not None:
                stuck.append(f"chaos: {chaos.doing}")
            where = _stacks(pending)
            for task in pending:
                task.cancel()
            raise RuntimeError(f"soak overran at {time.monotonic():.1f}: {stuck}\n{where}")
        for task in tasks:
            task.result()  # a user's or the chaos loop's own failure
        return await check(http, urls, rec, users, config.stall_s)
