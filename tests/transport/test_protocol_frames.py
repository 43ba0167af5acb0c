"""Frames per turn: protocol 2 gets one frame (the ack carries the turn's events), older clients
get the ack and then each event; other tabs on the sender's worker get them in-process."""

from __future__ import annotations

import asyncio

import aiohttp

from tests.harness import ChatClient


async def _wait(predicate, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(timeout):
        while not predicate():  # noqa: ASYNC110 - the reader task fills the client's lists
            await asyncio.sleep(0.01)


async def test_protocol_2_gets_one_frame_per_turn_and_old_clients_still_work(
    worker_factory, http: aiohttp.ClientSession
) -> None:
    (w,) = worker_factory(1)
    new, old = ChatClient(http, protocol=2), ChatClient(http)
    await new.create_session(w.url)
    old.sid, old.token = new.sid, new.token
    await new.connect(w.url)
    await old.connect(w.url)
    before = len(new.frames)
    ack = await new.say("status", mid="m1")
    # One frame: the ack, with the user's message and the bot's reply, numbered after the rest.
    assert new.frames[before:] == [ack]
    assert [(e["type"], e["role"]) for e in ack["events"]] == [("event", "user"), ("event", "bot")]
    assert ack["seq"] == ack["events"][0]["seq"] == new.last_seq - 1
    # The other tab (same worker, protocol 1) sees both events live, as event frames.
    await _wait(lambda: old.last_seq == new.last_seq)
    assert [e["seq"] for e in old.events] == [e["seq"] for e in new.events]
    # And an old client's own turn: the ack, then each event.
    before = len(old.frames)
    old_ack = await old.say("help", mid="m2")
    await _wait(lambda: old.last_seq == old_ack["seq"] + 1)
    assert [f["type"] for f in old.frames[before:]] == ["ack", "event", "event"]
    assert "events" not in old_ack
    await _wait(lambda: new.last_seq == old.last_seq)
    # A resent id gets the same ack and changes nothing.
    again = await new.say("status", mid="m1")
    assert again["seq"] == ack["seq"] and again["events"] == []
    assert new.last_seq == old.last_seq


async def test_tabs_on_two_workers_see_every_event_live(
    worker_factory, http: aiohttp.ClientSession
) -> None:
    a, b = worker_factory(2)
    tab_a, tab_b = ChatClient(http, protocol=2), ChatClient(http, protocol=2)
    await tab_a.create_session(a.url)
    tab_b.sid, tab_b.token = tab_a.sid, tab_a.token
    await tab_a.connect(a.url)
    await tab_b.connect(b.url)
    for i in range(5):
        sender, other = (tab_a, tab_b) if i % 2 == 0 else (tab_b, tab_a)
        await sender.say("status", mid=f"m{i}")
        await _wait(lambda s=sender, o=other: o.last_seq == s.last_seq)
    assert [e["seq"] for e in tab_a.events] == [e["seq"] for e in tab_b.events]
    assert tab_a.last_seq == 11  # the session's welcome, then 5 turns of two events
