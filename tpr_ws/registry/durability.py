"""Durable acks (DESIGN invariant 4): before a turn is acknowledged, wait until its message
record has reached a replica (WAIT) and/or the primary's AOF fsync (WAITAOF).

WAIT and WAITAOF count the writes of the connection they run on, so a confirmation is one
pipelined round trip on one connection: the CONFIRM script rewrites the record (a write that
follows the commit in the replication stream, or nothing if the record is missing, e.g. lost in
a failover), then WAIT / WAITAOF. It never uses the registry's shared pipe, where a blocking
WAIT would hold up every other caller. In a cluster the pair goes to the node that owns the
session's slot. A resent id answered from its record is confirmed the same way, so an ack is
never given for a record that only the old primary held. Events appended outside a turn
(upload progress) are confirmed the same way, by a write that finds the last one in the log.
With a policy, the scripts publish nothing: the registry publishes once this returns.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Final

from redis.asyncio.cluster import RedisCluster
from redis.exceptions import (
    ConnectionError,
    MovedError,
    NoScriptError,
    RedisClusterException,
    RedisError,
    ResponseError,
)

from tpr_ws.errors import ConfigError, StorageUnavailable
from tpr_ws.registry.client import RedisClient, cluster_fault
from tpr_ws.registry.keys import KeySpace
from tpr_ws.registry.scripts import CONFIRM, CONFIRM_LOG

MODES: Final = ("none", "replica", "aof", "replica+aof")


@dataclass(frozen=True)
class Policy:
    """What an ack waits for: one replica, the local AOF fsync, or both."""

    replica: bool
    aof: bool
    timeout_ms: int

    @classmethod
    def parse(cls, mode: str, timeout_ms: int) -> Policy | None:
        """A policy for a `TPR_WS_DURABILITY` value (None for "none")."""
        if mode not in MODES:
            raise ConfigError(f"TPR_WS_DURABILITY must be one of {', '.join(MODES)}: {mode!r}")
        if mode == "none":
            return None
        return cls(replica="replica" in mode, aof="aof" in mode, timeout_ms=timeout_ms)

    def command(self) -> tuple[Any, ...]:
        if self.aof:
            return ("WAITAOF", 1, 1 if self.replica else 0, self.timeout_ms)
        return ("WAIT", 1, self.timeout_ms)

    def satisfied(self, reply: Any) -> bool:
        if self.aof:
            local, replicas = (int(x) for x in reply)
            return local >= 1 and (replicas >= 1 or not self.replica)
        return int(reply) >= 1


class NotDurable(StorageUnavailable):
    """Committed on the primary, not yet where the policy wants it: the client resends the
    same id and is acknowledged once it is (or the turn runs again on a promoted replica)."""


class Durability:
    """Confirms message records under a `Policy` (see module docstring)."""

    def __init__(self, redis: RedisClient, keys: KeySpace, policy: Policy) -> None:
        self.redis = redis
        self.keys = keys
        self.policy = policy
        self._sha = hashlib.sha1(CONFIRM.encode()).hexdigest()
        self._log_sha = hashlib.sha1(CONFIRM_LOG.encode()).hexdigest()

    async def check(self) -> None:
        """Fail at start-up when the server cannot honour the policy (WAITAOF without AOF)."""
        if not self.policy.aof:
            return
        try:
            if isinstance(self.redis, RedisCluster):
                await self.redis.execute_command("WAITAOF", 1, 0, 0, target_nodes="primaries")
            else:
                await self.redis.execute_command("WAITAOF", 1, 0, 0)  # type: ignore[no-untyped-call]
        except ResponseError as exc:
            raise ConfigError(f"TPR_WS_DURABILITY needs the AOF on every primary: {exc}") from exc

    async def confirm(self, sid: str, message_id: str) -> None:
        """Return once the record of `message_id` is durable; `NotDurable` if it is not (yet)."""
        key = self.keys.session(sid).messages
        what = f"message {message_id} of session {sid}"
        await self._confirmed(key, CONFIRM, self._sha, [message_id], what)

    async def confirm_log(self, sid: str, last_seq: int, session_ttl_s: int) -> None:
        """Return once the log's events up to `last_seq` (appended outside a turn) are
        durable; `NotDurable` if they are not (yet), or if event `last_seq` is not here."""
        key = self.keys.session(sid).log
        what = f"event {last_seq} of session {sid}"
        await self._confirmed(key, CONFIRM_LOG, self._log_sha, [last_seq, session_ttl_s], what)

    async def _confirmed(
        self, key: bytes, script: str, sha: str, args: list[Any], what: str
    ) -> None:
        """The script (a write that finds what it confirms) then WAIT / WAITAOF, pinned."""
        commands = [("EVALSHA", sha, 1, key, *args), self.policy.command()]
        replies = await self._pinned(key, commands)
        if isinstance(replies[0], NoScriptError):
            await self._load(key, script)
            replies = await self._pinned(key, commands)
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        found, waited = replies
        if not found:
            raise NotDurable(f"{what} is not on this primary")
        if not self.policy.satisfied(waited):
            raise NotDurable(f"{what} not durable in time")

    async def _load(self, key: bytes, script: str) -> None:
        if isinstance(self.redis, RedisCluster):
            node = self.redis.get_node_from_key(key.decode())
            await self.redis.execute_command("SCRIPT", "LOAD", script, target_nodes=node)
        else:
            await self.redis.script_load(script)

    async def _pinned(self, key: bytes, commands: list[tuple[Any, ...]]) -> list[Any]:
        """Send the commands on one connection to the key's primary; replies or errors."""
        if not isinstance(self.redis, RedisCluster):
            async with self.redis.pipeline(transaction=False) as pipe:
                for command in commands:
                    pipe.execute_command(*command)
                return list(await pipe.execute(raise_on_error=False))
        try:
            return await self._on_primary(self.redis, key, commands)
        except (RedisClusterException, AttributeError, KeyError) as exc:
            # A failover under way (no node for the slot, the connection closed under us
            # by the client's re-initialisation): retryable like any storage error.
            fault = cluster_fault(exc)
            if fault is None:
                raise
            raise fault from exc

    async def _on_primary(
        self, redis: RedisCluster, key: bytes, commands: list[tuple[Any, ...]]
    ) -> list[Any]:
        node = redis.get_node_from_key(key.decode())
        if node is None:
            raise ConnectionError("no node serves the session's slot (a failover under way)")
        conn = node.acquire_connection()
        try:
            await conn.send_packed_command(conn.pack_commands(commands))
            replies: list[Any] = []
            for _ in commands:
                try:
                    replies.append(await conn.read_response())
                except ResponseError as exc:
                    replies.append(exc)
        except (RedisError, OSError, AttributeError):
            await conn.disconnect()
            raise
        finally:
            node.release(conn)
        if any(isinstance(r, MovedError) for r in replies):
            # The slot moved (a failover): learn the new owner; the client resends.
            await redis.nodes_manager.initialize()
            raise ConnectionError("the session's slot moved during the confirmation")
        return replies
