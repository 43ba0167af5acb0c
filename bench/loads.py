"""Client loads for bench/chat.py: users (closed loop), one hot session, a reconnect storm.

Each load prepares its sessions and sockets first, then runs a timed phase; the caller reads
server CPU and Redis counters around `timed` (a callback pair). A turn is complete when the
sender has its ack and the turn's bot reply (inside the ack, or as an event frame after it).
"""

from __future__ import annotations

import asyncio
import collections
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

TEXTS = ("status", "help", "what is this", "back")
TIMEOUT_S = 60.0


@dataclass
class Outcome:
    """What one timed phase saw."""

    done: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    lost: int = 0
    duplicated: int = 0
    errors: int = 0
    per_client: list[int] = field(default_factory=list)


Marks = tuple[Callable[[], None], Callable[[], None]]


class Socket:
    """One client socket: say/await a whole turn; checks acks and event seqs for duplicates."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, sid: str) -> None:
        self.ws = ws
        self.sid = sid
        self.last_seq = 0
        self.acks: set[str] = set()
        self.duplicated = 0
        self.errors = 0
        self.worker = ""  # the worker that welcomed this socket ("host:pid")
        self.bot: dict[str, Any] = {}  # the latest bot event (not progress) seen
        self.seen: collections.deque[tuple[str, Any, Any]] = collections.deque(maxlen=6)

    @classmethod
    async def open(
        cls, http: aiohttp.ClientSession, base: str, sid: str, token: str, last_seq: int
    ) -> Socket:
        ws = await http.ws_connect(base.replace("http", "ws", 1) + "/ws", autoping=True)
        hello = {"type": "hello", "session_id": sid, "token": token, "last_seq": last_seq,
                 "protocol": 2}  # fmt: skip
        await ws.send_str(orjson.dumps(hello).decode())
        sock = cls(ws, sid)
        sock.last_seq = last_seq
        welcome = await sock._until(lambda f: f["type"] == "welcome")
        sock.worker = str(welcome.get("worker", ""))
        target = int(welcome["last_seq"]) if welcome["type"] == "welcome" else 0
        while sock.last_seq < target and welcome.get("worker") != "base":
            await sock._frame()
        return sock

    def _events(self, events: Iterable[dict[str, Any]]) -> None:
        for event in events:
            seq = int(event.get("seq", 0))
            if seq and seq <= self.last_seq:
                self.duplicated += 1
            if event.get("role") == "bot" and not (event.get("data") or {}).get("progress"):
                self.bot = event
            self.last_seq = max(self.last_seq, seq)

    async def _frame(self) -> dict[str, Any]:
        try:
            msg = await asyncio.wait_for(self.ws.receive(), TIMEOUT_S)
        except TimeoutError:
            raise TimeoutError(f"no frame in {TIMEOUT_S:.0f} s; last: {list(self.seen)}") from None
        if msg.type != aiohttp.WSMsgType.TEXT:
            raise ConnectionError(f"socket closed: {msg.type} {msg.data!r}")
        frame: dict[str, Any] = orjson.loads(msg.data)
        kind = frame["type"]
        self.seen.append((kind, frame.get("id") or frame.get("reply_to"), frame.get("seq")))
        if kind == "event":
            self._events([frame])
        elif kind == "ack":
            self._events(frame.get("events") or [])
        elif kind == "resync":
            self.last_seq = int(frame["last_seq"])
        elif kind == "error":
            self.errors += 1
        return frame

    async def _until(self, done: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        while True:
            frame = await self._frame()
            if done(frame) or frame["type"] == "error":
                return frame

    async def turn(self, text: str) -> bool:
        """Send one say and wait for its ack and its bot reply; False if refused."""
        mid = uuid.uuid4().hex
        await self.ws.send_str(orjson.dumps({"type": "say", "id": mid, "text": text}).decode())
        acked = replied = False
        while not (acked and replied):
            frame = await self._frame()
            kind = frame["type"]
            if kind == "error":
                return False
            if kind == "ack" and frame["id"] == mid:
                if mid in self.acks:
                    self.duplicated += 1
                self.acks.add(mid)
                acked = True
                events = frame.get("events")
                # The ack carries the turn's events not sent yet (protocol 2): the bot reply
                # may have come before it, as an event frame, and the ack then carries none.
                replied = replied or any(e.get("role") == "bot" for e in events or ())
            elif kind == "event" and frame.get("reply_to") == mid and frame["role"] == "bot":
                replied = True
        return True


async def create_sessions(http: aiohttp.ClientSession, base: str, n: int) -> list[tuple[str, str]]:
    """n new sessions (id, token), at most 32 requests at a time."""
    gate = asyncio.Semaphore(32)

    async def one() -> tuple[str, str]:
        async with gate, http.post(base + "/api/sessions") as r:
            body = await r.json()
        return body["session_id"], body["token"]

    return list(await asyncio.gather(*(one() for _ in range(n))))


async def _open_all(
    http: aiohttp.ClientSession, base: str, sessions: list[tuple[str, str]]
) -> list[Socket]:
    gate = asyncio.Semaphore(64)

    async def one(sid: str, token: str) -> Socket:
        async with gate:
            return await Socket.open(http, base, sid, token, 0)

    return list(await asyncio.gather(*(one(s, t) for s, t in sessions)))


async def _closed_loop(
    socks: list[Socket], turns_each: int | None, budget: int, marks: Marks
) -> Outcome:
    """Every socket says, waits for the whole turn, says again; stops after `turns_each`
    turns per socket, or once `budget` turns are done in all (then counts per socket)."""
    out = Outcome(per_client=[0] * len(socks))
    stop = asyncio.Event()

    async def client(i: int, sock: Socket) -> None:
        n = 0
        while not stop.is_set() and (turns_each is None or n < turns_each):
            started = time.perf_counter()
            ok = await sock.turn(TEXTS[(i + n) % len(TEXTS)])
            n += 1
            if not ok:
                out.errors += 1
                continue
            out.latencies.append(time.perf_counter() - started)
            out.per_client[i] += 1
            out.done += 1
            if out.done >= budget:
                stop.set()

    marks[0]()
    started = time.perf_counter()
    results = await asyncio.gather(
        *(client(i, s) for i, s in enumerate(socks)), return_exceptions=True
    )
    out.seconds = time.perf_counter() - started
    marks[1]()
    failed = [r for r in results if isinstance(r, BaseException)]
    out.lost = len(failed)
    if failed:  # a client that gave up: say why (a closed socket, a timeout)
        kinds = collections.Counter(f"{type(r).__name__}: {str(r)[:120]}" for r in failed)
        print(f"  ({len(failed)} of {len(socks)} clients stopped: {dict(kinds)})", flush=True)
    out.duplicated = sum(s.duplicated for s in socks)
    return out


def _client() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0), timeout=aiohttp.ClientTimeout(total=None)
    )


async def users(base: str, n: int, turns: int, marks: Marks) -> Outcome:
    """n users, one session and one socket each, `turns` says each in a closed loop."""
    async with _client() as http:
        socks = await _open_all(http, base, await create_sessions(http, base, n))
        try:
            out = await _closed_loop(socks, turns, n * turns, marks)
            out.lost = n * turns - out.done - out.errors
            return out
        finally:
            await asyncio.gather(*(s.ws.close() for s in socks))


async def hot(base: str, clients: int, turns: int, marks: Marks) -> Outcome:
    """`clients` sockets on one session, each saying in a closed loop, until clients x turns
    turns are done in all; per-socket counts show the fairness of the queue."""
    async with _client() as http:
        ((sid, token),) = await create_sessions(http, base, 1)
        socks = await _open_all(http, base, [(sid, token)] * clients)
        try:
            return await _closed_loop(socks, None, clients * turns, marks)
        finally:
            await asyncio.gather(*(s.ws.close() for s in socks))


async def storm(base: str, n: int, marks: Marks) -> Outcome:
    """n sockets opening at once, each with hello from the last seq it knows (up to date:
    the replay is empty); latency = from the storm's start to that socket's welcome."""
    async with _client() as http:
        sessions = await create_sessions(http, base, n)
        out = Outcome()
        socks: list[Socket] = []

        async def one(sid: str, token: str, t0: float) -> None:
            try:
                sock = await Socket.open(http, base, sid, token, 1)
            except (TimeoutError, OSError, aiohttp.ClientError) as exc:
                out.errors += 1
                why[type(exc).__name__] += 1
                return
            socks.append(sock)
            if sock.errors:
                out.errors += 1
                why["error frame"] += 1
                return
            out.latencies.append(time.perf_counter() - t0)
            out.done += 1

        why: collections.Counter[str] = collections.Counter()
        marks[0]()
        t0 = time.perf_counter()
        await asyncio.gather(*(one(s, t, t0) for s, t in sessions))
        if why:
            print(f"  ({base}: {n} sockets, errors by kind: {dict(why)})", flush=True)
        out.seconds = time.perf_counter() - t0
        marks[1]()
        out.lost = n - out.done - out.errors
        await asyncio.gather(*(s.ws.close() for s in socks), return_exceptions=True)
        return out
