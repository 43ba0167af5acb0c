"""What the soak runs against: `tpr-ws serve` instances (each a gunicorn master and its
workers) sharing one Redis, and the process handles the chaos needs (kill, stop, restart, roll).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.harness import REPO
from tpr_ws.embedded import EmbeddedRedis, free_port

# Settings every soak instance runs with: a short lease so a stalled holder costs seconds, and
# per-client limits lifted: every virtual user shares one client address (the test machine's, or
# the load balancer's), which real users do not.
SOAK_ENV = {
    "TPR_WS_LEASE_TTL_MS": "3000",
    "TPR_WS_RATE_LIMIT_MESSAGES": "100000",
    "TPR_WS_RATE_LIMIT_SESSION_MESSAGES": "100000",
    "TPR_WS_RATE_LIMIT_CLIENT_MESSAGES": "10000000",
    "TPR_WS_NEW_SESSIONS_PER_CLIENT": "10000000",
    "TPR_WS_MAX_SOCKETS_PER_CLIENT": "100000",
    "TPR_WS_MAX_UPLOADS_PER_CLIENT": "10000",
    "TPR_WS_UPLOAD_QUOTA_BYTES": "100000000000",
    "TPR_WS_HEARTBEAT_S": "5",
    "PYTHONUNBUFFERED": "1",
}


def children(pid: int) -> list[int]:
    """Direct child processes of `pid` (from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry))
    return found


def http_ok(url: str, timeout: float = 1.0) -> bool:
    """True if GET `url` answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return bool(r.status == 200)
    except OSError:
        return False


@dataclass
class ServeInstance:
    """One `tpr-ws serve` (gunicorn master + workers) on `host:port`, optionally inside a
    network namespace (`netns`): a host of its own."""

    name: str
    redis_url: str
    secret: str
    log_dir: Path
    workers: int = 2
    host: str = "127.0.0.1"
    port: int = field(default_factory=free_port)
    netns: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path = REPO  # `python -m tpr_ws` imports the package from here first
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def launch(self) -> ServeInstance:
        """Start `tpr-ws serve` in its own process group (so a kill takes all of it)."""
        env = {
            **os.environ,
            **SOAK_ENV,
            "REDIS_URL": self.redis_url,
            "TPR_WS_SECRET": self.secret,
            "TPR_WS_DATA_DIR": str(self.log_dir / f"{self.name}-var"),
            **self.env,
        }
        cmd = [sys.executable, "-m", "tpr_ws", "serve", "--host", self.host,
               "--port", str(self.port), "--workers", str(self.workers)]  # fmt: skip
        if self.netns:
            cmd = ["ip", "netns", "exec", self.netns, *cmd]
        with (self.log_dir / f"{self.name}.log").open("ab") as log:
            self.proc = subprocess.Popen(
                cmd, env=env, cwd=self.cwd, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        return self

    def wait_ready(self, timeout: float = 90.0) -> None:
        """Until /readyz answers and every worker is up (also after a roll or a respawn)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.log_tail()}")
            if len(self.worker_pids()) == self.workers and http_ok(self.url + "/readyz"):
                return
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} not ready: {self.log_tail()}")

    def log_tail(self) -> str:
        path = self.log_dir / f"{self.name}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    @property
    def master_pid(self) -> int | None:
        """gunicorn's master: the serve process's child."""
        if self.proc is None or self.proc.poll() is not None:
            return None
        found = children(self.proc.pid)
        return found[0] if found else None

    def worker_pids(self) -> list[int]:
        master = self.master_pid
        return sorted(children(master)) if master else []

    def signal_worker(self, pid: int, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)

    def roll(self) -> None:
        """Graceful reload of every worker: SIGHUP to `tpr-ws serve` (it forwards to gunicorn)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGHUP)

    def kill(self) -> None:
        """SIGKILL the whole instance (serve, gunicorn, workers, parsing pools)."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM (graceful), then make sure nothing of the group is left."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=30)
        self.kill()


@dataclass
class Deployment:
    """Instances behind `entry_urls` (the instances themselves, or a load balancer) and the
    Redis they share (`redis`: one server, or None when the caller manages a cluster)."""

    instances: list[ServeInstance]
    redis: EmbeddedRedis | None
    entry_urls: Sequence[str] = ()

    def __post_init__(self) -> None:
        if not self.entry_urls:
            self.entry_urls = [i.url for i in self.instances]

    def start(self) -> Deployment:
        for instance in self.instances:
            instance.launch()
        for instance in self.instances:
            instance.wait_ready()
        return self

    def stop(self) -> None:
        for instance in self.instances:
            instance.stop()
        if self.redis is not None:
            self.redis.stop()

    def all_ready(self) -> bool:
        return all(
            len(i.worker_pids()) == i.workers and http_ok(i.url + "/readyz") for i in self.instances
        )


def local_deployment(
    log_dir: Path,
    *,
    instances: int = 2,
    workers: int = 2,
    env: dict[str, str] | None = None,
    appendfsync: str = "always",
) -> Deployment:
    """`instances` x `tpr-ws serve` on loopback sharing one Redis with AOF (not started)."""
    import secrets

    redis = EmbeddedRedis(
        data_dir=log_dir / "redis", appendonly=True, appendfsync=appendfsync
    ).start()
    secret = secrets.token_urlsafe(24)
    made = [
        ServeInstance(f"app{i}", redis.url, secret, log_dir, workers=workers, env=dict(env or {}))
        for i in range(instances)
    ]
    return Deployment(made, redis)
