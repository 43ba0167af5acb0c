"""A trivial counter actor (state = JSON count), used by the registry tests and the bench."""

from __future__ import annotations

from typing import Any

import orjson


def count_of(state: bytes | None) -> int:
    """The count stored in a checkpoint (0 for a new session)."""
    if state is None:
        return 0
    return int(orjson.loads(state)["count"])


def increment(
    state: bytes | None, message_id: str, by: int = 1
) -> tuple[bytes, list[dict[str, Any]]]:
    """The next checkpoint and the turn's event: one bot line saying the new count."""
    count = count_of(state) + by
    event = {"role": "bot", "text": f"count is {count}", "reply_to": message_id, "count": count}
    return orjson.dumps({"count": count}), [event]
