"""TLS for the registry's own connections (the `Pipe` and the `Subscriber`), read from the
Redis URL exactly as redis-py reads it.

A ``rediss://`` URL asks for TLS; its query parameters (``ssl_cert_reqs`` none / optional /
required, ``ssl_ca_certs``, ``ssl_ca_path``, ``ssl_certfile``, ``ssl_keyfile``,
``ssl_check_hostname``, ``ssl_min_version``, ``ssl_ciphers``, ...) shape the context. The
context is made by redis-py's own `SSLConnection` from those parameters, so its defaults are
redis-py's (the server's certificate required and its host name checked, against the system's
CAs unless ``ssl_ca_certs`` names others) and a worker's three kinds of connection (redis-py's
pool, the pipe, pub/sub) trust and present the same certificates.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import Any

from redis.asyncio.connection import SSLConnection


def uses_tls(params: Mapping[str, Any]) -> bool:
    """Whether the parameters of `redis.asyncio.connection.parse_url` ask for TLS."""
    return params.get("connection_class") is SSLConnection


def client_context(params: Mapping[str, Any]) -> ssl.SSLContext | None:
    """The client context for the parameters of `parse_url` (None for a plain URL).

    Raises what redis-py raises for the same URL: RedisError for an unknown ``ssl_cert_reqs``,
    OSError for a certificate file that cannot be read, ssl.SSLError for one that is not PEM.
    """
    if not uses_tls(params):
        return None
    options = {name: value for name, value in params.items() if name.startswith("ssl_")}
    context: ssl.SSLContext = SSLConnection(**options).ssl_context.get()
    return context


def server_hostname(context: ssl.SSLContext | None, host: str) -> str | None:
    """The name the server's certificate must carry (sent as SNI): the host connected to, as
    redis-py does; None without TLS (asyncio refuses a name on a plain connection)."""
    return host if context is not None else None
