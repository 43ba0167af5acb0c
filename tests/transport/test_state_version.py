"""Old and new workers side by side (a rolling deploy): a session saved by a newer release
than this worker reads is refused cleanly (DESIGN invariant 7), not crashed on, and left
untouched for a newer worker."""

from __future__ import annotations

import orjson
import pytest
import redis

from tpr_ws.actors.state import VERSION

pytestmark = pytest.mark.slow


def _state_key(sid: str) -> str:
    return f"tpr:{{{sid}}}:state"


async def test_a_state_from_a_newer_release_is_refused_and_left_untouched(
    worker_factory, client_factory, redis_url: str
) -> None:
    (w,) = worker_factory(1)
    c, other = client_factory(), client_factory()
    await c.create_session(w.url)
    await c.connect(w.url)
    await c.say("sample")
    # A newer worker saved the session in a format this one does not know.
    newer = orjson.dumps({"v": VERSION + 1, "stage": "a_stage_from_the_future", "extra": [1]})
    direct = redis.Redis.from_url(redis_url)
    try:
        direct.set(_state_key(c.sid), newer)
        seq_before = int(direct.get(f"tpr:{{{c.sid}}}:seq") or 0)
        refused = await c.say("status")
        assert refused["type"] == "error" and refused["code"] == "state_version", refused
        status, _, _ = await c.download(w.url, "results.csv")
        assert status == 503
        # untouched: the state a newer worker wrote, no event appended, the lease free
        assert direct.get(_state_key(c.sid)) == newer
        assert int(direct.get(f"tpr:{{{c.sid}}}:seq") or 0) == seq_before
        assert direct.get(f"tpr:{{{c.sid}}}:lease") is None
    finally:
        direct.close()
    # the socket stays open and the worker keeps serving everyone else
    await other.create_session(w.url)
    await other.connect(w.url)
    assert (await other.say("sample"))["type"] == "ack"
    assert (await c.say("help"))["code"] == "state_version"
    assert "Traceback" not in w.log_path.read_text()
