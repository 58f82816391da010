--[[
  Takes staged write-through changes into a recipe's backlog, atomically per call; all records
  of a call go into one stream entry (see capture.lua for the record layout).

  KEYS[1]      the recipe's counters (Keys.counters): field `queued` counts records not yet written
  KEYS[2..P+1] the backlog's partition streams (P = ARGV[2])
  ARGV[1]      the most records the backlog may hold ('0': no bound), as in capture.lua: the
               script stops before the staging key that would pass it, leaving it and the ones
               after it in place
  ARGV[2]      P, the number of partitions
  ARGV[3..]    per staged change: a staging key (`__{person:1}`), its target key (`person:1`,
               the same slot) and why it changed (unused: a staging key is always taken as it
               is now); arguments, not KEYS, as in capture.lua

  Returns the number of records appended, or {added, handled, elsewhere...} as capture.lua does
  (handled counts staging keys; elsewhere lists the staging keys not on this node).

  Records go to the partition of their target key (partition_of, from partition.lua).
  A staging hash is removed and its fields recorded under the target key:
    <target> w:<n>:<ack> <field> <value> ...   merge into the target once the database has it
    <target> x:0:<ack>                         `# ~`: delete in the database, then in Redis
    <target> p:1: m <message>                  not a hash, or an unknown `#` op: reported
  `# +` and `# -` change Redis only, at once, and write the ack.
  The target key is never touched here otherwise. Returns the number of records appended.
]]
local P = tonumber(ARGV[2])
local bufs, added = {}, 0
local MAX_ARGS = 7000
for p = 1, P do bufs[p] = {} end

local function flush(p)
  if #bufs[p] > 0 then
    redis.call('XADD', KEYS[1 + p], '*', unpack(bufs[p]))
    bufs[p] = {}
  end
end

local function record(key, op, ackId, pairs)
  local p = P == 1 and 1 or partition_of(key, P) + 1
  if #bufs[p] + 2 + #pairs > MAX_ARGS then flush(p) end
  local args = bufs[p]
  args[#args + 1] = key
  args[#args + 1] = op .. ':' .. (#pairs / 2) .. ':' .. ackId
  for i = 1, #pairs do args[#args + 1] = pairs[i] end
  added = added + 1
end

local function ack(key, id)
  if id ~= '' then
    local s = '{' .. key .. '}' .. id
    redis.call('XADD', s, '*', 'status', 'done')
    redis.call('EXPIRE', s, 3600)
  end
end

-- notUtf8 comes from utf8.lua, prepended by loadScript.

local first = 3
local room, nkeys = math.huge, (#ARGV - first + 1) / 3
local elsewhere = {}
local bound = tonumber(ARGV[1]) or 0
if bound > 0 then
  room = bound - (tonumber(redis.call('HGET', KEYS[1], 'queued')) or 0)
  if room < nkeys then
    local len = 0
    for p = 1, P do len = len + redis.call('XLEN', KEYS[1 + p]) end
    if len == 0 then
      redis.call('HSET', KEYS[1], 'queued', 0)
      room = bound
    end
  end
end

local handled = nkeys
for i = first, #ARGV, 3 do
  if added >= room then
    handled = (i - first) / 3
    break
  end
  local staging, target = ARGV[i], ARGV[i + 1]
  local t = redis.pcall('TYPE', staging)
  t = t['ok']
  if not t then
    elsewhere[#elsewhere + 1] = staging
  elseif t == 'hash' then
    local h = redis.call('HGETALL', staging)
    redis.call('DEL', staging)
    local fields, op = {}, nil
    for j = 1, #h, 2 do
      if h[j] == '#' then op = h[j + 1] else
        fields[#fields + 1] = h[j]
        fields[#fields + 1] = h[j + 1]
      end
    end
    local code, ackId = '=', ''
    if op and op ~= '' then code, ackId = string.sub(op, 1, 1), string.sub(op, 2) end
    if #fields > 7000 then
      record(target, 'p', '', { 'm', 'staged write of more than 3500 fields' })
    elseif code == '=' then
      local bad = notUtf8(fields)
      if bad then record(target, 'p', ackId, { 'm', bad }) else record(target, 'w', ackId, fields) end
    elseif code == '~' then
      record(target, 'x', ackId, {})
    elseif code == '+' then
      if #fields > 0 then redis.call('HSET', target, unpack(fields)) end
      ack(target, ackId)
    elseif code == '-' then
      redis.call('DEL', target)
      ack(target, ackId)
    else
      record(target, 'p', ackId, { 'm', "'#' op '" .. op .. "' is not one of =, ~, + or -" })
    end
  elseif t ~= 'none' then
    record(target, 'p', '', { 'm', 'staging key ' .. staging .. ' holds a ' .. t .. ', not a hash' })
  end
end
for p = 1, P do flush(p) end
if added > 0 then redis.call('HINCRBY', KEYS[1], 'queued', added) end
if handled < nkeys or #elsewhere > 0 then return { added, handled, unpack(elsewhere) } end
return added
