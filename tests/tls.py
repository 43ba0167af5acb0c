"""TLS in front of the suite's Redis: certificates made at test time and a terminator that
forwards the decrypted bytes to the embedded server, as stunnel or haproxy would in front of a
real one (the embedded binary has no TLS of its own).

Certificates come from the `cryptography` package (a test dependency), else from `openssl` on
PATH. The server's certificate names ``localhost`` only (not 127.0.0.1), so a URL with the
address fails the host name check unless it says ``ssl_check_hostname=false``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import shutil
import ssl
import subprocess
import threading
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

T = TypeVar("T")


@dataclass(frozen=True)
class Certs:
    """PEM files: a CA, the server's certificate and key (signed by it, for ``localhost``),
    a client certificate and key (signed by it), and an unrelated CA (the wrong one)."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path

    def url(self, port: int, host: str = "localhost", **params: str) -> str:
        """A ``rediss://`` URL to the terminator, trusting the test CA unless told otherwise."""
        query = {"ssl_ca_certs": str(self.ca), **params}
        text = "&".join(f"{k}={quote(v, safe='/')}" for k, v in query.items())
        return f"rediss://{host}:{port}/0?{text}"


def make_certs(directory: Path) -> Certs:
    """Write a fresh set of certificates into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    try:
        import cryptography  # noqa: F401
    except ImportError:
        return _with_openssl(directory)
    return _with_cryptography(directory)


def _with_cryptography(d: Path) -> Certs:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)

    def write(path: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
        path.with_suffix(".crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        path.with_suffix(".key").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )

    def issue(
        name: str,
        issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None,
        usage: x509.ObjectIdentifier | None = None,
    ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer[0].subject if issuer else subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), True)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
        )
        if issuer is None:
            builder = builder.add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False), True
            )
        else:
            ski = issuer[0].extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski.value), False
            ).add_extension(x509.ExtendedKeyUsage([usage] if usage else []), False)
            if usage == ExtendedKeyUsageOID.SERVER_AUTH:
                builder = builder.add_extension(
                    x509.SubjectAlternativeName([x509.DNSName("localhost")]), False
                )
        return builder.sign((issuer or (None, key))[1], hashes.SHA256()), key

    ca = issue("tpr_ws test CA", None)
    write(d / "ca", *ca)
    write(d / "server", *issue("localhost", ca, ExtendedKeyUsageOID.SERVER_AUTH))
    write(d / "client", *issue("tpr_ws worker", ca, ExtendedKeyUsageOID.CLIENT_AUTH))
    write(d / "other-ca", *issue("another CA", None))
    return _paths(d)


def _with_openssl(d: Path) -> Certs:
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("TLS tests need the cryptography package or openssl on PATH")

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], check=True, capture_output=True, cwd=d)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for name, cn in (("ca", "tpr_ws test CA"), ("other-ca", "another CA")):
        run("req", "-x509", *ec, "-keyout", f"{name}.key", "-out", f"{name}.crt",
            "-days", "2", "-subj", f"/CN={cn}",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")  # fmt: skip
    leaves = {
        "server": ("localhost", "extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost\n"),
        "client": ("tpr_ws worker", "extendedKeyUsage=clientAuth\n"),
    }
    for name, (cn, extensions) in leaves.items():
        (d / f"{name}.ext").write_text("basicConstraints=CA:FALSE\n" + extensions)
        run("req", "-new", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr",
            "-subj", f"/CN={cn}")  # fmt: skip
        run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext",
            "-out", f"{name}.crt")  # fmt: skip
    return _paths(d)


def _paths(d: Path) -> Certs:
    return Certs(
        ca=d / "ca.crt",
        server_cert=d / "server.crt",
        server_key=d / "server.key",
        client_cert=d / "client.crt",
        client_key=d / "client.key",
        other_ca=d / "other-ca.crt",
    )


class TlsTerminator:
    """Accepts TLS on a loopback port and forwards the bytes to ``backend`` (host, port).

    It runs its own event loop in a thread: the workers the transport tests start connect
    through it while the test's own loop is blocked waiting for them to be ready.
    ``client_ca`` makes it require a client certificate signed by that CA (mutual TLS)."""

    def __init__(self, certs: Certs, backend: tuple[str, int], client_ca: Path | None = None):
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(certs.server_cert, certs.server_key)
        if client_ca is not None:
            self.context.verify_mode = ssl.CERT_REQUIRED
            self.context.load_verify_locations(client_ca)
        self.backend = backend
        self.port = 0
        self.handshakes = 0
        """Connections that completed the TLS handshake."""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    def __enter__(self) -> TlsTerminator:
        self._thread.start()
        self._server = self._call(self._listen())
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def __exit__(self, *exc: object) -> None:
        self._call(self._close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def drop_all(self) -> int:
        """Cut every forwarded connection (both sides), as a restarted proxy would; returns
        how many were cut."""
        return self._call(self._drop())

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    async def _listen(self) -> asyncio.Server:
        return await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.context)

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        self.handshakes += 1
        try:
            server_r, server_w = await asyncio.open_connection(*self.backend)
        except OSError:
            client_w.close()
            return
        self._writers |= {client_w, server_w}
        try:
            await asyncio.gather(_pump(client_r, server_w), _pump(server_r, client_w))
        finally:
            for w in (client_w, server_w):
                self._writers.discard(w)
                w.close()

    async def _drop(self) -> int:
        cut = len(self._writers) // 2
        for w in list(self._writers):
            w.transport.abort()
        return cut

    async def _close(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._drop()
        await self._server.wait_closed()


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, ssl.SSLError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    with contextlib.suppress(OSError, RuntimeError):
        writer.close()
