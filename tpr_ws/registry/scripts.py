"""The Lua scripts behind `tpr_ws.registry.storage` and `tpr_ws.registry.quotas` (only those
import this module).

Every session script touches the keys of one session only; they share the hash tag ``{<sid>}``, so
one slot. The wake channel of a waiter is named inside the scripts (from its token) because
which waiter is at the head is only known there; channels are not keys (any node publishes to
the whole cluster).
"""

from __future__ import annotations

# hand_over: give a free lease straight to the head waiter (a new epoch) and wake it by a
# PUBLISH on its worker's wake channel with "<token>|<epoch>|<1 or 0: has state>|<state>", so
# it needs no second round trip to load. A token is '<anything>@<wake tag>' and the channel
# '<prefix>:wake:<wake tag>' (keys.py); a token without '@' is not woken (it comes back by
# timeout). Pub/sub may lose the message: the lease itself records the hand-over, and the
# waiter's acquire after its timeout (or after its pub/sub connection recovered) finds it.
# A dead head simply lets the lease expire; the other waiters' timeouts retry then.
# Every key a script writes gets a TTL (the session's).
_HAND_OVER = """
local function hand_over(lease, epoch, waiters, ttl, state)
  local head = redis.call('LPOP', waiters)
  if not head then return false end
  redis.call('SET', lease, head, 'PX', ttl)
  local e = redis.call('INCR', epoch)
  redis.call('EXPIRE', epoch, __SESSION_TTL__)
  local tag = string.match(head, '@([^@]+)$')
  if tag then
    local channel = string.match(waiters, '^(.-):{') .. ':wake:' .. tag
    if state then
      redis.call('PUBLISH', channel, head .. '|' .. e .. '|1|' .. state)
    else
      redis.call('PUBLISH', channel, head .. '|' .. e .. '|0|')
    end
  end
  return head
end
"""

# append: give ARGV[first_arg..] (orjson objects without "seq") the next sequence numbers,
# XADD each as '<seq>-0' (so XRANGE by seq works), trim, PUBLISH the batch as
# '<origin>|[events]' (a commit's origin is its worker's tag: that worker has already handed
# the events to its own sockets in-process and skips its copy; appends say ''), and keep the log
# for `session_ttl` seconds after its last event (an idle session expires as a whole).
# The origin is written into the script text by the Storage ('__ORIGIN__'); `false` means no
# PUBLISH at all (durable acks: the worker publishes once the events are durable).
# '"seq":N,' is spliced after the opening brace instead of cjson re-encoding, which would
# turn [] into {} and round floats.
# The log is bounded twice: at most `log_maxlen` events and `log_maxbytes` bytes of event
# bodies (counted in the log bytes key); the oldest go first, the newest always stays.
# A reader behind the oldest kept event sees a gap and resyncs (never a silent gap).
_APPEND = """
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

local function append(log, seq, log_bytes, first_arg, origin)
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
  if origin then
    redis.call('PUBLISH', channel, origin .. '|[' .. table.concat(out, ',') .. ']')
  end
  return {first, n}
end
"""

# Acquire + load.
# KEYS[1] lease    KEYS[2] epoch   KEYS[3] state   KEYS[4] message records (hash)
# KEYS[5] waiters  KEYS[6] arrivals counter  KEYS[7] the id's legacy record (read only)
# ARGV[1] caller token  ARGV[2] lease TTL ms
# ARGV[3] '1' on the caller's first acquire (a fresh token: counts an arrival), else '0'
# ARGV[4] message id
# Returns {'dup', record} | {'granted', epoch, state or nil, ticket} | {'queued', pos, ticket}
ACQUIRE = (
    _HAND_OVER
    + """
local token = ARGV[1]
local rec = redis.call('HGET', KEYS[4], ARGV[4]) or redis.call('GET', KEYS[7])
local cur = redis.call('GET', KEYS[1])
if rec then
  -- Committed before: answer with the record and give back whatever we held or queued for.
  if ARGV[3] == '0' then
    redis.call('LREM', KEYS[5], 0, token)
  end
  if cur == token then
    redis.call('DEL', KEYS[1])
    hand_over(KEYS[1], KEYS[2], KEYS[5], ARGV[2], redis.call('GET', KEYS[3]))
  end
  return {'dup', rec}
end
if cur == token then
  -- Handed over to us (we were the head waiter) and we came back by timeout, not by the
  -- wake-up: the epoch is already ours.
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {'granted', redis.call('GET', KEYS[2]), redis.call('GET', KEYS[3]), 0}
end
local pos = false
local ticket = 0
if ARGV[3] == '1' then
  ticket = redis.call('INCR', KEYS[6])
  redis.call('EXPIRE', KEYS[6], __SESSION_TTL__)
else
  pos = redis.call('LPOS', KEYS[5], token)
end
if not cur then
  local head = redis.call('LINDEX', KEYS[5], 0)
  if (not head) or head == token then
    if head then
      redis.call('LPOP', KEYS[5])
    end
    redis.call('SET', KEYS[1], token, 'PX', ARGV[2])
    local epoch = redis.call('INCR', KEYS[2])
    redis.call('EXPIRE', KEYS[2], __SESSION_TTL__)
    return {'granted', epoch, redis.call('GET', KEYS[3]), ticket}
  end
  -- Free, but someone queued first (its holder died, or it is dead itself): the head gets
  -- the lease and a wake-up; if it is gone, the lease expires and the queue moves on.
  hand_over(KEYS[1], KEYS[2], KEYS[5], ARGV[2], redis.call('GET', KEYS[3]))
  if pos then pos = redis.call('LPOS', KEYS[5], token) end
end
if not pos then
  pos = redis.call('RPUSH', KEYS[5], token) - 1
  redis.call('EXPIRE', KEYS[5], __SESSION_TTL__)
end
return {'queued', pos, ticket}
"""
)

# Renew: only the exact holder (token and epoch) extends the lease.
# KEYS[1] lease  KEYS[2] epoch
# ARGV[1] token  ARGV[2] epoch  ARGV[3] lease TTL ms
# Returns 1 if renewed, 0 if the lease is not ours any more.
RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] and redis.call('GET', KEYS[2]) == ARGV[2] then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return 1
end
return 0
"""

# Commit + release, fenced.
# KEYS[1] lease  KEYS[2] epoch  KEYS[3] state  KEYS[4] message records (hash)  KEYS[5] waiters
# KEYS[6] log stream  KEYS[7] seq counter  KEYS[8] log bytes counter  KEYS[9] record order
# KEYS[10] the id's legacy record (read only: a previous release's `msg:<id>` key)
# ARGV[1] token  ARGV[2] epoch  ARGV[3] new state  ARGV[4] result (JSON object)
# ARGV[5] lease TTL ms (for a hand-over)  ARGV[6] message id
# ARGV[7..] events (JSON objects, no "seq")
# Records live as long as the session (same TTL, renewed by every commit), so a resend is
# answered at any time in the session's life; the newest `records_kept` ids are kept.
# The records kept, log bounds and session TTL are the Storage's configuration, written into
# the script text (see `configure`), so they are not sent with every commit.
# Returns {'ok', record} | {'dup', record} | {'fenced'}
COMMIT = (
    _HAND_OVER
    + _APPEND
    + """
local token = ARGV[1]
local rec = redis.call('HGET', KEYS[4], ARGV[6]) or redis.call('GET', KEYS[10])
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
local seqs = append(KEYS[6], KEYS[7], KEYS[8], 7, '__ORIGIN__')
rec = '{"first_seq":' .. seqs[1] .. ',"last_seq":' .. seqs[2] .. ',"result":' .. ARGV[4] .. '}'
redis.call('HSET', KEYS[4], ARGV[6], rec)
local kept = redis.call('RPUSH', KEYS[9], ARGV[6])
if kept > __RECORDS_KEPT__ then
  -- The oldest ids leave the window (far more than a page ever has unacknowledged).
  redis.call('HDEL', KEYS[4], unpack(redis.call('LPOP', KEYS[9], kept - __RECORDS_KEPT__)))
end
redis.call('EXPIRE', KEYS[4], __SESSION_TTL__)
redis.call('EXPIRE', KEYS[9], __SESSION_TTL__)
redis.call('DEL', KEYS[1])
hand_over(KEYS[1], KEYS[2], KEYS[5], ARGV[5], ARGV[3])
return {'ok', rec}
"""
)

# Release without commit; also how a waiter leaves the queue.
# KEYS[1] lease  KEYS[2] epoch  KEYS[3] waiters  KEYS[4] state
# ARGV[1] token  ARGV[2] lease TTL ms (for a hand-over)
# Returns 1 if the caller held the lease, else 0.
RELEASE = (
    _HAND_OVER
    + """
redis.call('LREM', KEYS[3], 0, ARGV[1])
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  hand_over(KEYS[1], KEYS[2], KEYS[3], ARGV[2], redis.call('GET', KEYS[4]))
  return 1
end
return 0
"""
)

# Append events outside a turn (no lease).
# KEYS[1] log stream  KEYS[2] seq counter  KEYS[3] log bytes counter
# ARGV[1..] events (JSON objects, no "seq")
# Returns {first seq, last seq}.
APPEND = (
    _APPEND
    + """
return append(KEYS[1], KEYS[2], KEYS[3], 1, '__ORIGIN__')
"""
)

# Read the log after a seq, with the last seq in the same snapshot.
# KEYS[1] seq counter  KEYS[2] log stream
# ARGV[1] first seq wanted  ARGV[2] max entries
# Returns {last seq, XRANGE entries}.
READ_LOG = """
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
return {last, redis.call('XRANGE', KEYS[2], ARGV[1] .. '-0', '+', 'COUNT', ARGV[2])}
"""

# Read the newest events that fit in a byte budget (a resync snapshot), with the last seq.
# KEYS[1] seq counter  KEYS[2] log stream
# ARGV[1] max bytes of event bodies  ARGV[2] max entries
# Returns {last seq, entries newest first}. Pages of 32, so a log written before it was bounded
# by bytes is never read whole.
READ_TAIL = """
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
local budget, most = tonumber(ARGV[1]), tonumber(ARGV[2])
local out, used, top = {}, 0, '+'
while #out < most do
  local page = redis.call('XREVRANGE', KEYS[2], top, '-', 'COUNT', 32)
  if #page == 0 then break end
  for _, entry in ipairs(page) do
    local size = #entry[2][2]
    if used + size > budget or #out >= most then return {last, out} end
    used = used + size
    out[#out + 1] = entry
  end
  top = '(' .. page[#page][1]
end
return {last, out}
"""

# Resumable uploads (tus). A session's index KEYS[1] maps each unfinished upload id to
# "<expires ms>:<length>", so the per-session quotas are checked in the same script that
# creates an upload; entries past their expiry are dropped as they are met.
# Create: KEYS[1] index  KEYS[2] meta
# ARGV[1] upload id  ARGV[2] length  ARGV[3] now ms  ARGV[4] TTL ms  ARGV[5] max unfinished
# uploads  ARGV[6] max unfinished bytes  ARGV[7..] metadata field, value pairs
# Returns {'exists', length} | {'too_many', count} | {'quota', bytes used} | {'created'}
CREATE_UPLOAD = """
local length, now, ttl = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
if redis.call('EXISTS', KEYS[2]) == 1 then
  return {'exists', redis.call('HGET', KEYS[2], 'length')}
end
local count, used = 0, 0
local entries = redis.call('HGETALL', KEYS[1])
for i = 1, #entries, 2 do
  local expires, size = string.match(entries[i + 1], '^(%d+):(%d+)$')
  if (not expires) or tonumber(expires) <= now then
    redis.call('HDEL', KEYS[1], entries[i])
  else
    count = count + 1
    used = used + tonumber(size)
  end
end
if count >= tonumber(ARGV[5]) then return {'too_many', count} end
if used + length > tonumber(ARGV[6]) then return {'quota', used} end
redis.call('HSET', KEYS[1], ARGV[1], (now + ttl) .. ':' .. length)
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('HSET', KEYS[2], 'length', length, 'state', 'receiving', unpack(ARGV, 7))
redis.call('PEXPIRE', KEYS[2], ttl)
return {'created'}
"""

# Append one chunk at an offset, only if the offset is where the upload is (a resent chunk
# after a lost reply is refused, never stored twice); the TTLs slide with each chunk.
# KEYS[1] index  KEYS[2] meta  KEYS[3] data
# ARGV[1] upload id  ARGV[2] offset  ARGV[3] bytes  ARGV[4] now ms  ARGV[5] TTL ms
# Returns {'ok', new offset, length} | {'gone'} | {'conflict', offset}
#       | {'closed', state, offset, length} | {'too_long', offset}
APPEND_CHUNK = """
local length = redis.call('HGET', KEYS[2], 'length')
if not length then return {'gone'} end
local state = redis.call('HGET', KEYS[2], 'state')
local offset = redis.call('STRLEN', KEYS[3])
if state ~= 'receiving' then return {'closed', state, offset, length} end
if offset ~= tonumber(ARGV[2]) then return {'conflict', offset} end
if offset + #ARGV[3] > tonumber(length) then return {'too_long', offset} end
if #ARGV[3] > 0 then redis.call('APPEND', KEYS[3], ARGV[3]) end
local now, ttl = tonumber(ARGV[4]), tonumber(ARGV[5])
redis.call('PEXPIRE', KEYS[3], ttl)
redis.call('PEXPIRE', KEYS[2], ttl)
redis.call('HSET', KEYS[1], ARGV[1], (now + ttl) .. ':' .. length)
redis.call('PEXPIRE', KEYS[1], ttl)
return {'ok', offset + #ARGV[3], length}
"""

# What HEAD answers, in one snapshot.
# KEYS[1] meta  KEYS[2] data  KEYS[3] claim
# Returns {meta field/value list, bytes received, 1 if a worker is finishing it, meta TTL ms}
UPLOAD_INFO = """
return {redis.call('HGETALL', KEYS[1]), redis.call('STRLEN', KEYS[2]),
        redis.call('EXISTS', KEYS[3]), redis.call('PTTL', KEYS[1])}
"""

# Renew or drop a finishing claim, only by its owner.
# KEYS[1] claim  ARGV[1] owner token  ARGV[2] TTL ms, or '0' to drop it
# Returns 1 if the caller owns the claim.
CLAIM_UPLOAD = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '0' then redis.call('DEL', KEYS[1]) else redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1
"""

# Close an upload: its state ('done', 'failed' or 'deleted') is kept for a while so a resent
# completion gets the same answer; its bytes, claim and index entry go.
# KEYS[1] meta  KEYS[2] data  KEYS[3] index  KEYS[4] claim
# ARGV[1] upload id  ARGV[2] state  ARGV[3] outcome (JSON)  ARGV[4] TTL ms of the record
CLOSE_UPLOAD = """
redis.call('DEL', KEYS[2], KEYS[4])
redis.call('HDEL', KEYS[3], ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'outcome', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
"""


# Confirm a committed message for a durable ack (see durability.py): rewrite its record, a
# write that follows the commit in the replication stream, so the WAIT / WAITAOF sent right
# after it on the same connection covers the commit.
# KEYS[1] the session's message records (hash)  ARGV[1] message id
# Returns 1, or 0 if the record is not here (lost with a failed primary: run the turn again).
CONFIRM = """
local rec = redis.call('HGET', KEYS[1], ARGV[1])
if not rec then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], rec)
return 1
"""


# Confirm appended events for a durable publish (see durability.py): a write on the session's
# slot (the log's TTL set again) that follows the append in the replication stream, so the WAIT /
# WAITAOF sent right after it on the same connection covers the append.
# KEYS[1] the session's log  ARGV[1] the last seq appended  ARGV[2] the session TTL (s)
# Returns 1, or 0 if that event is not here (lost with a failed primary).
CONFIRM_LOG = """
if #redis.call('XRANGE', KEYS[1], ARGV[1] .. '-0', ARGV[1] .. '-0') == 0 then return 0 end
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
"""


def configure(
    script: str, *, records_kept: int, log_maxlen: int, log_maxbytes: int, session_ttl_s: int
) -> str:
    """A script with the Storage's constants written in (fewer arguments on every call)."""
    for name, value in (
        ("__RECORDS_KEPT__", records_kept),
        ("__LOG_MAXLEN__", log_maxlen),
        ("__LOG_MAXBYTES__", log_maxbytes),
        ("__SESSION_TTL__", session_ttl_s),
    ):
        script = script.replace(name, str(int(value)))
    return script


# window: a fixed-window counter. KEYS[1] the counter; ARGV[1] the amount to add (0 reads),
# ARGV[2] the window in ms. The window starts with its first hit and is never extended, so a
# client that keeps hitting a full window is not locked out any longer; the key always has a
# TTL. Returns {count after adding, ms left in the window}.
WINDOW = """
local count = redis.call('INCRBY', KEYS[1], ARGV[1])
local left = redis.call('PTTL', KEYS[1])
if left < 0 then
  left = tonumber(ARGV[2])
  redis.call('PEXPIRE', KEYS[1], left)
end
return {count, left}
"""
