--[[
  Snapshots changed keys of a write-behind recipe into its backlog streams, atomically per call,
  and applies RGSync's `#` protocol on the way. All records of one call and partition go into one
  stream entry (a few, for very large calls), so the backlog costs Redis one XADD per call and
  partition, not per change.

  KEYS[1]      the recipe's echo hash: key -> "<count>:<until-ms>", events our own HDEL/DEL will cause
  KEYS[2]      the recipe's counters (Keys.counters): field `queued` counts records not yet written
  KEYS[3..P+2] the backlog's partition streams (P = ARGV[3])
  ARGV[1]      the most records the backlog may hold ('0': no bound); see Bound below
  ARGV[2]      '1' when expiry and eviction delete the row, '0' when they keep it
  ARGV[3]      P, the number of partitions
  ARGV[4..]    per changed key, in order: the key, then why ('c' changed, 'x' expired or evicted,
               'r' reconcile) and the number of events coalesced, e.g. 'c3'

  The changed keys are arguments, not KEYS: on a Redis Cluster every declared key must hash to
  one slot (the backlog's), and a script may still read undeclared keys of its own node. A key
  that is not on this node (a cluster moved its slot) is reported, never taken for a delete:
  see Returns.

  A key's record goes to the stream of its partition (partition_of, from partition.lua), so a
  key's records stay in order in one stream.
  An entry is a run of records, each a key, a header `<op>:<pairs>:<ack>`, then <pairs> pairs:
    <key> u:<n>:<ack> <field> <value> ...   a hash: upsert
    <key> d:0:<ack>                         gone: delete
    <key> t:1:<ack> t <type>                not a hash: reported
    <key> p:1: m <message>                  an unknown `#` op: reported
  `# +` and `# -` change Redis only: no record, and the ack is written at once.

  Bound: a key adds at most one record, so the script stops before the key that would take
  `queued` past ARGV[1], leaving it and the keys after it untouched (not even read).

  Returns the number of records appended; or, when it stopped at the bound or some keys were not
  on this node, {added, handled, elsewhere...}: the records appended, how many keys it took, in
  order, and the keys among those that live on another node.
]]
local echoes = KEYS[1]
local expiryDeletes = ARGV[2] == '1'
local P = tonumber(ARGV[3])
local nowMs
local haveEchoes = redis.call('EXISTS', echoes) == 1
-- Per partition: the arguments of its next XADD, and how many.
local bufs, nbuf, added = {}, {}, 0
for p = 1, P do bufs[p], nbuf[p] = {}, 0 end
local MAX_ARGS = 7000 -- unpack() and XADD stay well inside Lua's stack

local function now()
  if not nowMs then
    local t = redis.call('TIME')
    nowMs = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  return nowMs
end

local function flush(p)
  if nbuf[p] > 0 then
    redis.call('XADD', KEYS[2 + p], '*', unpack(bufs[p], 1, nbuf[p]))
    bufs[p], nbuf[p] = {}, 0
  end
end

-- Headers without an ack, by op and pair count: built once per call, not once per record.
local headers = { u = {}, d = {}, t = {}, p = {} }

local function record(key, op, ackId, pairs)
  local np = #pairs
  local p = P == 1 and 1 or partition_of(key, P) + 1
  if nbuf[p] + 2 + np > MAX_ARGS then flush(p) end
  local args, n = bufs[p], nbuf[p]
  args[n + 1] = key
  if ackId == '' then
    local byCount = headers[op]
    local h = byCount[np]
    if not h then
      h = op .. ':' .. (np / 2) .. ':'
      byCount[np] = h
    end
    args[n + 2] = h
  else
    args[n + 2] = op .. ':' .. (np / 2) .. ':' .. ackId
  end
  n = n + 2
  for i = 1, np do args[n + i] = pairs[i] end
  nbuf[p] = n + np
  added = added + 1
end

local function ack(key, id)
  if id ~= '' then
    local s = '{' .. key .. '}' .. id
    redis.call('XADD', s, '*', 'status', 'done')
    redis.call('EXPIRE', s, 3600)
  end
end

-- Our own HDEL/DEL publish events too; remember how many, so they are not mistaken for changes.
local function expectEchoes(key, n)
  local prev = redis.call('HGET', echoes, key)
  local count = 0
  if prev then
    local c, untilMs = string.match(prev, '^(%d+):(%d+)$')
    if c and tonumber(untilMs) > now() then count = tonumber(c) end
  end
  redis.call('HSET', echoes, key, (count + n) .. ':' .. (now() + 10000))
  haveEchoes = true
end

-- True when all `n` events of this key are echoes of our own writes (and consumes them).
local function isEcho(key, n)
  if not haveEchoes then return false end
  local prev = redis.call('HGET', echoes, key)
  if not prev then return false end
  local c, untilMs = string.match(prev, '^(%d+):(%d+)$')
  c = tonumber(c or '0')
  if tonumber(untilMs or '0') <= now() or n > c then
    redis.call('HDEL', echoes, key)
    return false
  end
  if c == n then redis.call('HDEL', echoes, key) else redis.call('HSET', echoes, key, (c - n) .. ':' .. untilMs) end
  return true
end

-- HDEL of `#`: one hdel event, plus a del event when it was the last field.
local function dropHashField(key)
  redis.call('HDEL', key, '#')
  expectEchoes(key, redis.call('EXISTS', key) == 1 and 1 or 2)
end

-- Keys of this call that live on another node of a cluster: reported, not captured.
local elsewhere = {}

-- The hash as a flat list, or nil when the key is gone, or the type name when it is not a hash,
-- or nil, nil when the key is not on this node.
local function read(key)
  local h = redis.pcall('HGETALL', key)
  if h['err'] then
    local t = redis.pcall('TYPE', key)
    if t['err'] then return nil, nil end
    return nil, t['ok']
  end
  if #h == 0 then return nil, 'none' end
  return h, 'hash'
end

-- notUtf8 comes from utf8.lua, prepended by loadScript.

local function upsertOrDelete(key, why, ackId)
  local h, t = read(key)
  if h then
    if #h > 7000 then return record(key, 't', ackId, { 't', 'hash' }) end
    local bad = notUtf8(h)
    if bad then return record(key, 'p', ackId, { 'm', bad }) end
    return record(key, 'u', ackId, h)
  elseif t == 'none' then
    if why == 'c' or (why == 'x' and expiryDeletes) or ackId ~= '' then record(key, 'd', ackId, {}) end
  else
    record(key, 't', ackId, { 't', t })
  end
end

local function capture(key, why, n)
  local h, t = read(key)
  if not t then
    elsewhere[#elsewhere + 1] = key
    return
  end
  if why ~= 'r' and isEcho(key, n) then return end
  if not h then
    if t == 'none' then
      if why == 'c' or (why == 'x' and expiryDeletes) then record(key, 'd', '', {}) end
    else
      record(key, 't', '', { 't', t })
    end
    return
  end
  local op
  for i = 1, #h, 2 do
    if h[i] == '#' then op = h[i + 1] break end
  end
  if not op then
    if #h > 7000 then return record(key, 't', '', { 't', 'hash' }) end
    local bad = notUtf8(h)
    if bad then return record(key, 'p', '', { 'm', bad }) end
    return record(key, 'u', '', h)
  end
  local code, ackId = string.sub(op, 1, 1), string.sub(op, 2)
  if code == '=' or op == '' then
    dropHashField(key)
    upsertOrDelete(key, 'c', ackId)
  elseif code == '~' then
    redis.call('DEL', key)
    expectEchoes(key, 1)
    record(key, 'd', ackId, {})
  elseif code == '+' then
    dropHashField(key)
    ack(key, ackId)
  elseif code == '-' then
    redis.call('DEL', key)
    expectEchoes(key, 1)
    ack(key, ackId)
  else
    dropHashField(key)
    record(key, 'p', ackId, { 'm', "'#' op '" .. op .. "' is not one of =, ~, + or -" })
  end
end

-- Records the backlog may still take: one HGET per call, and an XLEN only when near the bound.
local first = 4
local room, nkeys = math.huge, (#ARGV - first + 1) / 2
local bound = tonumber(ARGV[1]) or 0
if bound > 0 then
  room = bound - (tonumber(redis.call('HGET', KEYS[2], 'queued')) or 0)
  -- An empty backlog holds no records: a count left by streams deleted by hand must not refuse forever.
  if room < nkeys then
    local len = 0
    for p = 1, P do len = len + redis.call('XLEN', KEYS[2 + p]) end
    if len == 0 then
      redis.call('HSET', KEYS[2], 'queued', 0)
      room = bound
    end
  end
end

local sub, byte = string.sub, string.byte
local WHY = { [99] = 'c', [120] = 'x', [114] = 'r' }
local handled = nkeys
for i = first, #ARGV, 2 do
  if added >= room then
    handled = (i - first) / 2
    break
  end
  local arg = ARGV[i + 1]
  local why = WHY[byte(arg, 1)] or sub(arg, 1, 1)
  -- The event count matters only to echo tracking: parsed only when there are echoes.
  capture(ARGV[i], why, haveEchoes and (tonumber(sub(arg, 2)) or 1) or 1)
end
for p = 1, P do flush(p) end
if added > 0 then redis.call('HINCRBY', KEYS[2], 'queued', added) end
if handled < nkeys or #elsewhere > 0 then return { added, handled, unpack(elsewhere) } end
return added
