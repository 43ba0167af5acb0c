"""The shipped nginx config, run for real in front of a worker, logs no query strings: a signed
download link's signature never reaches its access log."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.harness import REPO
from tpr_ws.embedded import free_port

pytestmark = pytest.mark.slow
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def loopback_config(shipped: str, worker_port: int, port: int, logs: Path) -> str:
    """The shipped server block on loopback: the upstream is our worker, plain HTTP, and the
    access log in a temporary directory (its format and the rest unchanged)."""
    upstream = rf"\1\n    server 127.0.0.1:{worker_port};\n    \2"
    text = re.sub(r"(upstream tpr_ws \{).*?(keepalive)", upstream, shipped, flags=re.S)
    text = text.replace("listen 443 ssl http2;", f"listen 127.0.0.1:{port};")
    text = re.sub(r"\n\s*ssl_certificate(_key)? [^;]*;", "", text)  # plain HTTP: no certificate
    text = re.sub(r"access_log \S+", f"access_log {logs / 'access.log'}", text)
    assert f"access_log {logs / 'access.log'} tpr_ws_paths;" in text
    return text


def start_nginx(conf: str, tmp: Path, port: int) -> subprocess.Popen[bytes]:
    (tmp / "site.conf").write_text(conf)
    main = tmp / "nginx.conf"
    main.write_text(
        f"daemon off; pid {tmp / 'nginx.pid'}; error_log {tmp / 'error.log'};\n"
        "events {}\n"
        f"http {{ client_body_temp_path {tmp}; proxy_temp_path {tmp}; access_log off;\n"
        f"  include {tmp / 'site.conf'}; }}\n"
    )
    with (tmp / "stderr.log").open("wb") as err:
        proc = subprocess.Popen([NGINX, "-c", str(main), "-p", str(tmp)], stderr=err)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError((tmp / "stderr.log").read_text())
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nginx did not start")


def test_shipped_log_format_has_no_query_string() -> None:
    shipped = (REPO / "deploy" / "nginx.conf").read_text()
    formats = dict(re.findall(r"log_format\s+(\S+)\s+((?:'[^']*'\s*)+);", shipped))
    assert set(re.findall(r"access_log\s+\S+\s+(\S+);", shipped)) == {"tpr_ws_paths"}
    assert not re.search(
        r"\$(request\b|request_uri|args|query_string|arg_)", formats["tpr_ws_paths"]
    )


async def test_a_signed_download_through_nginx_leaves_no_signature_in_its_log(
    worker_factory, client_factory, http, tmp_path
) -> None:
    (w,) = worker_factory(1)
    port = free_port()
    conf = loopback_config((REPO / "deploy" / "nginx.conf").read_text(), w.port, port, tmp_path)
    proc = start_nginx(conf, tmp_path, port)
    try:
        base = f"http://127.0.0.1:{port}"
        c = client_factory()
        await c.create_session(base)
        await c.connect(w.url)
        for reply in ("sample", "Adamawa", "all", "all ages"):
            await c.say(reply)
        results = await c.wait_stage("results")
        link = (await c.links(base, results["data"]["analysis"]["key"]))["links"]["csv"]
        async with http.get(base + link) as r:
            assert r.status == 200 and (await r.read()).startswith(b"State,")
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    log = (tmp_path / "access.log").read_text()
    path, query = link.split("?")
    assert f"GET {path} " in log
    assert "sig=" not in log and query.split("sig=")[1] not in log and c.token not in log
