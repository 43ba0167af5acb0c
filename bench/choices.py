"""A user of a dataset for bench/national.py: its session, its upload through the real
endpoint, the questions up to its first results, then choice changes that never repeat a
combination (a repeat would read the stored result object instead of computing it)."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from functools import cached_property

import aiohttp

from bench import loads
from bench.ingest import cached_file
from bench.national_report import Phase
from tpr_ws.actors.messages import AGES, LEVELS
from tpr_ws.domain.blob import dataset_key, file_sha256
from tpr_ws.domain.sample.generator import generate

KINDS = ("state", "level", "age")
Combo = tuple[str, str, str]
# The small files (tiny preset: 2 states x 4 levels x 4 age groups) allow this many changes.
MAX_CHANGES = 28


class Walk:
    """A dataset's choice changes: state, level and age group in turn, no combination twice."""

    def __init__(self, states: list[str], first: Combo) -> None:
        self.values = (states, list(LEVELS), list(AGES))
        self.now, self.seen, self.turn = first, {first}, 0

    def next(self) -> tuple[str, Combo]:
        """The text of the next change and the combination it asks for."""
        for shift in range(3):
            dim = (self.turn + shift) % 3
            for value in self.values[dim]:
                combo = tuple(value if d == dim else v for d, v in enumerate(self.now))
                if combo not in self.seen:
                    self.turn += 1
                    self.now = (combo[0], combo[1], combo[2])
                    self.seen.add(self.now)
                    return f"{KINDS[dim]}:{value}", self.now
        raise RuntimeError("every combination of this dataset was shown")


@dataclass
class User:
    sid: str
    token: str
    data: bytes
    name: str
    sock: loads.Socket | None = None
    walk: Walk | None = None

    @cached_property
    def key(self) -> str:
        return dataset_key(file_sha256(self.data))

    async def move(self, http: aiohttp.ClientSession, base: str) -> loads.Socket:
        """The user's socket on `base` (hello from the last seq it has: nothing to replay)."""
        last = 0
        if self.sock is not None:
            last = self.sock.last_seq
            await self.sock.ws.close()
        self.sock = await loads.Socket.open(http, base, self.sid, self.token, last)
        return self.sock


async def upload(http: aiohttp.ClientSession, base: str, user: User) -> float:
    """POST the user's file; seconds until the 202 (parsed and its turn committed)."""
    form = aiohttp.FormData()
    form.add_field("file", user.data, filename=user.name, content_type="application/octet-stream")
    headers = {"Authorization": f"Bearer {user.token}", "Idempotency-Key": uuid.uuid4().hex}
    started = time.perf_counter()
    async with http.post(f"{base}/api/sessions/{user.sid}/upload", data=form,
                         headers=headers) as r:  # fmt: skip
        if r.status != 202:
            raise RuntimeError(f"upload of {user.name}: HTTP {r.status} {await r.text()}")
    return time.perf_counter() - started


async def first_results(http: aiohttp.ClientSession, base: str, user: User, i: int) -> None:
    """Open the user's socket and answer the questions (a state picked by `i`, the first
    available level and age group) until its first results; start its walk there."""
    sock = await user.move(http, base)
    states: list[str] = []
    while (stage := sock.bot.get("stage")) != "results":
        values = [o["value"] for o in sock.bot.get("options") or [] if o.get("available", True)]
        if stage == "select_state":
            states = values
        if not values:
            raise RuntimeError(f"no choice offered: {sock.bot.get('text', '')[:200]}")
        if not await sock.turn(values[i % len(values)] if stage == "select_state" else values[0]):
            raise RuntimeError(f"{values[0]!r} refused at {stage}")
    params = sock.bot["data"]["params"]
    user.walk = Walk(states or [params["state"]], (params["state"], params["level"], params["age"]))


async def change(user: User, phase: Phase) -> None:
    """One choice change: its latency, or an error if refused or answered with other params."""
    assert user.sock is not None and user.walk is not None
    text, combo = user.walk.next()
    started = time.perf_counter()
    ok = await user.sock.turn(text)
    elapsed = time.perf_counter() - started
    params = (user.sock.bot.get("data") or {}).get("params") or {}
    if ok and (params.get("state"), params.get("level"), params.get("age")) == combo:
        phase.latencies.append(elapsed)
    else:
        phase.errors += 1


def _client() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0), timeout=aiohttp.ClientTimeout(total=None)
    )


async def new_users(
    http: aiohttp.ClientSession, base: str, files: list[tuple[bytes, str]], at_once: int
) -> tuple[list[User], list[float]]:
    """A session per file, each file uploaded (`at_once` at a time); users and upload times."""
    sessions = await loads.create_sessions(http, base, len(files))
    users = [User(s, t, d, n) for (s, t), (d, n) in zip(sessions, files, strict=True)]
    gate = asyncio.Semaphore(at_once)

    async def one(user: User) -> float:
        async with gate:
            return await upload(http, base, user)

    return users, list(await asyncio.gather(*(one(u) for u in users)))


def national_files(users: int, rows: int | None) -> list[tuple[bytes, str]]:
    """The users' workbooks, distinct seeds, generated once and then read from the cache."""
    paths = [cached_file(rows, "B", seed) for seed in range(users)]
    return [(p.read_bytes(), p.name) for p in paths]


def small_files(n: int, run: int) -> list[tuple[bytes, str]]:
    """n small files (tiny preset) never uploaded before in this bench: seeds by run."""
    made = [generate("B", "tiny", seed=100_000 + run * 1_000 + i) for i in range(n)]
    return [(m.data, m.file_name) for m in made]
