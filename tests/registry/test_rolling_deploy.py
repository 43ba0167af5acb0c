"""Exactly-once across a rolling deploy: the previous release recorded each committed message
id under its own key (``<prefix>:{sid}:msg:<id>``, 24 h); the current one keeps records in one
hash per session. An id committed by an old worker and resent to a new one (the old worker
closed its socket with 1001) must be answered from the old record, not applied again."""

from __future__ import annotations

from typing import Any

import orjson

from tests.registry.conftest import ClientFactory
from tests.registry.counter import count_of, increment
from tests.registry.helpers import PREFIX, counter, lease_holder
from tpr_ws.registry.storage import Storage
from tpr_ws.registry.turns import Registry

# The previous release's commit script, verbatim (tpr_ws/registry/scripts.py at 816d9c8:
# _HAND_OVER + _APPEND + COMMIT), with its constants written in as its Storage did.
# KEYS[1] lease  KEYS[2] epoch  KEYS[3] state  KEYS[4] message id record  KEYS[5] waiters
# KEYS[6] log stream  KEYS[7] seq counter  KEYS[8] log bytes counter
# ARGV[1] token  ARGV[2] epoch  ARGV[3] new state  ARGV[4] result  ARGV[5] lease TTL ms
# ARGV[6..] events
OLD_COMMIT = r"""
local function hand_over(lease, epoch, waiters, ttl, state)
  local head = redis.call('LPOP', waiters)
  if not head then return false end
  redis.call('SET', lease, head, 'PX', ttl)
  local e = redis.call('INCR', epoch)
  redis.call('EXPIRE', epoch, __SESSION_TTL__)
  local wake = waiters .. ':' .. head
  if state then
    redis.call('RPUSH', wake, e .. '|1|' .. state)
  else
    redis.call('RPUSH', wake, e .. '|0|')
  end
  redis.call('PEXPIRE', wake, ttl)
  return head
end
local function trim(log, log_bytes, added)
  local maxlen, maxbytes = __LOG_MAXLEN__, __LOG_MAXBYTES__
  local total = redis.call('INCRBY', log_bytes, added)
  local len = redis.call('XLEN', log)
  local cut, from = false, '-'
  while len > 1 and (len > maxlen or total > maxbytes) do
    local oldest = redis.call('XRANGE', log, from, '+', 'COUNT', 32)
    if #oldest == 0 then break end
    for _, entry in ipairs(oldest) do
      if len <= 1 or (len <= maxlen and total <= maxbytes) then break end
      total = total - #entry[2][2]
      len = len - 1
      cut = entry[1]
    end
    from = '(' .. oldest[#oldest][1]
  end
  if cut then
    -- MINID keeps ids >= the one after the last cut ('<seq>-0' ids: the next seq).
    local seq = tonumber(string.match(cut, '^(%d+)'))
    redis.call('XTRIM', log, 'MINID', (seq + 1) .. '-0')
    if total < 0 then total = 0 end
  end
  redis.call('SET', log_bytes, total, 'EX', __SESSION_TTL__)
end

local function append(log, seq, log_bytes, first_arg)
  local session_ttl = __SESSION_TTL__
  -- the session's channel is named like its seq key: '<prefix>:{sid}:seq' -> ':events'
  local channel = string.sub(seq, 1, -4) .. 'events'
  local n = tonumber(redis.call('GET', seq) or '0')
  local first = n + 1
  local out = {}
  local added = 0
  for i = first_arg, #ARGV do
    n = n + 1
    local ev = ARGV[i]
    local body
    if ev == '{}' then
      body = '{"seq":' .. n .. '}'
    else
      body = '{"seq":' .. n .. ',' .. string.sub(ev, 2)
    end
    redis.call('XADD', log, n .. '-0', 'e', body)
    added = added + #body
    out[#out + 1] = body
  end
  if #out == 0 then
    return {n, n}
  end
  trim(log, log_bytes, added)
  redis.call('SET', seq, n, 'EX', session_ttl)
  redis.call('EXPIRE', log, session_ttl)
  redis.call('PUBLISH', channel, '[' .. table.concat(out, ',') .. ']')
  return {first, n}
end
local token = ARGV[1]
local rec = redis.call('GET', KEYS[4])
if rec then
  -- Already committed (a resent id, or our own commit retried after a dropped reply).
  if redis.call('GET', KEYS[1]) == token then
    redis.call('DEL', KEYS[1])
    hand_over(KEYS[1], KEYS[2], KEYS[5], ARGV[5], redis.call('GET', KEYS[3]))
  end
  return {'dup', rec}
end
if redis.call('GET', KEYS[1]) ~= token or redis.call('GET', KEYS[2]) ~= ARGV[2] then
  return {'fenced'}
end
redis.call('SET', KEYS[3], ARGV[3], 'EX', __SESSION_TTL__)
-- The epoch outlives nothing it fences: a lease lasts seconds, an idle session days.
redis.call('EXPIRE', KEYS[2], __SESSION_TTL__)
-- With no events, first_seq = last_seq = the session's current seq.
local seqs = append(KEYS[6], KEYS[7], KEYS[8], 6)
rec = '{"first_seq":' .. seqs[1] .. ',"last_seq":' .. seqs[2] .. ',"result":' .. ARGV[4] .. '}'
redis.call('SET', KEYS[4], rec, 'EX', __RECORD_TTL__)
redis.call('DEL', KEYS[1])
hand_over(KEYS[1], KEYS[2], KEYS[5], ARGV[5], ARGV[3])
return {'ok', rec}"""
_OLD_CONSTANTS = {
    "__RECORD_TTL__": 24 * 3600,
    "__LOG_MAXLEN__": 2000,
    "__LOG_MAXBYTES__": 256 * 1024,
    "__SESSION_TTL__": 30 * 24 * 3600,
}


def _old_script() -> str:
    script = OLD_COMMIT
    for name, value in _OLD_CONSTANTS.items():
        script = script.replace(name, str(value))
    return script


async def _old_worker_commits(storage: Storage, sid: str, message_id: str) -> dict[str, Any]:
    """What an old worker did for one message: the lease (the acquire is unchanged in what it
    writes), then the old commit script with the old key layout. Returns its record."""
    token = storage.new_token("old-")
    acquired = await storage.acquire(sid, message_id, token, 5000)
    assert acquired.kind == "granted"
    state, events = increment(acquired.state, message_id)
    k = storage.keys.session(sid)
    old_record_key = f"{PREFIX}:{{{sid}}}:msg:{message_id}".encode()
    keys = [k.lease, k.epoch, k.state, old_record_key, k.waiters, k.log, k.seq, k.log_bytes]
    result = {"count": count_of(state)}
    args = [token, acquired.epoch, state, orjson.dumps(result), 5000]
    args += [orjson.dumps(event) for event in events]
    reply = await storage.redis.eval(_old_script(), len(keys), *keys, *args)  # type: ignore[misc]
    assert bytes(reply[0]) == b"ok"
    assert await storage.redis.ttl(old_record_key) > 23 * 3600  # the old format: its own key
    return dict(orjson.loads(reply[1]))


async def _snapshot(storage: Storage, sid: str) -> tuple[bytes | None, int, int]:
    return (
        await storage.load_state(sid),
        await storage.last_seq(sid),
        int(await storage.redis.xlen(storage.keys.session(sid).log)),
    )


async def test_an_id_committed_by_an_old_worker_is_answered_by_a_new_one(
    client_factory: ClientFactory,
) -> None:
    storage = Storage(await client_factory(), prefix=PREFIX)
    registry = Registry(storage, lease_ttl_ms=2000)
    await registry.run("s", "m1", counter("m1"))  # a new worker first
    old = await _old_worker_commits(storage, "s", "m2")  # then an old one, before the roll
    before = await _snapshot(storage, "s")
    assert count_of(before[0]) == 2

    resent = await registry.run("s", "m2", counter("m2"))  # resent to a new worker

    assert resent.duplicate
    assert (resent.first_seq, resent.last_seq) == (old["first_seq"], old["last_seq"])
    assert resent.result == old["result"] == {"count": 2}
    assert await _snapshot(storage, "s") == before  # nothing applied, nothing logged
    recorded = await registry.recorded("s", "m2")  # what a resent upload is checked against
    assert recorded is not None and recorded.first_seq == old["first_seq"]
    after = await registry.run("s", "m3", counter("m3"))  # the session goes on
    assert not after.duplicate and after.result == {"count": 3}


async def test_the_commit_script_also_recognises_an_old_record(
    client_factory: ClientFactory,
) -> None:
    # An old worker committed the id while ours held a lease taken before (a lease that
    # expired mid-turn): our commit must answer from the old record, not apply it again.
    storage = Storage(await client_factory(), prefix=PREFIX)
    token = storage.new_token("new-")
    acquired = await storage.acquire("s", "m1", token, 5000)
    assert acquired.kind == "granted"
    old_record = b'{"first_seq":1,"last_seq":1,"result":{"count":1}}'
    await storage.redis.set(f"{PREFIX}:{{s}}:msg:m1".encode(), old_record, ex=24 * 3600)
    state, events = increment(None, "m1")
    committed = await storage.commit(
        "s",
        "m1",
        token=token,
        epoch=acquired.epoch,
        state=state,
        events=events,
        result={"count": 1},
        ttl_ms=5000,
    )
    assert committed.kind == "duplicate"
    assert committed.record is not None and committed.record.first_seq == 1
    assert await storage.load_state("s") is None and await storage.last_seq("s") == 0
    assert (await lease_holder(storage, "s"))[0] is None  # and the lease is given back
