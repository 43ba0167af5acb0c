"""Limits a client meets (invariant 9): who the client is, what it holds, how often it asks.

- The client address is the peer address or, when the peer is a trusted proxy, the address
  that proxy forwarded (``X-Forwarded-For``, read from the right); IPv6 clients count per /64.
- Concurrency caps (sockets, uploads in progress) are per worker: they protect the worker's
  own memory, disk and file descriptors, hold during a Redis outage, and need no cleanup after
  a crash.
- Windows (messages per session and per client, new sessions, upload bytes) are shared by
  every worker through Redis (`tpr_ws.registry.quotas`), so spreading requests over workers
  or sockets gains nothing.
"""

from __future__ import annotations

import asyncio
import ipaddress
import math
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from aiohttp import web

from tpr_ws.config import Settings
from tpr_ws.errors import ErrorCode, LimitReached, RateLimited
from tpr_ws.registry.quotas import Quotas

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _parse(text: str) -> Address | None:
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


class ClientAddresses:
    """Resolves a request's client address; trusts ``X-Forwarded-For`` only from proxies in
    the configured list, and only the hops those proxies appended (read from the right)."""

    def __init__(self, trusted_proxies: tuple[str, ...]) -> None:
        self._trusted: list[Network] = [
            ipaddress.ip_network(p, strict=False) for p in trusted_proxies
        ]

    def _is_trusted(self, address: Address) -> bool:
        return any(address in network for network in self._trusted)

    def resolve(self, peer: str | None, forwarded_for: list[str]) -> str:
        """The client's address as a limit key: the nearest hop that is not a trusted proxy."""
        current = _parse(peer or "")
        if current is None:
            return "unknown"
        hops = [h for header in forwarded_for for h in header.split(",")]
        for hop in reversed(hops):
            if not self._is_trusted(current):
                break
            forwarded = _parse(hop)
            if forwarded is None:  # garbage from the client side: stop at the proxy
                break
            current = forwarded
        return _limit_key(current)

    def of(self, request: web.Request) -> str:
        return self.resolve(request.remote, request.headers.getall("X-Forwarded-For", []))


def _limit_key(address: Address) -> str:
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        # One subscriber usually holds a whole /64: count it as one client.
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


class Slots:
    """This worker's concurrency caps: sockets per client, uploads per session and client."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._sockets: Counter[str] = Counter()
        self._uploads: Counter[str] = Counter()
        self._uploads_by_client: Counter[str] = Counter()

    @property
    def uploads_in_progress(self) -> int:
        return sum(self._uploads.values())

    @contextmanager
    def socket(self, client: str) -> Iterator[None]:
        """Hold one socket of `client`; LimitReached past the cap."""
        if self._sockets[client] >= self._settings.max_sockets_per_client:
            raise LimitReached(
                "Too many connections from your address; close some tabs and try again.",
                code=ErrorCode.TOO_MANY_SOCKETS,
            )
        with _held(self._sockets, client):
            yield

    @contextmanager
    def upload(self, sid: str, client: str) -> Iterator[None]:
        """Hold one upload in progress; LimitReached past either cap."""
        if self._uploads[sid] >= self._settings.max_uploads_per_session:
            raise LimitReached(
                "This session is already sending a file; wait until it is read.",
                code=ErrorCode.TOO_MANY_UPLOADS,
            )
        if self._uploads_by_client[client] >= self._settings.max_uploads_per_client:
            raise LimitReached(
                "Too many uploads from your address at once; wait until one is read.",
                code=ErrorCode.TOO_MANY_UPLOADS,
            )
        with _held(self._uploads, sid), _held(self._uploads_by_client, client):
            yield


@contextmanager
def _held(counter: Counter[str], key: str) -> Iterator[None]:
    counter[key] += 1
    try:
        yield
    finally:
        counter[key] -= 1
        if counter[key] <= 0:
            del counter[key]  # a bounded map: only keys that hold something


class Windows:
    """The limits shared by every worker, counted in Redis windows."""

    def __init__(self, quotas: Quotas, settings: Settings) -> None:
        self._quotas = quotas
        self._settings = settings

    async def message(self, sid: str, client: str) -> None:
        """Count one chat message against its session's and its client's windows."""
        s = self._settings
        window = s.rate_limit_window_s
        by_session, by_client = await asyncio.gather(
            self._quotas.hit(sid, "messages", window), self._quotas.hit(client, "messages", window)
        )
        if by_session.count > s.rate_limit_session_messages:
            raise _refused(
                "Too many messages in this session; wait a few seconds.",
                ErrorCode.SESSION_RATE_LIMITED,
                by_session.reset_in_s,
            )
        if by_client.count > s.rate_limit_client_messages:
            raise _refused(
                "Too many messages from your address; wait a few seconds.",
                ErrorCode.CLIENT_RATE_LIMITED,
                by_client.reset_in_s,
            )

    async def new_session(self, client: str) -> None:
        """Count one session creation against the client's window."""
        s = self._settings
        hit = await self._quotas.hit(client, "sessions", s.new_sessions_window_s)
        if hit.count > s.new_sessions_per_client:
            raise _refused(
                "Too many new sessions from your address; continue an open one or try later.",
                ErrorCode.TOO_MANY_SESSIONS,
                hit.reset_in_s,
            )

    async def upload_allowed(self, client: str) -> None:
        """Refuse an upload once the client's upload bytes in this window reach the quota."""
        await self.count_upload(client, 0)

    async def count_upload(self, client: str, size: int) -> None:
        """Add an upload's bytes to the client's window (0 checks only)."""
        s = self._settings
        hit = await self._quotas.hit(client, "upload-bytes", s.upload_quota_window_s, size)
        if size == 0 and hit.count >= s.upload_quota_bytes:
            mb = s.upload_quota_bytes // 1_048_576
            raise _refused(
                f"Your address has uploaded its {mb} MB for now; try again later.",
                ErrorCode.UPLOAD_QUOTA,
                hit.reset_in_s,
            )


def _refused(message: str, code: ErrorCode, reset_in_s: float) -> RateLimited:
    return RateLimited(message, code=code, retry_after_s=math.ceil(reset_in_s))
