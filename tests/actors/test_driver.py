"""The one effect loop, on a toy machine: breadth-first order, answers fed back, a runaway
machine stopped, and the async driver identical to the plain one (stepped without a loop)."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

import pytest

from tpr_ws.actors.driver import Driven, RunawayMachine, drive, drive_sync

# The toy machine: its state is the list of events seen; an effect ("ask", x) is answered with
# the event x, an effect ("say", x) with nothing.
SCRIPT = {
    "start": [("ask", "a"), ("ask", "b"), ("say", "start done")],
    "a": [("say", "a done")],
    "b": [("ask", "c"), ("say", "b done")],
    "c": [("say", "c done")],
}


def step(seen: list[str], event: str) -> tuple[list[str], list[tuple[str, str]]]:
    return [*seen, event], SCRIPT.get(event, [])


def answer(effect: tuple[str, str]) -> str | None:
    kind, value = effect
    return value if kind == "ask" else None


def run_to_end(coro: Coroutine[Any, Any, Driven[list[str], tuple[str, str]]]) -> Any:
    """Run a coroutine that never suspends (its performer does no I/O) without an event loop."""
    try:
        coro.send(None)
    except StopIteration as finished:
        return finished.value
    raise AssertionError("the driver suspended on a performer that never does")


def test_events_are_stepped_in_mailbox_order_after_every_effect_of_the_step() -> None:
    driven = drive_sync(step, [], "start", answer)
    # Breadth-first: the follow-ups a and b wait until every effect of "start" is carried out;
    # c, produced while b is stepped, comes after a's and b's effects.
    assert driven.state == ["start", "a", "b", "c"]
    assert driven.effects == [
        ("ask", "a"), ("ask", "b"), ("say", "start done"),
        ("say", "a done"),
        ("ask", "c"), ("say", "b done"),
        ("say", "c done"),
    ]  # fmt: skip


def test_the_async_driver_carries_out_the_same_effects_in_the_same_order() -> None:
    performed: list[tuple[str, str]] = []

    async def perform(effect: tuple[str, str]) -> str | None:
        performed.append(effect)
        return answer(effect)

    driven = run_to_end(drive(step, [], "start", perform))
    assert driven == drive_sync(step, [], "start", answer)
    assert performed == driven.effects


def test_a_machine_that_keeps_answering_itself_is_stopped() -> None:
    def forever(n: int, event: str) -> tuple[int, list[tuple[str, str]]]:
        return n + 1, [("ask", event)]

    with pytest.raises(RunawayMachine):
        drive_sync(forever, 0, "again", answer)
    assert drive_sync(step, [], "nothing", answer) == Driven(["nothing"], [])
