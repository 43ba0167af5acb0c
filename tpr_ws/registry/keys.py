"""Every Redis key and channel name of the product, built in one place.

All keys of one session share the hash tag ``{<session id>}`` so each script touches one slot
and runs unchanged on Redis Cluster. Every key a session writes expires: the lease and a wake
list after one lease TTL, the others after the session TTL (renewed by each commit). Per session
(prefix ``tpr`` by default)::

    tpr:{sid}:lease        holder token, PX = lease TTL (absent = free)
    tpr:{sid}:epoch        fencing token; INCR on every grant, never reset while the session lives
    tpr:{sid}:state        the checkpoint (opaque bytes)
    tpr:{sid}:msgs         hash: committed message id -> {"first_seq","last_seq","result"}
    tpr:{sid}:msgs:order   list of those ids, oldest first (the hash keeps the newest N)
    tpr:{sid}:msg:<id>     the previous release's record of one id (same JSON, 24 h): only
                           read, so a resend across a rolling deploy is still recognised
    tpr:{sid}:waiters      FIFO list of tokens waiting for the lease
    tpr:{sid}:arrivals     counter: the order in which first acquires reached Redis
    tpr:{sid}:log          stream of events, ids ``<seq>-0``, trimmed by events and bytes
    tpr:{sid}:log:bytes    payload bytes the log holds (kept by the append script)
    tpr:{sid}:seq          last sequence number handed out
    tpr:{sid}:events       pub/sub channel: orjson list of the events just appended
    tpr:{sid}:uploads      hash: resumable upload id -> "<expires ms>:<length>" (the session's
                           unfinished uploads, for its quotas)
    tpr:{sid}:upload:<u>   hash: one resumable upload's length, metadata and state
    tpr:{sid}:upload:<u>:data    the bytes received so far (APPENDed chunk by chunk)
    tpr:{sid}:upload:<u>:claim   the worker finishing it (PX, renewed while it parses)
    tpr:{sid}:upload:<u>:parsing the worker parsing upload (or Idempotency-Key) <u> until its
                                 turn commits (PX, renewed): a concurrent duplicate waits

Shared by sessions (content-addressed, with a TTL; a dataset's ``<key>`` is opaque here: the
domain makes it from the file's SHA-256 and the parse version)::

    tpr:blob:{<key>}       immutable blobs (parsed datasets)
    tpr:blob:{<key>:sums}  a dataset's per-ward sums (what results are computed from)
    tpr:blob:{<key>:meta}  a blob's metadata, written after the blob (its presence = complete)
    tpr:result:{<key>}     immutable result objects (one analysis: its table and summary)

Limits shared by every worker (fixed windows, each with a TTL of its window)::

    tpr:quota:{<subject>}:<name>   a counter; subject = a session id or a client address

Per worker process::

    tpr:wake:<tag>         pub/sub channel: "<token>|<epoch>|<has state>|<state>" hands the
                           lease to a waiting turn of that worker (tokens end in "@<tag>")
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_PREFIX = "tpr"
_CACHE_SIZE = 10_000


@dataclass(frozen=True)
class SessionKeys:
    """A session's key names, encoded once (the client would otherwise encode every key on
    every call)."""

    lease: bytes
    epoch: bytes
    state: bytes
    waiters: bytes
    arrivals: bytes
    log: bytes
    log_bytes: bytes
    seq: bytes
    channel: str
    messages: bytes
    message_order: bytes
    uploads: bytes

    def legacy_message(self, message_id: str) -> bytes:
        """The previous release's per-id record of ``message_id`` (read-only fallback)."""
        return self.messages[: -len(b"msgs")] + b"msg:" + message_id.encode()

    def upload(self, upload_id: str) -> UploadKeys:
        """The keys of one resumable upload of this session."""
        base = self.uploads[: -len(b"uploads")] + b"upload:" + upload_id.encode()
        return UploadKeys(
            uploads=self.uploads,
            meta=base,
            data=base + b":data",
            claim=base + b":claim",
            parsing=base + b":parsing",
        )


@dataclass(frozen=True)
class UploadKeys:
    """One resumable upload: the session's upload index, its metadata, bytes and claim."""

    uploads: bytes
    meta: bytes
    data: bytes
    claim: bytes
    parsing: bytes


class KeySpace:
    """Builds key names under one prefix; a small cache keeps hot sessions' keys encoded."""

    def __init__(self, prefix: str = DEFAULT_PREFIX) -> None:
        if not prefix or "{" in prefix or "}" in prefix:
            raise ValueError(f"invalid key prefix {prefix!r}")
        self.prefix = prefix
        self._cache: dict[str, SessionKeys] = {}

    def session(self, sid: str) -> SessionKeys:
        keys = self._cache.get(sid)
        if keys is None:
            if len(self._cache) >= _CACHE_SIZE:
                self._cache.clear()  # bounded; rebuilding is cheap
            keys = self._cache[sid] = self._build(sid)
        return keys

    def _build(self, sid: str) -> SessionKeys:
        if not sid or "{" in sid or "}" in sid:
            raise ValueError(f"invalid session id {sid!r}")
        base = f"{self.prefix}:{{{sid}}}:"
        return SessionKeys(
            lease=(base + "lease").encode(),
            epoch=(base + "epoch").encode(),
            state=(base + "state").encode(),
            waiters=(base + "waiters").encode(),
            arrivals=(base + "arrivals").encode(),
            log=(base + "log").encode(),
            log_bytes=(base + "log:bytes").encode(),
            seq=(base + "seq").encode(),
            channel=base + "events",
            messages=(base + "msgs").encode(),
            message_order=(base + "msgs:order").encode(),
            uploads=(base + "uploads").encode(),
        )

    def blob(self, key: str) -> str:
        """An immutable, content-addressed blob (the key is a content hash)."""
        return f"{self.prefix}:blob:{{{key}}}"

    def blob_meta(self, key: str) -> str:
        """The metadata of a blob; written last, so its presence means the blob is complete."""
        return f"{self.prefix}:blob:{{{key}:meta}}"

    def result(self, key: str) -> str:
        """An immutable result object, addressed by what it was computed from."""
        return f"{self.prefix}:result:{{{key}}}"

    def blob_sums(self, key: str) -> str:
        """The per-ward sums of a dataset blob (immutable, derived from the blob)."""
        return f"{self.prefix}:blob:{{{key}:sums}}"

    def wake_channel(self, tag: str) -> bytes:
        """A worker's wake-up channel: a hand-over to a waiter whose token ends in
        ``@<tag>`` is published here (the scripts build the same name from the waiters key)."""
        return f"{self.prefix}:wake:{tag}".encode()

    def quota(self, subject: str, name: str) -> bytes:
        """A fixed-window counter of `name` (e.g. messages) for one subject (a session id or
        a client address); the subject is the hash tag, so a session's counter shares its
        slot."""
        if not subject or "{" in subject or "}" in subject:
            raise ValueError(f"invalid quota subject {subject!r}")
        return f"{self.prefix}:quota:{{{subject}}}:{name}".encode()

    def quota_pattern(self) -> str:
        """A SCAN pattern matching every quota counter (operators and tests reset windows)."""
        return f"{self.prefix}:quota:*"
