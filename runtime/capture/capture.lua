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
               'r' reconcile), the number of events coalesced and, after a '/', how many of them
               were `del` or `hdel` (which alone can be echoes of our own writes), e.g. 'c3/1'

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

-- Our own HDEL/DEL publish events too (`hdel`, `del`); remember how many, so they are not
-- mistaken for changes, and whether one deleted the key: "<count>:<until-ms>[:d]".
local function expectEchoes(key, n, deleted)
  local prev = redis.call('HGET', echoes, key)
  local count, d = 0, deleted
  if prev then
    local c, untilMs, flag = string.match(prev, '^(%d+):(%d+):?(d?)$')
    if c and tonumber(untilMs) > now() then
      count = tonumber(c)
      d = d or flag == 'd'
    end
  end
  redis.call('HSET', echoes, key, (count + n) .. ':' .. (now() + 10000) .. (d and ':d' or ''))
  haveEchoes = true
end

-- Consumes the echoes of our own writes among a key's `n` events, of which `e` are `del` or
-- `hdel` (only those can be). Returns whether all `n` were echoes, and whether the key is gone
-- by our own doing: a DEL of ours was still unheard and no `del`/`hdel` is left over for
-- someone else's delete (a write made before our DEL, whose event comes after, then finds
-- the key gone: not a delete of the row).
local function isEcho(key, n, e)
  if not haveEchoes then return false, false end
  local prev = redis.call('HGET', echoes, key)
  if not prev then return false, false end
  local c, untilMs, flag = string.match(prev, '^(%d+):(%d+):?(d?)$')
  c = tonumber(c or '0')
  if tonumber(untilMs or '0') <= now() then
    redis.call('HDEL', echoes, key)
    return false, false
  end
  local used = math.min(e, c)
  if used == c then
    redis.call('HDEL', echoes, key)
  elseif used > 0 then
    redis.call('HSET', echoes, key, (c - used) .. ':' .. untilMs .. (flag == 'd' and ':d' or ''))
  end
  return used == n, flag == 'd' and used == e
end

-- HDEL of `#`: one hdel event, plus a del event when it was the last field.
local function dropHashField(key)
  redis.call('HDEL', key, '#')
  local gone = redis.call('EXISTS', key) == 0
  expectEchoes(key, gone and 2 or 1, gone)
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

local function capture(key, why, n, e)
  local h, t = read(key)
  if not t then
    elsewhere[#elsewhere + 1] = key
    return
  end
  local ours = false
  if why ~= 'r' then
    local echo
    echo, ours = isEcho(key, n, e)
    if echo then return end
  end
  if not h then
    if t == 'none' then
      -- Gone by a `~` (its delete is recorded already) or a `-` (the row stays) of ours.
      if ours then return end
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
    expectEchoes(key, 1, true)
    record(key, 'd', ackId, {})
  elseif code == '+' then
    dropHashField(key)
    ack(key, ackId)
  elseif code == '-' then
    redis.call('DEL', key)
    expectEchoes(key, 1, true)
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

local sub, byte, match = string.sub, string.byte, string.match
local WHY = { [99] = 'c', [120] = 'x', [114] = 'r' }
local handled = nkeys
for i = first, #ARGV, 2 do
  if added >= room then
    handled = (i - first) / 2
    break
  end
  local arg = ARGV[i + 1]
  local why = WHY[byte(arg, 1)] or sub(arg, 1, 1)
  -- The event counts matter only to echo tracking: parsed only when there are echoes.
  local n, e = 1, 0
  if haveEchoes then
    local ns, es = match(arg, '^.(%d+)/?(%d*)$')
    n, e = tonumber(ns) or 1, tonumber(es) or 0
  end
  capture(ARGV[i], why, n, e)
end
for p = 1, P do flush(p) end
if added > 0 then redis.call('HINCRBY', KEYS[2], 'queued', added) end
if handled < nkeys or #elsewhere > 0 then return { added, handled, unpack(elsewhere) } end
return added
