--[[
  Snapshots changed keys of a write-behind recipe into its backlog stream, atomically per call,
  and applies RGSync's `#` protocol on the way.

  KEYS[1]      the backlog stream
  KEYS[2]      the recipe's echo hash: key -> "<count>:<until-ms>", events our own HDEL/DEL will cause
  KEYS[3..n]   keys that changed
  ARGV[1]      '1' when expiry and eviction delete the row, '0' when they keep it
  ARGV[2..]    per key: why ('c' changed, 'x' expired or evicted, 'r' reconcile) then the number
               of events coalesced, e.g. 'c3'

  Appends per key one entry, `a` carrying the ack id of a `#` op ('' when none):
    k <key> o u a <ack> <field> <value> ...   a hash: upsert
    k <key> o d a <ack>                       gone: delete
    k <key> o t a <ack> t <type>              not a hash: reported
    k <key> o p a '' m <message>              an unknown `#` op: reported
  `# +` and `# -` change Redis only: nothing is appended and the ack is written at once.
  Returns the number of entries appended.
]]
local stream, echoes = KEYS[1], KEYS[2]
local expiryDeletes = ARGV[1] == '1'
local now = redis.call('TIME')
local nowMs = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local added = 0

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
    if c and tonumber(untilMs) > nowMs then count = tonumber(c) end
  end
  redis.call('HSET', echoes, key, (count + n) .. ':' .. (nowMs + 10000))
end

-- True when all `n` events of this key are echoes of our own writes (and consumes them).
local function isEcho(key, n)
  local prev = redis.call('HGET', echoes, key)
  if not prev then return false end
  local c, untilMs = string.match(prev, '^(%d+):(%d+)$')
  c = tonumber(c or '0')
  if tonumber(untilMs or '0') <= nowMs or n > c then
    redis.call('HDEL', echoes, key)
    return false
  end
  if c == n then redis.call('HDEL', echoes, key) else redis.call('HSET', echoes, key, (c - n) .. ':' .. untilMs) end
  return true
end

local function append(key, op, ackId, rest)
  redis.call('XADD', stream, '*', 'k', key, 'o', op, 'a', ackId, unpack(rest))
  added = added + 1
end

-- HDEL of `#`: one hdel event, plus a del event when it was the last field.
local function dropHashField(key)
  redis.call('HDEL', key, '#')
  expectEchoes(key, redis.call('EXISTS', key) == 1 and 1 or 2)
end

local function snapshot(key, why, ackId)
  local t = redis.call('TYPE', key)['ok']
  if t == 'hash' then
    if redis.call('HLEN', key) > 3500 then
      append(key, 't', ackId, { 't', 'hash' })
    else
      append(key, 'u', ackId, redis.call('HGETALL', key))
    end
  elseif t == 'none' then
    if why == 'c' or (why == 'x' and expiryDeletes) or ackId ~= '' then append(key, 'd', ackId, {}) end
  else
    append(key, 't', ackId, { 't', t })
  end
end

local function capture(key, why, n)
  if why ~= 'r' and isEcho(key, n) then return end
  if redis.call('TYPE', key)['ok'] == 'hash' then
    local op = redis.call('HGET', key, '#')
    if op then
      local code, ackId = string.sub(op, 1, 1), string.sub(op, 2)
      if code == '=' or op == '' then
        dropHashField(key)
        return snapshot(key, 'c', ackId)
      elseif code == '~' then
        redis.call('DEL', key)
        expectEchoes(key, 1)
        return append(key, 'd', ackId, {})
      elseif code == '+' then
        dropHashField(key)
        return ack(key, ackId)
      elseif code == '-' then
        redis.call('DEL', key)
        expectEchoes(key, 1)
        return ack(key, ackId)
      else
        dropHashField(key)
        return append(key, 'p', '', { 'm', "'#' op '" .. op .. "' is not one of =, ~, + or -" })
      end
    end
  end
  snapshot(key, why, '')
end

for i = 3, #KEYS do
  local arg = ARGV[i - 1]
  capture(KEYS[i], string.sub(arg, 1, 1), tonumber(string.sub(arg, 2)) or 1)
end
return added
