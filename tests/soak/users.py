"""A virtual user: whole workflows, each step on a fresh socket to another instance, every
failed attempt retried with the same message id (or upload Idempotency-Key)."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
import pandas as pd

from tests.harness import ChatClient
from tests.soak.oracle_csv import csv_problems
from tests.soak.record import Recorder, Session
from tpr_ws.errors import RETRYABLE

T = TypeVar("T")


@dataclass(frozen=True)
class SoakConfig:
    """How hard a user pushes and what counts as a stall."""

    attempt_timeout_s: float = 10.0  # one attempt: a welcome, an ack, a reply, an upload
    stall_s: float = 30.0  # a step (all its attempts) longer than this is a stall
    give_up_s: float = 60.0  # a step still failing after this ends its workflow
    drop_rate: float = 0.15  # chance that a step's first attempt drops its socket on purpose
    tab_every: int = 3  # every n-th user keeps a second tab open on another instance
    upload_every: int = 3  # every n-th workflow uploads a generated file, the others the sample


@dataclass(frozen=True)
class Dataset:
    """What a workflow analyses: the sample (data None) or a file to upload, and its truth."""

    name: str
    data: bytes | None
    truth: pd.DataFrame


class Retry(Exception):
    """An attempt failed in a way the client retries (same id, another instance)."""


class Dropped(Exception):
    """The user dropped the socket on purpose before the answer (not an error)."""


class WorkflowFailed(Exception):
    """The workflow cannot go on (recorded as a violation)."""


def _stage(reply: dict[str, Any]) -> str:
    return str(reply.get("stage"))


class VirtualUser:
    """Loops over whole workflows until the deadline (see module docstring)."""

    def __init__(
        self,
        number: int,
        urls: Sequence[str],
        http: aiohttp.ClientSession,
        recorder: Recorder,
        config: SoakConfig,
        datasets: Sequence[Dataset],
    ) -> None:
        self.number = number
        self.urls = list(urls)
        self.http = http
        self.rec = recorder
        self.cfg = config
        self.datasets = list(datasets)
        self.rng = random.Random(number)
        self._turn = number
        self._workflows = 0
        self.doing = "starting"  # what the user waits on now (shown if a run overruns)

    def _url(self) -> str:
        """The next instance, round robin: never the one the previous step used."""
        self._turn += 1
        return self.urls[self._turn % len(self.urls)]

    async def run(self, running: Callable[[], bool]) -> None:
        """Workflow after workflow while `running()` (the one in progress always finishes)."""
        while running():
            try:
                await self.workflow()
            except WorkflowFailed as exc:
                self.rec.violation(f"user {self.number}: {exc}")

    async def workflow(self) -> None:
        """Create a session, load data, choose, download, change a choice, download, status."""
        self._workflows += 1
        session = await self._step("create", lambda n: self._create())
        client = ChatClient(self.http)
        client.sid, client.token = session.sid, session.token
        tab = Tab(self, session) if self.number % self.cfg.tab_every == 0 else None
        try:
            if tab is not None:
                await tab.open()
            await self._analyse(client, session, tab)
            if tab is not None:
                await tab.caught_up(client.last_seq, self.cfg.stall_s)
        finally:
            await client.disconnect()
            self.rec.close_codes.update(client.close_codes)
            for anomaly in client.anomalies:
                self.rec.violation(f"session {session.sid}: {anomaly}; {_recent(client)}")
            if tab is not None:
                session.tabs.append(await tab.close())
        self.rec.workflows += 1

    async def _analyse(self, client: ChatClient, session: Session, tab: Tab | None) -> None:
        use_upload = self._workflows % self.cfg.upload_every == 0 and len(self.datasets) > 1
        dataset = self.rng.choice(self.datasets[1:]) if use_upload else self.datasets[0]
        if dataset.data is None:
            reply = await self._say(client, session, "sample")
        else:
            reply = await self._upload(client, session, dataset)
        choice: dict[str, str] = {}
        if _stage(reply) == "select_facility_level":  # a one-state file skips the question
            choice["state"] = str(dataset.truth["state"].iloc[0])
        for stage, kind in (
            ("select_state", "state"),
            ("select_facility_level", "level"),
            ("select_age_group", "age"),
        ):
            if kind in choice:
                continue
            self._expect(reply, stage)
            choice[kind] = self._pick(reply)
            reply = await self._say(client, session, choice[kind])
            if tab is not None:
                await tab.caught_up(client.last_seq, self.cfg.stall_s)
        self._expect(reply, "results")
        await self._download(client, dataset, choice)
        kind = self.rng.choice(["age", "level"])
        reply = await self._say(client, session, f"change {kind}")
        self._expect(reply, {"age": "select_age_group", "level": "select_facility_level"}[kind])
        choice[kind] = self._pick(reply, avoid=choice[kind])
        reply = await self._say(client, session, choice[kind])
        self._expect(reply, "results")
        await self._download(client, dataset, choice)
        self._expect(await self._say(client, session, "status"), "results")

    def _expect(self, reply: dict[str, Any], stage: str) -> None:
        if _stage(reply) != stage:
            raise WorkflowFailed(f"expected stage {stage}, got {_stage(reply)}: {reply['text']!r}")

    def _pick(self, reply: dict[str, Any], avoid: str | None = None) -> str:
        values = [
            str(o["value"])
            for o in reply.get("options", [])
            if o.get("available", True) is not False and o["value"] != avoid
        ]
        if not values:
            raise WorkflowFailed(f"no option to pick in {reply['text']!r}")
        return self.rng.choice(values)

    # -- steps ---------------------------------------------------------------------------

    async def _step(self, name: str, attempt: Callable[[int], Awaitable[T]]) -> T:
        """Attempt until success: every failure is recorded and retried after a short backoff
        (the attempt itself reconnects to another instance)."""
        started = time.monotonic()
        n = 0
        seen: list[str] = []
        while True:
            n += 1
            began = time.monotonic()
            self.doing = f"{name} attempt {n} since {began:.1f}"
            try:
                result = await attempt(n)
            except Dropped:
                continue
            except (Retry, TimeoutError, OSError, aiohttp.ClientError) as exc:
                what = f"{name}: {type(exc).__name__}: {exc}"
                if isinstance(exc, TimeoutError):  # say what it waited for
                    what += f" ({self.doing})"
                what = what[:600]
                seen.append(f"{time.monotonic() - began:.1f}s {what}")
                self.rec.error(began, what)
                if time.monotonic() - started > self.cfg.give_up_s:
                    raise WorkflowFailed(f"{name} still failing after {n} attempts") from exc
                await asyncio.sleep(min(0.05 * 2**n, 1.0) * (0.5 + self.rng.random()))
                continue
            self.rec.step(name, started, n - 1, tuple(seen))
            self.doing = f"between steps since {time.monotonic():.1f}"
            return result

    async def _create(self) -> Session:
        async with asyncio.timeout(self.cfg.attempt_timeout_s):
            async with self.http.post(self._url() + "/api/sessions") as r:
                if r.status != 201:
                    raise Retry(f"create: HTTP {r.status}")
                body = await r.json()
        session = Session(body["session_id"], body["token"])
        self.rec.sessions[session.sid] = session
        return session

    async def _connect(self, client: ChatClient) -> None:
        """A fresh socket to another instance; the hello carries the last seq seen. After a
        1001 (a worker going away) it records how long the client took to be back."""
        going_away = bool(client.close_codes) and client.close_codes[-1] == 1001
        closed_at = client.closed_at
        url = self._url()
        self.doing = f"hello at {url}"
        await client.connect(url, timeout=self.cfg.attempt_timeout_s)
        self.rec.workers_seen.add(str(client.welcome.get("worker")))
        if going_away and closed_at is not None:
            self.rec.back_after_1001.append(time.monotonic() - closed_at)

    async def _say(self, client: ChatClient, session: Session, text: str) -> dict[str, Any]:
        mid = uuid.uuid4().hex

        async def attempt(n: int) -> dict[str, Any]:
            await self._connect(client)
            if n == 1 and self.rng.random() < self.cfg.drop_rate:
                await client.say(text, mid=mid, wait=False)
                # Gone before the ack (sometimes before the turn ran, sometimes after it
                # committed): the same id goes again, and must have one effect.
                await asyncio.sleep(self.rng.uniform(0.0, 0.05))
                await client.disconnect()
                self.rec.resends += 1
                raise Dropped
            self.doing = f"say: the ack of {mid} from {client.welcome.get('worker')}"
            frame = await client.say(text, mid=mid, timeout=self.cfg.attempt_timeout_s)
            if frame["type"] == "error":
                _raise_for(frame)
            if mid not in session.acked:
                session.acked.append(mid)
            self.doing = f"say: the reply to {mid}, {_recent(client)}"
            return await self._reply(client, mid)

        return await self._step("say", attempt)

    async def _upload(self, client: ChatClient, session: Session, ds: Dataset) -> dict[str, Any]:
        key = uuid.uuid4().hex
        assert ds.data is not None
        data = ds.data

        async def attempt(n: int) -> dict[str, Any]:
            await self._connect(client)  # progress and the summary arrive on the socket
            send = client.upload(self._url(), data, ds.name, key=key)
            if n == 1 and self.rng.random() < self.cfg.drop_rate:
                task = asyncio.ensure_future(send)
                await asyncio.sleep(self.rng.uniform(0.0, 0.3))
                task.cancel()  # the connection drops mid-request: the same key goes again
                with contextlib.suppress(BaseException):
                    await task
                self.rec.resends += 1
                raise Dropped
            async with asyncio.timeout(self.cfg.attempt_timeout_s * 3):
                status, body = await send
            if status == 429 or status >= 500:
                raise Retry(f"upload: HTTP {status} {body}")
            if status != 202:
                raise WorkflowFailed(f"upload refused: HTTP {status} {body}")
            mid = f"upload:{key}"
            if mid not in session.acked:
                session.acked.append(mid)
            return await self._reply(client, mid)

        return await self._step("upload", attempt)

    async def _reply(self, client: ChatClient, mid: str) -> dict[str, Any]:
        """The bot's answer to `mid` (progress events aside), as this socket receives it."""

        def reply() -> dict[str, Any] | None:
            for event in reversed(client.events):
                if event["reply_to"] == mid and event["role"] == "bot" and event["stage"]:
                    return event
            return None

        await client.wait_until(
            lambda: reply() is not None or client.closed, timeout=self.cfg.attempt_timeout_s
        )
        found = reply()
        if found is None:
            raise Retry("socket closed before the reply")
        return found

    async def _download(self, client: ChatClient, ds: Dataset, choice: dict[str, str]) -> None:
        async def attempt(n: int) -> bytes:
            async with asyncio.timeout(self.cfg.attempt_timeout_s):
                status, body, _ = await client.download(self._url(), "results.csv")
            if status == 429 or status >= 500:
                raise Retry(f"download: HTTP {status}")
            if status != 200:
                raise WorkflowFailed(f"download refused: HTTP {status} {body[:200]!r}")
            return body

        body = await self._step("download", attempt)
        problems = csv_problems(body, ds.truth, choice["state"], choice["level"], choice["age"])
        self.rec.downloads_checked += 1
        for problem in problems[:3]:
            self.rec.violation(f"download {ds.name} {choice}: {problem}")


def _recent(client: ChatClient) -> str:
    """The last frames a client received, briefly (to explain an anomaly)."""
    brief = [
        f"{f['type']}:{f.get('seq', f.get('last_seq', ''))}:{f.get('reply_to', f.get('id', ''))}"
        f":{f.get('worker', f.get('code', ''))}:{f.get('_ws')}"
        for f in client.frames[-12:]
    ]
    return "last frames " + " ".join(brief)


def _raise_for(frame: dict[str, Any]) -> None:
    if frame.get("code") in RETRYABLE:
        raise Retry(f"error {frame.get('code')}: {frame.get('message')}")
    raise WorkflowFailed(f"refused: {frame}")


class Tab:
    """A second tab of the session on another instance: it only listens, reconnecting with its
    last seq whenever its socket goes; it must end up holding exactly the session's log."""

    def __init__(self, user: VirtualUser, session: Session) -> None:
        self.user = user
        self.client = ChatClient(user.http)
        self.client.sid, self.client.token = session.sid, session.token
        self._keeper: asyncio.Task[None] | None = None

    async def open(self) -> None:
        await self.user._step("tab", lambda n: self.user._connect(self.client))
        self._keeper = asyncio.create_task(self._keep())

    async def _keep(self) -> None:
        while True:
            await self.client.wait_until(lambda: self.client.closed, timeout=3600)
            await self.user._step("tab", lambda n: self.user._connect(self.client))

    async def caught_up(self, seq: int, bound: float) -> None:
        """Wait until the tab has seen `seq` live; a tab further behind than `bound` is a stall."""
        started = time.monotonic()
        try:
            await self.client.wait_until(lambda: self.client.last_seq >= seq, timeout=bound)
        except TimeoutError:
            windows = [(w.action, round(w.started), round(w.ended)) for w in self.user.rec.windows]
            self.user.rec.violation(
                f"tab of {self.client.sid} stalled: at {self.client.last_seq}, log at {seq} "
                f"(t={time.monotonic():.0f}, on {self.client.welcome.get('worker')}, closed "
                f"{self.client.closed}; chaos {windows[-3:]}; {_recent(self.client)})"
            )
        self.user.rec.tab_lags.append(time.monotonic() - started)

    async def close(self) -> list[dict[str, Any]]:
        keeper = self._keeper
        while keeper is not None and not keeper.done():
            keeper.cancel()  # again if a cancellation got lost in a race with a wake-up
            await asyncio.wait([keeper], timeout=1.0)
        if keeper is not None and not keeper.cancelled() and keeper.exception() is not None:
            self.user.rec.violation(f"tab of {self.client.sid} gave up: {keeper.exception()}")
        await self.client.disconnect()
        self.user.rec.close_codes.update(self.client.close_codes)
        for anomaly in self.client.anomalies:
            self.user.rec.violation(f"tab of {self.client.sid}: {anomaly}; {_recent(self.client)}")
        return list(self.client.events)
