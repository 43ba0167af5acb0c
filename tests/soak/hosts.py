"""Several hosts on one machine: Linux network namespaces, each with two links.

    test process, Redis (root namespace)
      |-- front bridge 10.N.1.1/24 -- lb (10.N.1.2: nginx, deploy/nginx.conf as shipped)
      |                             \\- host i (10.N.1.1i:8080: `tpr-ws serve`)
      \\-- back bridge  10.N.2.1/24 (Redis) -- host i (10.N.2.1i)

Cutting a host's back link (`cut`) takes it off Redis while nginx still reaches it. nginx runs
in its own namespace and mount namespace: the shipped file's host names (app-1.internal ...),
certificate path and access log path are served there by a private /etc/hosts, a self-signed
certificate and a temporary log directory bind-mounted over the shipped paths.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
from pathlib import Path

from tests.harness import REPO
from tests.soak.chaos import wait_for
from tests.soak.deployment import Deployment, ServeInstance
from tpr_ws.embedded import EmbeddedRedis

NGINX_CONF = REPO / "deploy" / "nginx.conf"


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


def netns_unavailable() -> str | None:
    """Why namespaces cannot be made here (None: they can)."""
    if os.geteuid() != 0:
        return "not root"
    if shutil.which("ip") is None:
        return "iproute2 (`ip`) is not installed"
    probe = f"tprprobe{os.getpid()}"
    try:
        _ip("netns", "add", probe)
    except subprocess.CalledProcessError as exc:
        return f"`ip netns add` failed: {exc.stderr.decode(errors='replace').strip()}"
    _ip("netns", "del", probe)
    return None


class Network:
    """Bridges, namespaces and links for `hosts` hosts and one load balancer."""

    def __init__(self, hosts: int = 3) -> None:
        self.hosts = hosts
        self.n = 0
        self._made: list[tuple[str, ...]] = []

    def prefix(self, net: int) -> str:
        return f"10.{200 + self.n}.{net}"

    def host_ns(self, i: int) -> str:
        return f"tpr{self.n}h{i}"

    @property
    def lb_ns(self) -> str:
        return f"tpr{self.n}lb"

    def front_ip(self, i: int) -> str:
        return f"{self.prefix(1)}.{10 + i}"

    @property
    def lb_ip(self) -> str:
        return f"{self.prefix(1)}.2"

    @property
    def redis_ip(self) -> str:
        return f"{self.prefix(2)}.1"

    def __enter__(self) -> Network:
        # Concurrent runs (another checkout's suite) pick different numbers under a lock.
        with open("/tmp/tpr-netns.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            used = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
            self.n = next(n for n in range(1, 50) if f" tpr{n}f:" not in used)
            self._bridge("f", 1)
            self._bridge("b", 2)
        for i in range(1, self.hosts + 1):
            self._namespace(self.host_ns(i))
            self._link(self.host_ns(i), "front", f"tpr{self.n}f{i}", "f", self.front_ip(i))
            back_ip = f"{self.prefix(2)}.{10 + i}"
            self._link(self.host_ns(i), "back", f"tpr{self.n}b{i}", "b", back_ip)
        self._namespace(self.lb_ns)
        self._link(self.lb_ns, "front", f"tpr{self.n}f0", "f", self.lb_ip)
        return self

    def _bridge(self, kind: str, net: int) -> None:
        name = f"tpr{self.n}{kind}"
        _ip("link", "add", name, "type", "bridge")
        self._made.append(("link", "del", name))
        _ip("addr", "add", f"{self.prefix(net)}.1/24", "dev", name)
        _ip("link", "set", name, "up")

    def _namespace(self, ns: str) -> None:
        _ip("netns", "add", ns)
        self._made.append(("netns", "del", ns))
        _ip("-n", ns, "link", "set", "lo", "up")

    def _link(self, ns: str, inner: str, outer: str, bridge: str, address: str) -> None:
        _ip("link", "add", outer, "type", "veth", "peer", "name", inner, "netns", ns)
        _ip("link", "set", outer, "master", f"tpr{self.n}{bridge}", "up")
        _ip("-n", ns, "addr", "add", f"{address}/24", "dev", inner)
        _ip("-n", ns, "link", "set", inner, "up")

    def cut(self, i: int) -> None:
        """Host i loses its link to Redis (nginx still reaches it)."""
        _ip("-n", self.host_ns(i), "link", "set", "back", "down")

    def restore(self, i: int) -> None:
        _ip("-n", self.host_ns(i), "link", "set", "back", "up")

    def __exit__(self, *exc: object) -> None:
        for args in reversed(self._made):
            with contextlib.suppress(subprocess.CalledProcessError):
                _ip(*args)


class Nginx:
    """Debian's nginx in the load balancer's namespace, running deploy/nginx.conf unchanged."""

    def __init__(self, net: Network, work: Path) -> None:
        self.net = net
        self.work = work
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"https://{self.net.lb_ip}"

    @property
    def access_log(self) -> Path:
        return self.work / "log" / "tpr_ws.access.log"

    def start(self) -> Nginx:
        for sub in ("ssl/tpr-ws", "log"):
            (self.work / sub).mkdir(parents=True, exist_ok=True)
        hosts = "127.0.0.1 localhost\n" + "".join(
            f"{self.net.front_ip(i)} app-{i}.internal\n" for i in range(1, self.net.hosts + 1)
        )
        (self.work / "hosts").write_text(hosts)
        ssl = self.work / "ssl" / "tpr-ws"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", "/CN=tpr.example.org", "-keyout", str(ssl / "privkey.pem"),
             "-out", str(ssl / "fullchain.pem")],
            check=True, capture_output=True,
        )  # fmt: skip
        # The operator's top-level nginx.conf (Debian ships its own); ours only includes the
        # shipped file inside `http`.
        (self.work / "nginx.conf").write_text(
            f"pid {self.work}/nginx.pid;\nerror_log {self.work}/error.log info;\n"
            "worker_processes 1;\nevents { worker_connections 4096; }\n"
            f"http {{\n    include {NGINX_CONF};\n}}\n"
        )
        mounts = " && ".join(
            f"mount --bind {src} {dst}"
            for src, dst in (
                (self.work / "hosts", "/etc/hosts"),
                (self.work / "ssl", "/etc/ssl"),
                (self.work / "log", "/var/log/nginx"),
            )
        )
        script = f"{mounts} && exec nginx -c {self.work}/nginx.conf -g 'daemon off;'"
        with (self.work / "nginx.out").open("ab") as out:
            self.proc = subprocess.Popen(
                ["ip", "netns", "exec", self.net.lb_ns, "sh", "-c", script],
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        wait_for(lambda: self._up(), 30, "nginx")
        return self

    def _up(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError("nginx exited: " + (self.work / "nginx.out").read_text()[-2000:])
        import ssl as _ssl
        import urllib.request

        context = _ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = _ssl.CERT_NONE
        try:
            with urllib.request.urlopen(self.url + "/healthz", timeout=1, context=context) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, 15)
            self.proc.wait(timeout=30)


def hosts_deployment(
    net: Network, nginx: Nginx, log_dir: Path, *, workers: int = 2, appendfsync: str = "always"
) -> Deployment:
    """`tpr-ws serve` on port 8080 of every host, one Redis (AOF) on the back bridge, clients
    through nginx (not started)."""
    import secrets

    redis = EmbeddedRedis(
        data_dir=log_dir / "redis", appendonly=True, host=net.redis_ip, appendfsync=appendfsync
    ).start()
    secret = secrets.token_urlsafe(24)
    instances = []
    for i in range(1, net.hosts + 1):
        instance = ServeInstance(f"host{i}", redis.url, secret, log_dir, workers=workers)
        instance.host, instance.port, instance.netns = net.front_ip(i), 8080, net.host_ns(i)
        instances.append(instance)
    return Deployment(instances, redis, entry_urls=[nginx.url])
