"""Chat turns through real WebSockets: the product against two small baseline servers, same
run, same load, same gunicorn worker count, one Redis (embedded).

    nice -n -5 python bench/chat.py [--users 100] [--turns 20] [--workers 4] [--repeat 5]
                                    [--hot 20] [--storms 1000,5000] [--loads users,hot,storm]
    nice -n -5 python bench/chat.py --loads national [--national-users 20]
                                    [--national-changes 12] [--national-rows N] [--repeat 5]
    nice -n -5 python bench/chat.py --aof compare --loads users,hot   (the cost of fsyncing the
                                    AOF before every reply, as `tpr-ws serve` does, vs everysec)

Servers (all `gunicorn -k aiohttp.GunicornWebWorker`, bench/baselines/server.py for the two
baselines, which run the product's workflow step too):
- product: tpr_ws as `tpr-ws serve` runs it (Prometheus multiprocess directory set);
- unsafe: GET state, step, SET state; no lock (concurrent turns of a session lose updates);
- lock: the same inside redis-py's `Lock` (SET NX + polling while busy).

Loads (medians of `--repeat` runs; servers interleaved in every run):
- users: N users, one session and one socket each, `--turns` says each in a closed loop
  (texts that keep the conversation at its first stage: no dataset, no TPR);
- hot: `--hot` sockets on one session in a closed loop; per-socket turn counts = fairness;
- storm: N sockets opening at once, hello with an up-to-date last_seq, time to welcome;
- national (bench/national.py; product only: the baselines hold no datasets): users, each with
  its own national-size file (generated once, cached on disk), uploaded through the real
  endpoint, changing state, level and age group: warm and on a fresh server's workers (cold),
  one user at a time (the 50 ms and 200 ms targets) and all at once; same-run baselines: small
  files (the floor) and datasets stored without sums (rows decoded); worker RSS against the
  caches' bound.

Printed per server: msg/s, latency p50/p99/max (say -> ack and bot reply), server CPU per
message (utime+stime of the gunicorn workers from /proc/<pid>/stat, timed phase only), Redis
commands per message (INFO commandstats, commands run inside scripts included), Redis CPU per
message, lost/duplicated/errors; then the product's ratios to each baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import redis

from bench import choices, loads, national, national_report
from tpr_ws.embedded import EmbeddedRedis, free_port

KINDS = ("product", "unsafe", "lock")
_TICK = os.sysconf("SC_CLK_TCK")


class Server:
    """One gunicorn instance of a kind, on its own loopback port."""

    def __init__(
        self,
        kind: str,
        redis_url: str,
        workers: int,
        log_dir: Path,
        repo: Path = REPO,
        name: str = "",
    ) -> None:
        self.kind = kind
        self.workers_n = workers
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "PYTHONPATH": str(repo)}
        if kind in ("product", "before"):
            env.update(
                REDIS_URL=redis_url,
                TPR_WS_SECRET="bench-secret-" + "x" * 24,
                TPR_WS_PORT=str(self.port),
                TPR_WS_WORKERS=str(workers),
                # the bench is one client address sending as fast as it can
                TPR_WS_RATE_LIMIT_MESSAGES="1000000",
                TPR_WS_MAX_SOCKETS_PER_CLIENT="100000",
                TPR_WS_NEW_SESSIONS_PER_CLIENT="100000",
                TPR_WS_RATE_LIMIT_SESSION_MESSAGES="1000000",
                TPR_WS_RATE_LIMIT_CLIENT_MESSAGES="1000000",
                TPR_WS_MAX_UPLOADS_PER_CLIENT="64",
                TPR_WS_UPLOAD_QUOTA_BYTES=str(1 << 40),
                PROMETHEUS_MULTIPROC_DIR=tempfile.mkdtemp(dir=log_dir, prefix="metrics-"),
            )
            conf = ["-c", str(repo / "deploy" / "gunicorn.conf.py"), "tpr_ws.app:create_app"]
        else:
            env.update(BENCH_REDIS_URL=redis_url, BENCH_LOCK="1" if kind == "lock" else "0")
            conf = [
                "-w",
                str(workers),
                "-k",
                "aiohttp.GunicornWebWorker",
                "-b",
                f"127.0.0.1:{self.port}",
                "bench.baselines.server:create_app",
            ]
        self.log_path = log_dir / f"{name or kind}.log"
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", *conf],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=repo,
            )

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.kind} exited: {self.log_path.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.base + "/readyz", timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"{self.kind} did not become ready")

    def settle(self, idle_cpu_s: float = 0.05, every_s: float = 0.5, timeout: float = 60) -> None:
        """Until the server's processes are idle: a worker is ready before its parsing
        processes have finished importing (seconds of CPU each), which would otherwise be
        counted in, and slow down, the first timed run."""
        deadline = time.monotonic() + timeout
        last = self.cpu_s()
        while time.monotonic() < deadline:
            time.sleep(every_s)
            now = self.cpu_s()
            if now - last < idle_cpu_s:
                return
            last = now

    def warm_up(self) -> None:
        """An untimed turn on every worker (scripts loaded, connections open, caches filled)."""
        noop: loads.Marks = (lambda: None, lambda: None)
        asyncio.run(loads.users(self.base, 4 * self.workers_n, 3, noop))

    @staticmethod
    def _children() -> dict[int, list[int]]:
        children: dict[int, list[int]] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
                children.setdefault(ppid, []).append(int(entry.name))
        return children

    def pids(self) -> list[int]:
        """The gunicorn master's descendants (its workers, and their pool processes)."""
        children = self._children()
        out, todo = [], [self.proc.pid]
        while todo:
            kids = children.get(todo.pop(), [])
            out += kids
            todo += kids
        return out

    def workers(self) -> list[int]:
        """The gunicorn workers (the master's children, without their pool processes)."""
        return self._children().get(self.proc.pid, [])

    def cpu_s(self) -> float:
        total = 0
        for pid in self.pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / _TICK

    def errors_logged(self) -> int:
        return self.log_path.read_text(errors="replace").count("Traceback")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class Counters:
    """Server CPU, Redis commands and Redis CPU around a timed phase."""

    def __init__(self, server: Server, client: redis.Redis) -> None:
        self.server, self.client = server, client
        self.start: tuple[float, int, float] = (0.0, 0, 0.0)
        self.delta: tuple[float, int, float] = (0.0, 0, 0.0)

    def _read(self) -> tuple[float, int, float]:
        stats = self.client.info("commandstats")
        calls = sum(int(v["calls"]) for k, v in stats.items() if k.startswith("cmdstat_"))
        cpu = self.client.info("cpu")
        rcpu = float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"])
        return self.server.cpu_s(), calls, rcpu

    def marks(self) -> loads.Marks:
        def begin() -> None:
            self.start = self._read()

        def end() -> None:
            now = self._read()
            self.delta = (
                now[0] - self.start[0],
                now[1] - self.start[1] - 2,
                now[2] - self.start[2],
            )

        return begin, end


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0


def figures(out: loads.Outcome, counters: Counters) -> dict[str, float]:
    n = max(out.done, 1)
    fair = 0.0
    if out.per_client and sum(out.per_client):
        mean = statistics.mean(out.per_client)
        fair = max(abs(c - mean) for c in out.per_client) / mean * 100
    return {
        "rate": out.done / out.seconds if out.seconds else 0.0,
        "p50": _pct(out.latencies, 0.5),
        "p99": _pct(out.latencies, 0.99),
        "max": _pct(out.latencies, 1.0),
        "cpu_ms": counters.delta[0] * 1000 / n,
        "cmds": counters.delta[1] / n,
        "rcpu_ms": counters.delta[2] * 1000 / n,
        "lost": out.lost,
        "dup": out.duplicated,
        "errors": out.errors,
        "fair": fair,
    }


def median_rows(runs: list[dict[str, float]]) -> dict[str, float]:
    keys = runs[0].keys()
    agg = {k: statistics.median(r[k] for r in runs) for k in keys}
    for k in ("lost", "dup", "errors"):  # never hide a failure behind a median
        agg[k] = max(r[k] for r in runs)
    return agg


def print_table(title: str, rows: dict[str, dict[str, float]], unit: str = "msg") -> None:
    print(f"\n{title}")
    print(
        f"{'server':>8} {unit + '/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} "
        f"{'CPU ms/' + unit:>11} {'cmds/' + unit:>9} {'Redis ms/' + unit:>13} "
        f"{'lost':>5} {'dup':>4} {'err':>4} {'fair%':>6}"
    )
    for kind, r in rows.items():
        print(
            f"{kind:>8} {r['rate']:>8.0f} {r['p50']:>7.1f} {r['p99']:>7.1f} {r['max']:>7.1f} "
            f"{r['cpu_ms']:>11.3f} {r['cmds']:>9.1f} {r['rcpu_ms']:>13.3f} "
            f"{r['lost']:>5.0f} {r['dup']:>4.0f} {r['errors']:>4.0f} {r['fair']:>6.1f}"
        )
    product = rows.get("product")
    for kind in ("unsafe", "lock", "before"):
        base = rows.get(kind)
        if product and base and base["rate"] and base["p99"] and base["cpu_ms"]:
            print(
                f"  product / {kind}: {unit}/s x{product['rate'] / base['rate']:.2f}, "
                f"p99 x{product['p99'] / base['p99']:.2f}, "
                f"CPU/{unit} x{product['cpu_ms'] / base['cpu_ms']:.2f}"
            )


def run_load(
    servers: dict[str, Server],
    client: redis.Redis | dict[str, redis.Redis],
    repeat: int,
    load: Callable[[str, loads.Marks], Any],
) -> dict[str, dict[str, float]]:
    """`repeat` runs of one load, every server once per run, in turn (the order rotated from
    run to run, so no server is always first after a pause); medians per server."""
    runs: dict[str, list[dict[str, float]]] = {k: [] for k in servers}
    order = list(servers.items())
    for i in range(repeat):
        for kind, server in order[i % len(order) :] + order[: i % len(order)]:
            counters = Counters(server, client[kind] if isinstance(client, dict) else client)
            out = asyncio.run(load(server.base, counters.marks()))
            runs[kind].append(figures(out, counters))
    return {k: median_rows(v) for k, v in runs.items()}


def run_national(
    args: argparse.Namespace, servers: dict[str, Server], url: str, client: redis.Redis, tmp: Path
) -> None:
    """The national load (bench/national.py), on product servers only."""
    opts = national.Options(args.national_users, args.national_changes, args.repeat,
                            args.national_rows)  # fmt: skip
    if 2 * opts.changes > choices.MAX_CHANGES:
        raise SystemExit(f"--national-changes: at most {choices.MAX_CHANGES // 2} (the floor's "
                         "small files have 2 states x 4 levels x 4 age groups)")  # fmt: skip
    files = choices.national_files(opts.users, opts.rows)
    setup = servers.get("product") or Server("product", url, args.workers, tmp, name="setup")
    setup.wait_ready()
    fresh = iter(range(1, 1000))

    def start() -> Server:
        return Server("product", url, args.workers, tmp, name=f"fresh-{next(fresh)}")

    print(
        f"\nnational: {opts.users} users, each with its own {len(files[0][0]) / 1e6:.1f} MB "
        f"national-size file, {opts.changes} choice changes per user per run; product only "
        "(the unsafe and lock servers hold no datasets); load average "
        f"{os.getloadavg()[0]:.2f}",
        flush=True,
    )
    report = asyncio.run(national.national(setup, start, client, opts, files))
    national_report.print_report(report, opts.users, opts.changes)
    if setup is not servers.get("product"):
        setup.stop()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--users", type=int, default=100)
    p.add_argument("--turns", type=int, default=20)
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--hot", type=int, default=20, help="sockets on the hot session")
    p.add_argument("--storms", default="1000,5000")
    p.add_argument("--loads", default="users,hot,storm", help="any of users,hot,storm,national")
    p.add_argument("--national-users", type=int, default=20)
    p.add_argument("--national-changes", type=int, default=12, help="per user per run")
    p.add_argument("--national-rows", type=int, help="about N rows per file (default national)")
    p.add_argument("--servers", default=",".join(KINDS))
    p.add_argument(
        "--aof",
        choices=("off", "everysec", "always", "compare"),
        default="off",
        help="the Redis AOF: off (the figures above), fsynced every second or before every "
        "reply; compare: the product on a Redis with `always` (as `tpr-ws serve` runs it) "
        "against the product on one with `everysec`, interleaved in the same runs",
    )
    p.add_argument(
        "--before",
        type=Path,
        help="also run the product from this checkout (e.g. a worktree of an older commit) "
        "as server 'before', in the same runs",
    )
    args = p.parse_args()
    chosen = args.loads.split(",")
    try:
        import uvloop  # the client's own overhead is smaller on it, if installed

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:
        pass
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-chat-")))
        fsync = None if args.aof == "off" else "always" if args.aof == "compare" else args.aof
        server = stack.enter_context(
            EmbeddedRedis(data_dir=tmp / "redis", appendonly=fsync is not None, appendfsync=fsync)
        )
        client: redis.Redis | dict[str, redis.Redis] = redis.Redis.from_url(server.url)
        kinds = args.servers.split(",")
        if chosen == ["national"] or args.aof == "compare":  # product only
            kinds = [k for k in kinds if k == "product"]
        servers = {k: Server(k, server.url, args.workers, tmp) for k in kinds}
        if args.aof == "compare":
            every = stack.enter_context(
                EmbeddedRedis(data_dir=tmp / "r-every", appendonly=True, appendfsync="everysec")
            )
            servers["everysec"] = Server("product", every.url, args.workers, tmp, name="everysec")
            client = {"product": client, "everysec": redis.Redis.from_url(every.url)}
        if args.before is not None:
            servers["before"] = Server("before", server.url, args.workers, tmp, args.before)
        for s in servers.values():
            stack.callback(s.stop)
        for s in servers.values():
            s.wait_ready()
        for s in servers.values():  # no server's start-up in another's timed phase
            s.warm_up()
        for s in servers.values():
            s.settle()
        print(
            f"{args.workers} gunicorn workers per server, "
            f"{'two embedded Redis' if args.aof == 'compare' else 'one embedded Redis'} "
            f"(AOF {args.aof}); "
            f"{os.cpu_count()} cores shared by client, Redis and servers; "
            f"load average before: {os.getloadavg()[0]:.2f}; medians of {args.repeat} runs"
        )
        if "users" in chosen:
            rows = run_load(
                servers, client, args.repeat, lambda b, m: loads.users(b, args.users, args.turns, m)
            )
            print_table(
                f"users: {args.users} users x {args.turns} says, one socket each, closed loop", rows
            )
        if "hot" in chosen:
            rows = run_load(
                servers, client, args.repeat, lambda b, m: loads.hot(b, args.hot, 20, m)
            )
            print_table(
                f"hot session: {args.hot} sockets on one session, closed loop, "
                f"{args.hot * 20} turns; fair% = worst socket's distance from the "
                "mean count",
                rows,
            )
        if "storm" in chosen:
            for n in (int(x) for x in args.storms.split(",") if x):
                rows = run_load(
                    servers, client, args.repeat, lambda b, m, n=n: loads.storm(b, n, m)
                )
                print_table(
                    f"reconnect storm: {n} sockets at once, hello (up to date) -> "
                    "welcome; latency = storm start -> welcome",
                    rows,
                    unit="sock",
                )
        if "national" in chosen:
            main_client = client["product"] if isinstance(client, dict) else client
            run_national(args, servers, server.url, main_client, tmp)
        print(
            "\nTracebacks in server logs: "
            + ", ".join(f"{k} {s.errors_logged()}" for k, s in servers.items())
        )
        print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
