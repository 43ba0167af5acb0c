"""The one effect loop: step a machine, carry out its effects, feed their answers back in.

A machine is `step(state, event) -> (state, effects)`. Carrying out an effect may produce a new
event (ComputeResults -> ResultsComputed); it is queued and stepped after every effect of the
current step, like a message in an actor's mailbox: breadth-first, in the order produced. The
loop is a generator, so the pure core needs no event loop: `drive` awaits an async performer
(the conversation host), `drive_sync` calls a plain one (tests).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

S = TypeVar("S")
E = TypeVar("E")
F = TypeVar("F")

MAX_STEPS: Final = 64


@dataclass(frozen=True)
class Driven(Generic[S, F]):
    """Where a turn ended: the machine's last state and every effect it asked for, in order."""

    state: S
    effects: list[F]


class RunawayMachine(RuntimeError):
    """A machine kept answering itself past MAX_STEPS steps in one turn (a bug)."""


def _loop(
    step: Callable[[S, E], tuple[S, list[F]]], state: S, event: E
) -> Generator[F, E | None, Driven[S, F]]:
    """Yields each effect; the caller sends back the event it produced, or None."""
    pending: deque[E] = deque([event])
    done: list[F] = []
    steps = 0
    while pending:
        steps += 1
        if steps > MAX_STEPS:
            raise RunawayMachine(f"more than {MAX_STEPS} steps in one turn")
        state, effects = step(state, pending.popleft())
        for effect in effects:
            done.append(effect)
            answer = yield effect
            if answer is not None:
                pending.append(answer)
    return Driven(state, done)


async def drive(
    step: Callable[[S, E], tuple[S, list[F]]],
    state: S,
    event: E,
    perform: Callable[[F], Awaitable[E | None]],
) -> Driven[S, F]:
    """Run one turn, awaiting `perform` for each effect in order."""
    loop = _loop(step, state, event)
    try:
        effect = next(loop)
        while True:
            effect = loop.send(await perform(effect))
    except StopIteration as finished:
        driven: Driven[S, F] = finished.value
        return driven


def drive_sync(
    step: Callable[[S, E], tuple[S, list[F]]],
    state: S,
    event: E,
    perform: Callable[[F], E | None],
) -> Driven[S, F]:
    """`drive` with a plain performer (no event loop)."""
    loop = _loop(step, state, event)
    try:
        effect = next(loop)
        while True:
            effect = loop.send(perform(effect))
    except StopIteration as finished:
        driven: Driven[S, F] = finished.value
        return driven
