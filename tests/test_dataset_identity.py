"""A dataset is the file and the parse version, against a real server: the same bytes uploaded
to a release with another `PARSE_VERSION` are parsed again and analysed apart, the audit keeps
naming the file's SHA-256, and two releases side by side (a rolling deploy) never serve each
other's parse nor re-parse each other's files in turn. Each `Conversation` here is one release's
worker: its own caches and parsing process over the suite's shared server.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from tpr_ws.actors.state import WorkflowState, load_state
from tpr_ws.analyses import AnalysisStore
from tpr_ws.conversation import Conversation
from tpr_ws.datasets import DatasetStore
from tpr_ws.domain.analysis import result_key
from tpr_ws.domain.blob import dataset_key
from tpr_ws.domain.sample.generator import generate
from tpr_ws.domain.versions import PARSE_VERSION
from tpr_ws.downloads import Downloads
from tpr_ws.pool import ParsePool, SpooledFile
from tpr_ws.registry.client import connect
from tpr_ws.registry.storage import Storage
from tpr_ws.registry.turns import Registry
from tpr_ws.transport.spool import spool_bytes

OLD, NEW = PARSE_VERSION, PARSE_VERSION + 1
TTL_S = 600
# The hex after the audit's label, and whatever follows it up to the cell's end.
_AUDIT_SHA = re.compile(r"SHA-256 of the file\W*(?:</th><td>)?\W*([0-9a-f]{64}[^\s<|]*)")


@dataclass
class Worker:
    """One worker of a release: its conversation, caches and downloads."""

    conversation: Conversation
    datasets: DatasetStore
    downloads: Downloads


@dataclass
class World:
    storage: Storage
    old: Worker
    new: Worker
    file: SpooledFile
    sha256: str


@pytest.fixture
async def world(redis_url: str, tmp_path: Path) -> AsyncIterator[World]:
    client = connect(redis_url)
    storage = Storage(client)
    await storage.initialize()
    registry = Registry(storage, lease_ttl_ms=10_000)
    pool = ParsePool(1, 0)

    def worker(parse_version: int) -> Worker:
        datasets = DatasetStore(storage, ttl_s=TTL_S)
        analyses = AnalysisStore(storage, datasets, ttl_s=TTL_S)
        conversation = Conversation(
            registry, datasets, analyses, pool, max_upload_bytes=10**8, parse_version=parse_version
        )
        return Worker(conversation, datasets, Downloads(analyses))

    made = generate("A", "tiny", seed=11)
    spooled = await spool_bytes(tmp_path, made.data, made.file_name)
    yield World(storage, worker(OLD), worker(NEW), spooled, hashlib.sha256(made.data).hexdigest())
    pool.shutdown()
    await client.aclose()


async def _state(storage: Storage, sid: str) -> WorkflowState:
    return load_state(await storage.load_state(sid))


async def _to_results(w: Worker, sid: str) -> WorkflowState:
    """Choose the first state, all levels and under 5 (typed replies, as a user would)."""
    for i, text in enumerate(("1", "all levels", "under 5")):
        await w.conversation.say(sid, f"{sid}-say-{i}", text)
    state = await _state(w.conversation._registry.storage, sid)
    assert state.results is not None, state.stage
    return state


async def _upload(world: World, w: Worker, sid: str, upload_id: str) -> str:
    """Upload the world's file in a new session of worker `w`: the dataset key it names."""
    await w.conversation.start(sid)
    await w.conversation.upload(sid, upload_id, world.file)
    state = await _state(world.storage, sid)
    assert state.dataset is not None
    return state.dataset.blob_key


async def _mark(world: World, key: str, marker: str) -> None:
    """Stamp a stored dataset's summary, as if that release's parser had produced it."""
    meta = await world.old.datasets.meta(key)
    assert meta is not None
    meta["overview"] = {**meta["overview"], "marker": marker}
    await world.storage.put_blob_meta(key, orjson.dumps(meta), TTL_S)


async def _audit_sha(w: Worker, storage: Storage, sid: str) -> set[str]:
    """What the report's audit block shows as the file's SHA-256, in Markdown and HTML."""
    raw = await storage.load_state(sid)
    shown = set()
    for fmt in ("md", "html"):
        body = (await w.downloads.render(raw, None, fmt)).body.decode()
        found = _AUDIT_SHA.search(body)
        assert found is not None, body
        shown.add(found.group(1))
    return shown


def _overview(state: WorkflowState) -> dict[str, Any]:
    assert state.dataset is not None
    return state.dataset.overview


async def test_a_new_parse_version_parses_the_same_bytes_again(world: World) -> None:
    old_key = await _upload(world, world.old, "s-old", "u1")
    assert old_key == dataset_key(world.sha256, OLD)
    # What the old release's parser made of the file (stamped, so it can be recognised).
    await _mark(world, old_key, "old parse")
    # The old release finds its own parse again (not parsed twice)...
    assert await _upload(world, world.old, "s-old-again", "u2") == old_key
    assert _overview(await _state(world.storage, "s-old-again"))["marker"] == "old parse"
    # ... but the new one parses the bytes again, into a second dataset.
    new_key = await _upload(world, world.new, "s-new", "u3")
    assert new_key == dataset_key(world.sha256, NEW) != old_key
    assert "marker" not in _overview(await _state(world.storage, "s-new"))
    for key, version in ((old_key, OLD), (new_key, NEW)):
        assert await world.storage.get_blob(key) is not None
        meta = await world.new.datasets.meta(key)
        assert meta is not None and (meta["sha256"], meta["parse_version"]) == (
            world.sha256, version)  # fmt: skip


async def test_results_of_two_parses_have_their_own_keys_and_the_files_sha256(
    world: World,
) -> None:
    await _upload(world, world.old, "s-old", "u1")
    await _upload(world, world.new, "s-new", "u2")
    old = await _to_results(world.old, "s-old")
    new = await _to_results(world.new, "s-new")
    assert old.results is not None and new.results is not None
    assert (old.results.state, old.results.level, old.results.age) == (
        new.results.state, new.results.level, new.results.age)  # fmt: skip
    assert old.results.key != new.results.key
    assert [a.dataset for a in old.analyses] == [dataset_key(world.sha256, OLD)]
    assert [a.dataset for a in new.analyses] == [dataset_key(world.sha256, NEW)]
    # Both stored, each naming its own dataset; the audit names the file's SHA-256 in both.
    for state in (old, new):
        assert state.results is not None
        raw = await world.storage.get_result(state.results.key, TTL_S)
        assert raw is not None
    assert await _audit_sha(world.old, world.storage, "s-old") == {world.sha256}
    assert await _audit_sha(world.new, world.storage, "s-new") == {world.sha256}


async def test_two_releases_side_by_side_neither_thrash_nor_serve_each_others_parse(
    world: World,
) -> None:
    old_key = await _upload(world, world.old, "a", "u1")
    new_key = await _upload(world, world.new, "b", "u2")
    await _mark(world, old_key, "old parse")
    await _mark(world, new_key, "new parse")
    # Uploads go to either release in turn: each finds its own parse, none parses again.
    for i, (w, marker) in enumerate([(world.new, "new parse"), (world.old, "old parse")] * 2):
        sid = f"again-{i}"
        await _upload(world, w, sid, f"u-{i}")
        assert _overview(await _state(world.storage, sid))["marker"] == marker
    # A session the new release loaded gets its choice answered by an old worker (and back):
    # from the new parse's sums, under the new dataset key.
    await world.new.conversation.say("b", "b-1", "1")
    await world.old.conversation.say("b", "b-2", "all levels")
    state = await _state(world.storage, "b")
    assert state.dataset is not None and state.dataset.blob_key == new_key
    await world.new.conversation.say("b", "b-3", "under 5")
    state = await _state(world.storage, "b")
    assert state.results is not None and [a.dataset for a in state.analyses] == [new_key]


async def test_a_session_naming_a_dataset_stored_before_parse_versions_keeps_working(
    world: World,
) -> None:
    # A session of the previous release: its dataset key is the bare SHA-256 of the file.
    key = await _upload(world, world.new, "s", "u1")
    legacy = world.sha256
    for name in ("blob", "blob_sums", "blob_meta"):
        value = await world.storage.redis.get(getattr(world.storage.keys, name)(key))
        await world.storage.redis.set(getattr(world.storage.keys, name)(legacy), value, ex=TTL_S)
        await world.storage.redis.delete(getattr(world.storage.keys, name)(key))
    raw = await world.storage.load_state("s")
    assert raw is not None
    await world.storage.redis.set(world.storage.keys.session("s").state, raw.replace(
        key.encode(), legacy.encode()))  # fmt: skip
    # Its results turns still answer from that dataset, under the keys the old release used.
    state = await _to_results(world.new, "s")
    assert state.results is not None
    assert state.results.key == result_key(legacy, state.results.state, "All", "u5")
    assert [a.dataset for a in state.analyses] == [legacy]
    assert await _audit_sha(world.new, world.storage, "s") == {legacy}
    # Its analysis reopens from the stored object; a new upload of the bytes is parsed anew.
    await world.new.conversation.say("s", "s-open", "open 1")
    reopened = await _state(world.storage, "s")
    assert reopened.results is not None and reopened.results.key == state.results.key
    await world.new.conversation.upload("s", "u2", world.file)
    state = await _state(world.storage, "s")
    assert state.dataset is not None and state.dataset.blob_key == key
    assert await world.storage.get_blob_meta(key) is not None
