"""The national load of bench/chat.py: choice changes on national-size datasets, warm and cold.

Each of N users has a national-size workbook of its own (layout B, one generator seed per user,
generated once and cached on disk by bench/ingest.py's `cached_file`: $TPR_WS_BENCH_CACHE or
$TMPDIR/tpr_ws_bench, keyed by size, layout and seed), uploads it through the real upload
endpoint of a setup server and walks the conversation (state, facility level, age group) to its
first results (bench/choices.py). Then every run (`--repeat`) starts a fresh product server on
the same Redis (same secret and key prefix: every session and dataset is there, but its workers
never saw a file) and measures there:

1. floor: N users with small files (tiny preset, new seeds every run, so nothing of theirs is
   stored yet) upload, reach their first results (which also warms every worker's code paths,
   so what follows measures the datasets, not a new process), then make K choice changes each
   one user at a time, then K more each all at once;
2. cold, one user at a time: each national user moves its socket to the fresh server and makes
   one choice change there, the first time any worker of that server meets its dataset (it
   reads the dataset's per-ward sums from Redis and decodes them). A quarter of the users
   (another quarter each run) first have their sums deleted from Redis: the rows path, the one
   way a results turn still reads every row, taken for a dataset stored before sums existed
   (GET the rows, decode them, build the sums and store them, once for every worker). It costs
   more than the per-turn rows path the sums replaced (decode, then pandas on the rows: ~0.25 s
   cold, 15-35 ms warm), which no turn takes any more; bench/ingest.py times that in-process;
3. warm, one user at a time: K choice changes each on the same sockets (the same workers,
   which now hold the sums): the figure the 50 ms target is about;
4. warm, all N users at once, K changes each in a closed loop: the load's p99 and changes/s
   (with 2 shared cores, N users at once wait for each other: latency ~ N x CPU per change / 2).

A change names a new state, level or age group in turn, as the page's buttons do. Latency: from
the say to the frame carrying its results (the ack, protocol 2); a reply whose params are not
the ones asked for counts as an error. CPU per change: every process of the fresh server.

Memory: VmRSS of each gunicorn worker of the fresh server before the national users arrive,
after the cold phase (each holds the datasets it met), at the end (after 2K more changes per
user: no new dataset) and its VmHWM (the kernel's peak), with the bound its caches allow
(DatasetStore keeps at most `sums_cache_size` decoded sums and `cache_size` decoded datasets
per worker; AnalysisStore at most CACHE_SIZE result objects) plus a one-off allowance
(national_report.ONE_OFF_MB: code paths first used, the thread pool's malloc arenas). With 20
national files, no worker meets 64 datasets: the sums cache's cap itself is not reached, so what
the table shows is that memory follows the datasets a worker met, not the turns it served.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import aiohttp
import redis

from bench.choices import User, change, first_results, new_users, small_files
from bench.national_report import Phase, Report, Run, WorkerMemory, dataset_sizes, rss_kb
from tpr_ws.registry.keys import KeySpace


class ServerLike(Protocol):
    """What the load needs of a server (bench/chat.py's Server)."""

    base: str

    def wait_ready(self, timeout: float = 90) -> None: ...
    def workers(self) -> list[int]: ...
    def cpu_s(self) -> float: ...
    def stop(self) -> None: ...


ServerFactory = Callable[[], ServerLike]


@dataclass
class Options:
    users: int = 20
    changes: int = 12
    repeat: int = 5
    rows: int | None = None  # about this many rows per file; None: the national preset
    uploads_at_once: int = 2


async def one_at_a_time(users: list[User], changes: int, server: ServerLike) -> Phase:
    """Each user in turn makes `changes` choice changes, alone on the server."""
    phase = Phase()
    cpu, started = server.cpu_s(), time.perf_counter()
    for user in users:
        for _ in range(changes):
            await change(user, phase)
    phase.seconds, phase.cpu_s = time.perf_counter() - started, server.cpu_s() - cpu
    return phase


async def all_at_once(users: list[User], changes: int, server: ServerLike) -> Phase:
    """Every user makes `changes` choice changes, each after the last one's results."""
    phase = Phase()

    async def one(user: User) -> None:
        for _ in range(changes):
            await change(user, phase)

    cpu, started = server.cpu_s(), time.perf_counter()
    await asyncio.gather(*(one(u) for u in users))
    phase.seconds, phase.cpu_s = time.perf_counter() - started, server.cpu_s() - cpu
    return phase


def _client() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0), timeout=aiohttp.ClientTimeout(total=None)
    )


async def _close(users: list[User]) -> None:
    await asyncio.gather(*(u.sock.ws.close() for u in users if u.sock is not None))


async def _floor(
    http: aiohttp.ClientSession, fresh: ServerLike, opts: Options, run: int
) -> tuple[Phase, Phase]:
    """Small-file users on the fresh server: first results (warming its workers), then the
    same choice changes as the national users, one user at a time and all at once."""
    files = small_files(opts.users, run)
    users, _ = await new_users(http, fresh.base, files, opts.uploads_at_once)
    try:
        await asyncio.gather(*(first_results(http, fresh.base, u, i) for i, u in enumerate(users)))
        alone = await one_at_a_time(users, opts.changes, fresh)
        return alone, await all_at_once(users, opts.changes, fresh)
    finally:
        await _close(users)


async def _cold(
    http: aiohttp.ClientSession, fresh: ServerLike, users: list[User], rows_path: set[int],
    client: redis.Redis,
) -> tuple[Phase, Phase]:  # fmt: skip
    """One user at a time: its socket moves to the fresh server, then one choice change (users
    in `rows_path` first lose their dataset's sums). CPU: the server's, over each change."""
    cold, rows = Phase(), Phase()
    keys = KeySpace()
    for i in rows_path:
        client.delete(keys.blob_sums(users[i].key))
    for i, user in enumerate(users):
        await user.move(http, fresh.base)
        phase = rows if i in rows_path else cold
        cpu, started = fresh.cpu_s(), time.perf_counter()
        await change(user, phase)
        phase.seconds += time.perf_counter() - started
        phase.cpu_s += fresh.cpu_s() - cpu
    return cold, rows


def _memory(fresh: ServerLike, users: list[User], rows_path: set[int]) -> dict[int, WorkerMemory]:
    """Each worker of the fresh server now, with the national datasets it met."""
    out = {pid: WorkerMemory(pid) for pid in fresh.workers()}
    for i, user in enumerate(users):
        pid = int(user.sock.worker.rsplit(":", 1)[1]) if user.sock else 0
        if pid in out:
            out[pid].sums += 1
            out[pid].rows += i in rows_path
    for w in out.values():
        now = rss_kb(w.pid)
        w.peak_kb, w.end_kb = now["VmHWM"], now["VmRSS"]
    return out


async def one_run(
    http: aiohttp.ClientSession, start: ServerFactory, client: redis.Redis, users: list[User],
    opts: Options, run: int,
) -> Run:  # fmt: skip
    """The phases of one run on a fresh server on the same Redis."""
    fresh = start()
    try:
        await asyncio.to_thread(fresh.wait_ready)
        floor_one, floor_all = await _floor(http, fresh, opts, run)
        before = {pid: rss_kb(pid)["VmRSS"] for pid in fresh.workers()}
        rows_path = set(range(run % 4, len(users), 4))
        cold, rows = await _cold(http, fresh, users, rows_path, client)
        loaded = {pid: rss_kb(pid)["VmRSS"] for pid in fresh.workers()}
        warm_one = await one_at_a_time(users, opts.changes, fresh)
        warm_all = await all_at_once(users, opts.changes, fresh)
        memory = _memory(fresh, users, rows_path)
        for pid, w in memory.items():
            w.before_kb, w.loaded_kb = before.get(pid, 0), loaded.get(pid, 0)
        await _close(users)
        return Run(floor_one, floor_all, cold, rows, warm_one, warm_all, list(memory.values()))
    finally:
        await asyncio.to_thread(fresh.stop)


async def national(
    setup: ServerLike, start: ServerFactory, client: redis.Redis, opts: Options,
    files: list[tuple[bytes, str]],
) -> Report:  # fmt: skip
    """Upload every file to the setup server, reach first results, then `opts.repeat` runs."""

    def largest() -> int:
        return max((rss_kb(pid)["VmRSS"] for pid in setup.workers()), default=0)

    async with _client() as http:
        before = largest()
        users, uploads = await new_users(http, setup.base, files, opts.uploads_at_once)
        report = Report(uploads, (before, largest()))
        await asyncio.gather(*(first_results(http, setup.base, u, i) for i, u in enumerate(users)))
        report.sums_mb, report.rows_mb = dataset_sizes(client, users[0].key)
        for run in range(opts.repeat):
            report.runs.append(await one_run(http, start, client, users, opts, run))
            print(f"  run {run + 1}/{opts.repeat} done", flush=True)
        await _close(users)
    return report
