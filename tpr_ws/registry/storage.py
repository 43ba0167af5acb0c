"""Storage adapter: the Lua scripts of the registry, run against a session's keys (`keys.py`).

Every lease operation checks the caller's token inside one script; the commit is fenced by the
session's epoch. Blobs are content-addressed and immutable.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from typing import Any, Literal

import orjson
from redis.asyncio.cluster import RedisCluster

from tpr_ws.errors import ConfigError
from tpr_ws.registry.client import RedisClient, Script, pipe_of, subscriber_of
from tpr_ws.registry.keys import DEFAULT_PREFIX, KeySpace, SessionKeys
from tpr_ws.registry.scripts import (
    ACQUIRE,
    APPEND,
    APPEND_CHUNK,
    CLAIM_UPLOAD,
    CLOSE_UPLOAD,
    COMMIT,
    CREATE_UPLOAD,
    READ_LOG,
    READ_TAIL,
    RELEASE,
    RENEW,
    UPLOAD_INFO,
    configure,
)
from tpr_ws.registry.subscriber import Subscriber
from tpr_ws.registry.wakeups import Wakeups

MESSAGE_IDS_KEPT = 500  # committed message ids a session remembers (the newest)
SESSION_TTL_S = 30 * 24 * 3600  # an idle session (state, log, epoch) expires after this
LOG_MAX_BYTES = 256 * 1024  # event bodies a session's log keeps (the oldest go first)


@dataclass(frozen=True)
class LogRead:
    """Events after a seq; ``gap`` means some were trimmed (or never existed): resync."""

    events: list[dict[str, Any]]
    last_seq: int
    gap: bool


@dataclass(frozen=True)
class MessageRecord:
    """What a committed message id answers when it is sent again."""

    first_seq: int
    last_seq: int
    result: dict[str, Any]


@dataclass(frozen=True)
class Acquired:
    """Outcome of one acquire+load round trip.

    kind: ``granted`` (epoch, state set), ``queued`` (position in the FIFO), or ``duplicate``
    (record set: the message id was committed before; no lease was taken).
    ``ticket`` is the arrival number of a first acquire (0 on retries and re-entries).
    """

    kind: Literal["granted", "queued", "duplicate"]
    epoch: int = 0
    state: bytes | None = None
    position: int = 0
    ticket: int = 0
    record: MessageRecord | None = None


@dataclass(frozen=True)
class Committed:
    """Outcome of commit+release: ``ok``, ``duplicate`` (id committed before) or ``fenced``."""

    kind: Literal["ok", "duplicate", "fenced"]
    record: MessageRecord | None = None


@dataclass(frozen=True)
class UploadInfo:
    """A resumable upload as stored: its declared length, the bytes received, its metadata
    (strings), its state (``receiving``, ``done``, ``failed``, ``deleted``), whether a worker is
    finishing it, and how long it is kept (ms)."""

    length: int
    offset: int
    meta: dict[str, str]
    state: str
    finishing: bool
    ttl_ms: int


@dataclass(frozen=True)
class ChunkOutcome:
    """Outcome of appending a chunk: ``ok``, ``gone``, ``conflict`` (offset is not where the
    upload is), ``closed`` (finished or failed) or ``too_long``; ``offset`` is where it is."""

    kind: Literal["ok", "gone", "conflict", "closed", "too_long"]
    offset: int = 0
    length: int = 0


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _int(value: Any) -> int:
    return int(value) if value is not None else 0


def _bytes(value: Any) -> bytes | None:
    if value is None or isinstance(value, bytes):
        return value
    return str(value).encode()


def _record(raw: Any) -> MessageRecord:
    data = orjson.loads(raw)
    return MessageRecord(int(data["first_seq"]), int(data["last_seq"]), dict(data["result"]))


def _event_bodies(events: list[dict[str, Any]]) -> list[bytes]:
    # The scripts splice '"seq":N,' after the opening brace, so a caller's own "seq" must go.
    return [orjson.dumps({k: v for k, v in event.items() if k != "seq"}) for event in events]


class Storage:
    """The only code that knows key names and Lua scripts (see module docstring).

    ``redis`` must return bytes (``decode_responses=False``); its socket timeout, if any,
    must exceed the lease TTL (waiters BLPOP for up to one TTL). `connect()` builds a suitable
    client: scripts and hot reads go through its shared `Pipe`, and each waiting turn's BLPOP
    through a bounded pool of its own. Call `initialize()` once before concurrent use.
    """

    def __init__(
        self,
        redis: RedisClient,
        *,
        prefix: str = DEFAULT_PREFIX,
        log_max_events: int = 2000,
        log_max_bytes: int = LOG_MAX_BYTES,
        session_ttl_s: int = SESSION_TTL_S,
        message_ids_kept: int = MESSAGE_IDS_KEPT,
    ) -> None:
        if isinstance(redis, RedisCluster):
            encoder = redis.get_encoder()
        else:
            encoder = redis.connection_pool.get_encoder()  # type: ignore[no-untyped-call]
        if encoder.decode_responses:
            raise ConfigError("Storage needs a Redis client with decode_responses=False")
        self.redis = redis
        self._pipe = pipe_of(redis)
        self._subscriber = subscriber_of(redis)
        self._wakeups = Wakeups()
        self._wake_ready = False
        self.wake_tag = secrets.token_hex(6)
        self.prefix = prefix
        self.log_max_events = log_max_events
        self.log_max_bytes = log_max_bytes
        self.session_ttl_s = session_ttl_s
        self.message_ids_kept = message_ids_kept
        self.keys = KeySpace(prefix)
        # Script objects run EVALSHA and re-load the script after NOSCRIPT (e.g. a restart).
        constants = {
            "records_kept": message_ids_kept,
            "log_maxlen": log_max_events,
            "log_maxbytes": log_max_bytes,
            "session_ttl_s": session_ttl_s,
        }
        self._acquire = Script(redis, configure(ACQUIRE, **constants))
        self._renew = Script(redis, RENEW)
        self._release = Script(redis, configure(RELEASE, **constants))
        self._constants = constants
        self.publishing(in_scripts=True)
        self._read_log = Script(redis, READ_LOG)
        self._read_tail = Script(redis, READ_TAIL)
        self._create_upload = Script(redis, CREATE_UPLOAD)
        self._append_chunk = Script(redis, APPEND_CHUNK)
        self._upload_info = Script(redis, UPLOAD_INFO)
        self._claim_upload = Script(redis, CLAIM_UPLOAD)
        self._close_upload = Script(redis, CLOSE_UPLOAD)

    def publishing(self, *, in_scripts: bool) -> None:
        """Whether the commit and append scripts publish the events they append (the
        default), or publish nothing (durable acks: the registry publishes them with `publish`
        once they are durable). Published commits carry this worker's tag: its fan-out skips
        its own, having delivered them in-process (see scripts); without publishing, the
        scripts' origin is `false`."""
        self.publish_in_scripts = in_scripts
        tag, untagged = (f"'{self.wake_tag}'", "''") if in_scripts else ("false", "false")
        commit = configure(COMMIT, **self._constants).replace("'__ORIGIN__'", tag)
        append = configure(APPEND, **self._constants).replace("'__ORIGIN__'", untagged)
        self._commit = Script(self.redis, commit)
        self._append = Script(self.redis, append, idempotent=False)

    async def initialize(self) -> None:
        """Connect once before concurrent use (a cluster client loads its slot map here:
        redis-py's async cluster client can break connections when many first commands
        race its lazy initialization)."""
        if isinstance(self.redis, RedisCluster):
            await self.redis.initialize()
        else:
            await self.ping()
        await self._listen_for_wakeups()

    @property
    def subscriber(self) -> Subscriber | None:
        """The worker's pub/sub connection (the fan-out shares it), if the client has one."""
        return self._subscriber

    async def ping(self) -> None:
        """One round trip to the server (readiness); RedisError if it does not answer."""
        if self._pipe is not None:
            await self._pipe.execute("PING")
        else:
            await self.redis.ping()

    async def _get(self, key: bytes) -> Any:
        # Hot single reads (a hello's last seq) share the pipe, like the scripts.
        if self._pipe is not None:
            return await self._pipe.execute("GET", key)
        return await self.redis.get(key)

    def _keys(self, sid: str) -> SessionKeys:
        return self.keys.session(sid)

    def events_channel(self, sid: str) -> str:
        """Pub/sub channel carrying each appended batch (orjson list, each event with seq)."""
        return self._keys(sid).channel

    # -- the lease ---------------------------------------------------------------------------

    async def acquire(
        self, sid: str, message_id: str, token: str, ttl_ms: int, *, first: bool = True
    ) -> Acquired:
        """One round trip: duplicate answer, or the lease plus the state, or a queue place."""
        if not self._wake_ready:
            await self._listen_for_wakeups()
        k = self._keys(sid)
        reply = await self._acquire(
            keys=[
                k.lease,
                k.epoch,
                k.state,
                k.messages,
                k.waiters,
                k.arrivals,
                k.legacy_message(message_id),
            ],
            args=[token, ttl_ms, "1" if first else "0", message_id],
        )
        kind = bytes(reply[0])
        if kind == b"dup":
            return Acquired("duplicate", record=_record(reply[1]))
        if kind == b"granted":
            return Acquired(
                "granted", epoch=_int(reply[1]), state=_bytes(reply[2]), ticket=_int(reply[3])
            )
        return Acquired("queued", position=_int(reply[1]), ticket=_int(reply[2]))

    def new_token(self, prefix: str = "") -> str:
        """A fresh lease token that this worker's wake channel answers for."""
        return f"{prefix}{secrets.token_hex(12)}@{self.wake_tag}"

    async def _listen_for_wakeups(self) -> None:
        # Subscribed (and confirmed) before the first acquire that could queue.
        if not self._wake_ready and self._subscriber is not None:
            channel = self.keys.wake_channel(self.wake_tag)
            await self._subscriber.subscribe(channel, self._wakeups.on_message)
            self._wake_ready = True

    async def wait_wake(self, sid: str, token: str, timeout_s: float) -> Acquired | None:
        """Wait until a release hands this waiter the lease (granted, with the state it
        needs, so no second round trip) or until the timeout or a possible loss (None: ask
        again). No Redis connection is held while waiting: the worker's one pub/sub
        connection carries every wake-up. Without a subscriber (a client not from
        `connect()`), only the timeout ends the wait."""
        if self._subscriber is None:
            await asyncio.sleep(timeout_s)
            return None
        payload = await self._wakeups.wait(token, timeout_s)
        if payload is None:
            return None
        epoch, has_state, state = payload.split(b"|", 2)
        return Acquired("granted", epoch=int(epoch), state=state if has_state == b"1" else None)

    async def renew(self, sid: str, token: str, epoch: int, ttl_ms: int) -> bool:
        """Extend the lease; False if the caller no longer holds that exact lease."""
        k = self._keys(sid)
        reply = await self._renew(keys=[k.lease, k.epoch], args=[token, epoch, ttl_ms])
        return bool(reply)

    async def commit(
        self,
        sid: str,
        message_id: str,
        *,
        token: str,
        epoch: int,
        state: bytes,
        events: list[dict[str, Any]],
        result: dict[str, Any],
        ttl_ms: int,
    ) -> Committed:
        """One round trip: fenced write of state + id record + log append + publish + release."""
        k = self._keys(sid)
        reply = await self._commit(
            keys=[
                k.lease,
                k.epoch,
                k.state,
                k.messages,
                k.waiters,
                k.log,
                k.seq,
                k.log_bytes,
                k.message_order,
                k.legacy_message(message_id),
            ],
            args=[
                token,
                epoch,
                state,
                orjson.dumps(result),
                ttl_ms,
                message_id,
                *_event_bodies(events),
            ],
        )
        kind = bytes(reply[0])
        if kind == b"fenced":
            return Committed("fenced")
        return Committed("ok" if kind == b"ok" else "duplicate", _record(reply[1]))

    async def release(self, sid: str, token: str, ttl_ms: int) -> bool:
        """Give up the lease (or a queue place) without committing; wakes the next waiter."""
        k = self._keys(sid)
        reply = await self._release(
            keys=[k.lease, k.epoch, k.waiters, k.state],
            args=[token, ttl_ms],
        )
        return bool(reply)

    async def message_record(self, sid: str, message_id: str) -> MessageRecord | None:
        """What a committed message id answers (None if it was never committed), also from
        a previous release's per-id record (a rolling deploy)."""
        k = self._keys(sid)
        raw = await self.redis.hget(k.messages, message_id)
        if raw is None:
            raw = await self.redis.get(k.legacy_message(message_id))
        return _record(raw) if raw is not None else None

    # -- the log -----------------------------------------------------------------------------

    async def append_events(self, sid: str, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Append events outside a turn (no lease needed); returns them with "seq" set."""
        if not events:
            return []
        k = self._keys(sid)
        reply = await self._append(
            keys=[k.log, k.seq, k.log_bytes],
            args=_event_bodies(events),
        )
        first = _int(reply[0])
        return [
            {"seq": first + i, **{k: v for k, v in e.items() if k != "seq"}}
            for i, e in enumerate(events)
        ]

    async def publish(self, sid: str, events: list[dict[str, Any]] | None, *, tagged: bool) -> None:
        """Publish events (with their seqs) on the session's channel, as the scripts do:
        ``tagged`` with this worker's tag (its own fan-out skips them, having delivered them
        in-process) or not. ``None`` is a nudge: every listener reads the log."""
        origin = self.wake_tag.encode() if tagged else b""
        payload = origin + b"|" + orjson.dumps(events)
        channel = self._keys(sid).channel
        if self._pipe is not None:
            await self._pipe.execute("PUBLISH", channel, payload)
        else:
            await self.redis.publish(channel, payload)

    async def read_log(self, sid: str, after_seq: int, limit: int = 1000) -> LogRead:
        """Events with seq > after_seq (at most ``limit``), or gap=True if some are gone."""
        k = self._keys(sid)
        reply = await self._read_log(keys=[k.seq, k.log], args=[after_seq + 1, limit])
        last = _int(reply[0])
        entries = reply[1]
        if after_seq > last:
            return LogRead([], last, gap=True)
        if after_seq == last:
            return LogRead([], last, gap=False)
        if not entries or bytes(entries[0][0]) != f"{after_seq + 1}-0".encode():
            return LogRead([], last, gap=True)
        events = [orjson.loads(_field(fields)) for _, fields in entries]
        return LogRead(events, last, gap=False)

    async def read_tail(self, sid: str, max_bytes: int, limit: int = 1000) -> LogRead:
        """The newest events whose bodies fit in ``max_bytes`` (at most ``limit``), oldest
        first: a bounded snapshot for a resync. ``gap`` is True when older events exist that
        it leaves out (or were trimmed)."""
        k = self._keys(sid)
        reply = await self._read_tail(keys=[k.seq, k.log], args=[max_bytes, limit])
        last = _int(reply[0])
        events = [orjson.loads(_field(fields)) for _, fields in reversed(reply[1])]
        first = int(events[0]["seq"]) if events else last + 1
        return LogRead(events, last, gap=first > 1)

    async def log_bytes(self, sid: str) -> int:
        """Bytes of event bodies the session's log holds (as counted by the append script)."""
        return _int(await self.redis.get(self._keys(sid).log_bytes))

    async def last_seq(self, sid: str) -> int:
        """The last sequence number handed out in this session (0 if none)."""
        return _int(await self._get(self._keys(sid).seq))

    async def load_state(self, sid: str) -> bytes | None:
        """The last committed checkpoint (a plain read, no lease)."""
        return _bytes(await self.redis.get(self._keys(sid).state))

    # -- blobs -------------------------------------------------------------------------------

    async def put_blob(self, key: str, data: bytes, ttl_s: int) -> None:
        """Store content-addressed bytes (key = content hash) for ``ttl_s`` seconds."""
        await self.redis.set(self.keys.blob(key), data, ex=ttl_s)

    async def get_blob(self, key: str) -> bytes | None:
        """The blob, or None if it expired or never existed."""
        return _bytes(await self.redis.get(self.keys.blob(key)))

    async def put_blob_sums(self, key: str, data: bytes, ttl_s: int) -> None:
        """Store the derived per-ward sums of a blob."""
        await self.redis.set(self.keys.blob_sums(key), data, ex=ttl_s)

    async def get_blob_sums(self, key: str) -> bytes | None:
        """The per-ward sums of a blob, or None."""
        return _bytes(await self.redis.get(self.keys.blob_sums(key)))

    async def put_blob_meta(self, key: str, data: bytes, ttl_s: int) -> None:
        """Store a blob's metadata; write it after the blob (its presence = blob complete)."""
        await self.redis.set(self.keys.blob_meta(key), data, ex=ttl_s)

    async def get_blob_meta(self, key: str) -> bytes | None:
        """A blob's metadata, or None."""
        return _bytes(await self.redis.get(self.keys.blob_meta(key)))

    # -- result objects ----------------------------------------------------------------------

    async def put_result(self, key: str, data: bytes, ttl_s: int) -> bytes:
        """Store an immutable result object unless one is stored under ``key`` already;
        returns the stored bytes (the first writer's: a key never changes its bytes)."""
        name = self.keys.result(key)
        if await self.redis.set(name, data, ex=ttl_s, nx=True):
            return data
        stored = _bytes(await self.redis.getex(name, ex=ttl_s))
        if stored is None:  # expired between the two calls: store ours
            await self.redis.set(name, data, ex=ttl_s)
            return data
        return stored

    async def get_result(self, key: str, ttl_s: int) -> bytes | None:
        """A result object (its TTL renewed: a used analysis stays), or None if gone."""
        return _bytes(await self.redis.getex(self.keys.result(key), ex=ttl_s))

    # -- resumable uploads -------------------------------------------------------------------

    async def create_upload(
        self,
        sid: str,
        upload_id: str,
        length: int,
        meta: dict[str, str],
        *,
        now_ms: int,
        ttl_ms: int,
        max_pending: int,
        max_pending_bytes: int,
    ) -> tuple[str, int]:
        """Create an upload unless the session's quotas refuse it. Returns ``("created", 0)``,
        ``("exists", its length)``, ``("too_many", unfinished count)`` or ``("quota", bytes
        of unfinished uploads)``."""
        u = self._keys(sid).upload(upload_id)
        pairs = [x for item in meta.items() for x in item]
        reply = await self._create_upload(
            keys=[u.uploads, u.meta],
            args=[upload_id, length, now_ms, ttl_ms, max_pending, max_pending_bytes, *pairs],
        )
        return _text(reply[0]), _int(reply[1]) if len(reply) > 1 else 0

    async def append_chunk(
        self, sid: str, upload_id: str, offset: int, data: bytes, *, now_ms: int, ttl_ms: int
    ) -> ChunkOutcome:
        """Append ``data`` at ``offset`` if the upload is exactly there (one round trip)."""
        u = self._keys(sid).upload(upload_id)
        reply = await self._append_chunk(
            keys=[u.uploads, u.meta, u.data], args=[upload_id, offset, data, now_ms, ttl_ms]
        )
        kind = _text(reply[0])
        if kind == "ok":
            return ChunkOutcome("ok", _int(reply[1]), _int(reply[2]))
        if kind == "closed":
            return ChunkOutcome("closed", _int(reply[2]), _int(reply[3]))
        return ChunkOutcome(kind, _int(reply[1]) if len(reply) > 1 else 0)  # type: ignore[arg-type]

    async def upload_info(self, sid: str, upload_id: str) -> UploadInfo | None:
        """The upload's length, offset, metadata and state; None if unknown or expired."""
        u = self._keys(sid).upload(upload_id)
        reply = await self._upload_info(keys=[u.meta, u.data, u.claim], args=[])
        flat = [_text(x) for x in reply[0]]
        fields = dict(zip(flat[::2], flat[1::2], strict=True))
        if "length" not in fields:
            return None
        return UploadInfo(
            length=int(fields.pop("length")),
            offset=_int(reply[1]),
            state=fields.pop("state", "receiving"),
            meta=fields,
            finishing=bool(_int(reply[2])),
            ttl_ms=_int(reply[3]),
        )

    async def upload_bytes(self, sid: str, upload_id: str) -> bytes | None:
        """Every byte received for the upload."""
        return _bytes(await self.redis.get(self._keys(sid).upload(upload_id).data))

    async def claim_upload(self, sid: str, upload_id: str, token: str, ttl_ms: int) -> bool:
        """Become the one worker finishing the upload (until ``ttl_ms`` passes unrenewed)."""
        claim = self._keys(sid).upload(upload_id).claim
        return bool(await self.redis.set(claim, token, nx=True, px=ttl_ms))

    async def renew_upload_claim(self, sid: str, upload_id: str, token: str, ttl_ms: int) -> bool:
        """Extend the claim (``ttl_ms`` > 0) or give it up (0); False if it is not ours."""
        claim = self._keys(sid).upload(upload_id).claim
        return bool(await self._claim_upload(keys=[claim], args=[token, str(int(ttl_ms))]))

    async def claim_parsing(
        self, sid: str, upload_id: str, token: str, ttl_ms: int, *, renew: bool = False
    ) -> bool:
        """Become (SET NX), stay (``renew``, ``ttl_ms`` > 0) or stop being (``renew``, 0) the
        one worker parsing an upload, so a concurrent duplicate waits instead of parsing and
        logging progress again. False if another worker holds it (or, renewing, not ours)."""
        parsing = self._keys(sid).upload(upload_id).parsing
        if not renew:
            return bool(await self.redis.set(parsing, token, nx=True, px=ttl_ms))
        return bool(await self._claim_upload(keys=[parsing], args=[token, str(int(ttl_ms))]))

    async def close_upload(
        self, sid: str, upload_id: str, state: str, outcome: dict[str, Any], keep_ms: int
    ) -> bool:
        """Record the upload's end (``done``, ``failed``, ``deleted``) and what to answer about
        it (``outcome``, kept as the ``outcome`` metadata) for ``keep_ms``; free its bytes,
        claim and quota. False if it was unknown."""
        u = self._keys(sid).upload(upload_id)
        reply = await self._close_upload(
            keys=[u.meta, u.data, u.uploads, u.claim],
            args=[upload_id, state, orjson.dumps(outcome), keep_ms],
        )
        return bool(reply)


def _field(fields: Any) -> bytes:
    # XRANGE fields come back as a flat [name, value] list from Lua.
    if isinstance(fields, dict):
        return bytes(next(iter(fields.values())))
    return bytes(fields[1])
