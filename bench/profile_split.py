"""Split a py-spy profile of one worker into cost centres (the report's "profile split").

    py-spy record --gil --nonblocking -r 250 -d 25 -f raw -o worker.raw -p <worker pid>
    python bench/profile_split.py worker.raw

Take the profile while `bench/chat.py --servers product --loads users --repeat 12` runs (a
worker is a child of the product's gunicorn master). Each sample goes to the innermost frame
of a library or module listed below; system calls count in the frame that issues them (the
lean pipe's and the WebSocket's writes, for example).
"""

from __future__ import annotations

import collections
import sys

LIBRARIES = (
    ("prometheus_client (metrics)", "prometheus_client/"),
    ("redis-py client", "redis/"),
    ("lean pipe (hiredis)", "tpr_ws/registry/pipe.py"),
    ("pub/sub receive", "tpr_ws/registry/subscriber.py"),
    ("keyword matching", "tpr_ws/actors/matching.py"),
    ("workflow actor (step, state)", "tpr_ws/actors/"),
)
GLUE = (
    ("fan-out dispatch", "tpr_ws/fanout.py"),
    ("transport glue (ws.py)", "tpr_ws/transport/"),
    ("registry glue (turns, storage)", "tpr_ws/registry/"),
    ("conversation glue", "tpr_ws/conversation.py"),
    ("metrics glue", "tpr_ws/metrics.py"),
)


def classify(frames: list[str]) -> str:
    for frame in reversed(frames):
        for name, part in LIBRARIES:
            if part in frame:
                return name
    if any("send_str" in f or "send_frame" in f for f in frames):
        return "WebSocket send"
    if any("_websocket/reader" in f or "WebSocketResponse.receive" in f for f in frames[-6:]):
        return "WebSocket receive/parse"
    for frame in reversed(frames):
        for name, part in GLUE:
            if part in frame:
                return name
    if any("aiohttp/" in f for f in frames[-4:]):
        return "aiohttp other (HTTP, protocol)"
    return "asyncio loop / other"


def main() -> None:
    counts: collections.Counter[str] = collections.Counter()
    total = 0
    with open(sys.argv[1]) as raw:
        for line in raw:
            if not line.strip():
                continue
            stack, _, n = line.rstrip().rpartition(" ")
            total += int(n)
            counts[classify(stack.split(";"))] += int(n)
    print(f"samples: {total}")
    for name, n in counts.most_common():
        print(f"{100 * n / total:5.1f}%  {name}")


if __name__ == "__main__":
    main()
