"""The actor registry: run one turn of a session's actor under a fenced, renewed Redis lease.

One `Registry.run` call = wait for the session's lease (FIFO, woken by the release, no
polling), load the state, run the turn while renewing the lease, commit the new state and the
turn's events fenced by the lease's epoch, release. A turn that loses its lease or is fenced
changes nothing and sends nothing (`LeaseLost` / `Fenced`); message ids make resends
exactly-once in effect.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Protocol

from redis.exceptions import RedisError

from tpr_ws.errors import Fenced, LeaseLost, StorageUnavailable
from tpr_ws.registry.durability import Durability, NotDurable
from tpr_ws.registry.storage import Acquired, MessageRecord, Storage


@dataclass(frozen=True)
class TurnOutput:
    """What a turn produces: the new checkpoint, the events to log, the ack's result."""

    state: bytes
    events: list[dict[str, Any]]
    result: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TurnResult:
    """A committed turn (or the recorded answer of a duplicate; then ``events`` is empty)."""

    message_id: str
    duplicate: bool
    events: list[dict[str, Any]]
    first_seq: int
    last_seq: int
    result: dict[str, Any]


class RegistryMetrics(Protocol):
    """Where the registry reports timings (the app wires Prometheus in)."""

    def turn_finished(self, seconds: float, outcome: str) -> None: ...

    def lease_waited(self, seconds: float) -> None: ...


class Lease:
    """The lease a turn runs under; `check()` raises once a renewal has found it gone."""

    def __init__(self, sid: str, token: str, epoch: int, ticket: int) -> None:
        self.sid = sid
        self.token = token
        self.epoch = epoch
        self.ticket = ticket  # arrival order of this call's first acquire (0 if unknown)
        self._lost = False

    def check(self) -> None:
        """Raise `LeaseLost` if the lease is known to be gone (call between long steps)."""
        if self._lost:
            raise LeaseLost(f"lease of session {self.sid} lost (epoch {self.epoch})")

    def _mark_lost(self) -> None:
        self._lost = True


Turn = Callable[[bytes | None, Lease], Awaitable[TurnOutput]]


Cleanup = Callable[[], Coroutine[Any, Any, Any]]
_RETRYING: set[asyncio.Task[None]] = set()  # cleanups retried in the background (references)


async def _shielded(cleanup: Cleanup, retry_for_s: float) -> None:
    """Run cleanup to completion even if the caller is being cancelled. If Redis does not answer
    (a failover under way), keep trying in the background for up to `retry_for_s`, so what the
    caller held is freed as soon as a promoted replica answers, not when its TTL runs out."""
    # Cancelled again while cleaning up: the shielded task still finishes in the background,
    # and the callback collects its outcome so a failure is not reported as never retrieved.
    task = asyncio.ensure_future(cleanup())
    task.add_done_callback(_collect)
    try:
        await asyncio.shield(task)
    except (RedisError, OSError):
        retry_later(cleanup, retry_for_s)


def retry_later(cleanup: Cleanup, for_s: float) -> None:
    """Try `cleanup` again in the background (backing off up to a second) until it succeeds
    or `for_s` has passed (after which the TTL of what it frees has freed it anyway)."""
    task = asyncio.get_running_loop().create_task(_retried(cleanup, for_s))
    _RETRYING.add(task)
    task.add_done_callback(_RETRYING.discard)


async def _retried(cleanup: Cleanup, for_s: float) -> None:
    deadline = time.monotonic() + for_s
    delay = 0.1
    while time.monotonic() + delay < deadline:
        await asyncio.sleep(delay)
        try:
            await cleanup()
            return
        except (RedisError, OSError):
            delay = min(delay * 2, 1.0)


def _collect(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()


class Registry:
    """Runs turns of session actors; any worker, any session, no stickiness."""

    def __init__(
        self,
        storage: Storage,
        *,
        lease_ttl_ms: int,
        holder_prefix: str = "",
        metrics: RegistryMetrics | None = None,
        durability: Durability | None = None,
    ) -> None:
        self.storage = storage
        self.lease_ttl_ms = lease_ttl_ms
        self.holder_prefix = holder_prefix
        self.metrics = metrics
        self.on_committed: Callable[[str, list[dict[str, Any]]], None] | None = None
        self.on_unsure: Callable[[str], None] | None = None  # a commit whose outcome is unknown
        self._durability: Durability | None = None
        self.durability = durability  # None: acked once committed on the primary
        self._background: set[asyncio.Task[None]] = set()

    @property
    def durability(self) -> Durability | None:
        """What an ack waits for (None: the primary's commit). With it, the scripts publish
        nothing: the registry publishes a turn's events once they are durable."""
        return self._durability

    @durability.setter
    def durability(self, durability: Durability | None) -> None:
        self._durability = durability
        self.storage.publishing(in_scripts=durability is None)

    async def run(self, sid: str, message_id: str, turn: Turn) -> TurnResult:
        """Run one turn of session ``sid`` for ``message_id`` (see module docstring).

        Raises `Fenced` or `LeaseLost` (nothing changed, nothing to send) and
        `StorageUnavailable` (Redis unreachable; resend the same message id).
        """
        started = time.monotonic()
        outcome = "error"
        try:
            result = await self._run(sid, message_id, turn)
            if self.durability is not None:
                await self.durability.confirm(sid, message_id)
                await self._publish_durable(sid, result)
            outcome = "duplicate" if result.duplicate else "committed"
            return result
        except NotDurable:
            outcome = "not_durable"
            raise
        except Fenced:
            outcome = "fenced"
            raise
        except LeaseLost:
            outcome = "lease_lost"
            raise
        except asyncio.CancelledError:
            outcome = "cancelled"
            raise
        except (RedisError, OSError) as exc:
            # Whether a commit whose reply was lost happened is unknown here; the client's
            # resend with the same message id gets the recorded answer if it did.
            outcome = "storage_unavailable"
            raise StorageUnavailable(f"Redis unavailable: {exc}") from exc
        finally:
            if self.metrics is not None:
                self.metrics.turn_finished(time.monotonic() - started, outcome)

    async def recorded(self, sid: str, message_id: str) -> TurnResult | None:
        """The recorded answer of ``message_id`` if it was committed before (a plain read:
        no lease, no effect), else None. Raises `StorageUnavailable`."""
        try:
            record = await self.storage.message_record(sid, message_id)
            if record is not None and self.durability is not None:
                await self.durability.confirm(sid, message_id)
                await self.storage.publish(sid, None, tagged=False)
        except (RedisError, OSError) as exc:
            raise StorageUnavailable(f"Redis unavailable: {exc}") from exc
        return None if record is None else _answer(message_id, record, duplicate=True, events=[])

    async def append(self, sid: str, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Append events to the session's log outside a turn (upload progress); returns them
        with their seqs. With durable acks they are published once durable, like a turn's.
        Raises `StorageUnavailable` (`NotDurable`: appended, not durable in time)."""
        try:
            appended = await self.storage.append_events(sid, events)
            if self.durability is not None and appended:
                last = int(appended[-1]["seq"])
                await self.durability.confirm_log(sid, last, self.storage.session_ttl_s)
                await self.storage.publish(sid, appended, tagged=False)
        except (RedisError, OSError) as exc:
            raise StorageUnavailable(f"Redis unavailable: {exc}") from exc
        return appended

    async def _publish_durable(self, sid: str, result: TurnResult) -> None:
        """With durable acks nothing is published or delivered before the confirmation (a
        failover could still take the commit back, and a tab that showed it would hold an
        event the log never gets): now the events go to this worker's sockets in-process and,
        tagged, to the others. A duplicate's events may never have been published (its first
        worker died or was not confirmed in time): a nudge makes every socket read the log."""
        if result.duplicate:
            await self.storage.publish(sid, None, tagged=False)
            return
        if result.events:
            await self.storage.publish(sid, result.events, tagged=True)
            if self.on_committed is not None:
                self.on_committed(sid, result.events)

    async def _run(self, sid: str, message_id: str, turn: Turn) -> TurnResult:
        token = self.storage.new_token(self.holder_prefix)
        acquired = await self._acquire(sid, message_id, token)
        if acquired.record is not None:
            return _answer(message_id, acquired.record, duplicate=True, events=[])
        lease = Lease(sid, token, acquired.epoch, acquired.ticket)
        commit_sent = False
        try:
            output = await self._run_turn(lease, acquired.state, turn)
            lease.check()
            commit_sent = True
            committed = await self.storage.commit(
                sid,
                message_id,
                token=token,
                epoch=lease.epoch,
                state=output.state,
                events=output.events,
                result=output.result,
                ttl_ms=self.lease_ttl_ms,
            )
        except BaseException:
            if commit_sent and self.on_unsure is not None and self.durability is None:
                # The commit may have run (its reply was lost, or the caller gave up): its
                # publish, tagged with this worker, is skipped here, and no in-process delivery
                # happened, so this worker's sockets of the session must read the log. (With
                # durable acks nothing was published: the resend's nudge does it, once durable.)
                self.on_unsure(sid)
            await _shielded(self._release(sid, token), self.lease_ttl_ms / 1000)
            raise
        if committed.kind == "fenced" or committed.record is None:
            raise Fenced(f"commit of session {sid} fenced (epoch {lease.epoch})")
        if committed.kind == "duplicate":
            return _answer(message_id, committed.record, duplicate=True, events=[])
        record = committed.record
        events = [{"seq": record.first_seq + i, **e} for i, e in enumerate(output.events)]
        if self.on_committed is not None and events and self.durability is None:
            # This worker's sockets get the events in-process; the published copy (tagged
            # with this worker) is for the others. With durable acks: after the confirmation.
            self.on_committed(sid, events)
        return _answer(message_id, record, duplicate=False, events=events)

    def _release(self, sid: str, token: str) -> Cleanup:
        return lambda: self.storage.release(sid, token, self.lease_ttl_ms)

    async def _acquire(self, sid: str, message_id: str, token: str) -> Acquired:
        """Acquire+load, queueing FIFO and waiting for our wake-up while the lease is busy."""
        started = time.monotonic()
        ticket = 0
        first = True
        try:
            while True:
                acquired = await self.storage.acquire(
                    sid, message_id, token, self.lease_ttl_ms, first=first
                )
                if first:
                    ticket = acquired.ticket
                    first = False
                if acquired.kind != "queued":
                    break
                # Woken by the release that handed us the lease (with the state); the timeout
                # (one TTL) is only the safety net for a holder or head waiter that died.
                woken = await self.storage.wait_wake(sid, token, self.lease_ttl_ms / 1000)
                if woken is not None:
                    acquired = woken
                    break
        except BaseException:
            # Leave the queue, and give back a lease handed over to us meanwhile.
            await _shielded(self._release(sid, token), self.lease_ttl_ms / 1000)
            raise
        if self.metrics is not None:
            self.metrics.lease_waited(time.monotonic() - started)
        if acquired.kind == "granted":
            return Acquired("granted", epoch=acquired.epoch, state=acquired.state, ticket=ticket)
        return acquired

    async def _run_turn(self, lease: Lease, state: bytes | None, turn: Turn) -> TurnOutput:
        """Run the turn inline, renewing the lease; a lost lease cancels the turn."""
        task = asyncio.current_task()
        assert task is not None
        renewer = _Renewer(self, lease, task)
        try:
            return await turn(state, lease)
        except asyncio.CancelledError:
            # Like asyncio.timeout: our own cancellation becomes LeaseLost, anyone else's
            # (the caller's) stays a cancellation.
            if renewer.cancelled_turn:
                renewer.cancelled_turn = False
                if task.uncancel() == 0:
                    raise LeaseLost(f"lease of session {lease.sid} lost mid-turn") from None
            raise
        finally:
            renewer.stop()
            if renewer.cancelled_turn:
                # The turn swallowed our cancellation; undo it (the caller's check() then
                # raises LeaseLost before any commit).
                task.uncancel()


class _Renewer:
    """Renews a turn's lease every TTL/3 from a timer; when it is lost, cancels the turn.

    A timer rather than a task per turn: most turns end before the first renewal is due.
    """

    def __init__(self, registry: Registry, lease: Lease, task: asyncio.Task[Any]) -> None:
        self._registry = registry
        self._lease = lease
        self._task = task
        self._loop = asyncio.get_running_loop()
        self._interval = registry.lease_ttl_ms / 3000
        self._last_ok = time.monotonic()
        self._stopped = False
        self.cancelled_turn = False
        self._timer = self._loop.call_later(self._interval, self._fire)

    def _fire(self) -> None:
        renewal = self._loop.create_task(self._renew())
        # Keep a reference until done: a renewal in flight when the turn ends finishes alone.
        self._registry._background.add(renewal)
        renewal.add_done_callback(self._registry._background.discard)

    async def _renew(self) -> None:
        lease, ttl_ms = self._lease, self._registry.lease_ttl_ms
        try:
            held: bool | None = await self._registry.storage.renew(
                lease.sid, lease.token, lease.epoch, ttl_ms
            )
        except (RedisError, OSError):
            held = None  # unknown: keep trying until a whole TTL has passed
        if self._stopped:
            return
        if held:
            self._last_ok = time.monotonic()
        elif held is False or time.monotonic() - self._last_ok >= ttl_ms / 1000:
            lease._mark_lost()
            self.cancelled_turn = True
            self._task.cancel()
            return
        self._timer = self._loop.call_later(self._interval, self._fire)

    def stop(self) -> None:
        self._stopped = True
        self._timer.cancel()


def _answer(
    message_id: str, record: MessageRecord, *, duplicate: bool, events: list[dict[str, Any]]
) -> TurnResult:
    return TurnResult(
        message_id=message_id,
        duplicate=duplicate,
        events=events,
        first_seq=record.first_seq,
        last_seq=record.last_seq,
        result=record.result,
    )
