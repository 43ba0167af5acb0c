"""Many processes, one session: exclusion, exactly-once, and stalled or killed holders."""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import queue
import signal
from multiprocessing.context import SpawnProcess
from typing import Any

import pytest

from tests.registry.conftest import Backend, ClientFactory
from tests.registry.counter import count_of
from tests.registry.helpers import (
    CountingStorage,
    counter,
    hold_and_block,
    lease_holder,
    make_registry,
    send_many,
    send_once,
)
from tpr_ws.registry.turns import Lease, TurnOutput

pytestmark = pytest.mark.slow
SPAWN = mp.get_context("spawn")
TTL_MS = 1000


def drain(q: Any) -> list[Any]:
    items = []
    while True:
        try:
            items.append(q.get(timeout=0.1))
        except queue.Empty:
            return items


def stop(process: SpawnProcess) -> None:
    if process.pid is not None and process.is_alive():
        os.kill(process.pid, signal.SIGCONT)
        process.kill()
    process.join(10)


async def join(*processes: SpawnProcess) -> None:
    for process in processes:
        await asyncio.to_thread(process.join, 90)
        assert process.exitcode == 0


async def test_eight_processes_two_hundred_messages_each(
    backend: Backend, client_factory: ClientFactory
) -> None:
    procs = [
        SPAWN.Process(target=send_many, args=(backend.kind, backend.url, "s", w, 200, 5000))
        for w in range(8)
    ]
    for p in procs:
        p.start()
    try:
        await join(*procs)
    finally:
        for p in procs:
            stop(p)
    registry = await make_registry(await client_factory(), 5000)
    assert count_of(await registry.storage.load_state("s")) == 1600
    log = await registry.storage.read_log("s", 0, limit=5000)
    assert not log.gap and log.last_seq == 1600
    assert [e["seq"] for e in log.events] == list(range(1, 1601))
    assert [e["count"] for e in log.events] == list(range(1, 1601))
    assert len({e["reply_to"] for e in log.events}) == 1600


async def test_same_id_from_two_processes_has_one_effect(
    backend: Backend, client_factory: ClientFactory
) -> None:
    start, out = SPAWN.Event(), SPAWN.Queue()
    procs = [
        SPAWN.Process(
            target=send_once, args=(backend.kind, backend.url, "s", "same", TTL_MS, start, out)
        )
        for _ in range(2)
    ]
    for p in procs:
        p.start()
    try:
        start.set()
        await join(*procs)
        answers = drain(out)
    finally:
        for p in procs:
            stop(p)
    assert sorted(dup for dup, _ in answers) == [False, True]
    assert answers[0][1] == answers[1][1] == (1, 1, {"count": 1})
    registry = await make_registry(await client_factory(), TTL_MS)
    assert count_of(await registry.storage.load_state("s")) == 1
    assert await registry.storage.last_seq("s") == 1


async def test_holder_stopped_past_its_lease_is_fenced(
    backend: Backend, client_factory: ClientFactory
) -> None:
    registry = await make_registry(await client_factory(), TTL_MS)
    await registry.run("s", "m0", counter("m0"))
    resume, in_turn, out = SPAWN.Event(), SPAWN.Event(), SPAWN.Queue()
    holder = SPAWN.Process(
        target=hold_and_block,
        args=(backend.kind, backend.url, "s", "m1", TTL_MS, resume, in_turn, out),
    )
    holder.start()
    try:
        assert await asyncio.to_thread(in_turn.wait, 60)
        assert holder.pid is not None
        os.kill(holder.pid, signal.SIGSTOP)
        successor = await registry.run("s", "m2", counter("m2"))
        os.kill(holder.pid, signal.SIGCONT)
        resume.set()  # the stall ends only now: the late commit must meet the fence
        await join(holder)
        messages = dict(drain(out))
    finally:
        stop(holder)
    assert successor.result == {"count": 2}
    assert messages["outcome"] == "fenced"
    assert count_of(await registry.storage.load_state("s")) == 2
    log = await registry.storage.read_log("s", 0)
    assert [e["reply_to"] for e in log.events] == ["m0", "m2"]


async def test_killed_holder_is_taken_over_after_its_lease_expires(
    backend: Backend, client_factory: ClientFactory
) -> None:
    registry = await make_registry(await client_factory(), TTL_MS)
    storage = registry.storage
    assert isinstance(storage, CountingStorage)
    await registry.run("s", "m0", counter("m0"))
    never, in_turn, out = SPAWN.Event(), SPAWN.Event(), SPAWN.Queue()
    victim = SPAWN.Process(
        target=hold_and_block,
        args=(backend.kind, backend.url, "s", "m1", TTL_MS, never, in_turn, out),
    )
    victim.start()
    try:
        assert await asyncio.to_thread(in_turn.wait, 60)
        victim_epoch = dict(drain(out))["epoch"]
        assert (await lease_holder(storage, "s"))[0] is not None
        assert victim.pid is not None
        os.kill(victim.pid, signal.SIGKILL)
        await asyncio.to_thread(victim.join, 10)
    finally:
        stop(victim)
    seen: list[int] = []

    async def successor(state: bytes | None, lease: Lease) -> TurnOutput:
        seen.append(lease.epoch)
        return await counter("m2")(state, lease)

    result = await registry.run("s", "m2", successor)
    # It took over the killed holder's lease (the next epoch) from the last committed state,
    # after at most two safety-net retries (each one lease TTL): no polling in between.
    assert seen == [victim_epoch + 1]
    assert result.result == {"count": 2}
    assert max(storage.acquires.values()) <= 3
    log = await storage.read_log("s", 0)
    assert [e["reply_to"] for e in log.events] == ["m0", "m2"]
