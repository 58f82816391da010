--[[
  Takes staged write-through changes into a recipe's backlog, atomically per call.

  KEYS[1]      the backlog stream
  KEYS[2..n]   pairs: a staging key (`__{person:1}`), then its target key (`person:1`)
  ARGV[1..]    per pair: why it changed (unused: a staging key is always taken as it is now)

  A staging hash is removed and its fields appended, `a` carrying the ack id of a `#` op:
    k <target> o w a <ack> <field> <value> ...   merge into the target once the database has it
    k <target> o x a <ack>                       `# ~`: delete in the database, then in Redis
    k <target> o p a '' m <message>              not a hash, or an unknown `#` op: reported
  `# +` and `# -` change Redis only, at once, and write the ack.
  The target key is never touched here. Returns the number of entries appended.
]]
local stream = KEYS[1]
local added = 0

local function append(key, op, ackId, rest)
  redis.call('XADD', stream, '*', 'k', key, 'o', op, 'a', ackId, unpack(rest))
  added = added + 1
end

local function ack(key, id)
  if id ~= '' then
    local s = '{' .. key .. '}' .. id
    redis.call('XADD', s, '*', 'status', 'done')
    redis.call('EXPIRE', s, 3600)
  end
end

for i = 2, #KEYS, 2 do
  local staging, target = KEYS[i], KEYS[i + 1]
  local t = redis.call('TYPE', staging)['ok']
  if t == 'hash' then
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
    if code == '=' then
      append(target, 'w', ackId, fields)
    elseif code == '~' then
      append(target, 'x', ackId, {})
    elseif code == '+' then
      if #fields > 0 then redis.call('HSET', target, unpack(fields)) end
      ack(target, ackId)
    elseif code == '-' then
      redis.call('DEL', target)
      ack(target, ackId)
    else
      append(target, 'p', '', { 'm', "'#' op '" .. op .. "' is not one of =, ~, + or -" })
    end
  elseif t ~= 'none' then
    append(target, 'p', '', { 'm', 'staging key ' .. staging .. ' holds a ' .. t .. ', not a hash' })
  end
end
return added
