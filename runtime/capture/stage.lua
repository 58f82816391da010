--[[
  Takes staged write-through changes into a recipe's backlog, atomically per call; all records
  of a call go into one stream entry (see capture.lua for the record layout).

  KEYS[1]      the backlog stream
  KEYS[2]      the recipe's status hash: field `queued` counts records not yet written
  KEYS[3..n]   pairs: a staging key (`__{person:1}`), then its target key (`person:1`)
  ARGV[1..]    per pair: why it changed (unused: a staging key is always taken as it is now)

  A staging hash is removed and its fields recorded under the target key:
    <target> w:<n>:<ack> <field> <value> ...   merge into the target once the database has it
    <target> x:0:<ack>                         `# ~`: delete in the database, then in Redis
    <target> p:1: m <message>                  not a hash, or an unknown `#` op: reported
  `# +` and `# -` change Redis only, at once, and write the ack.
  The target key is never touched here otherwise. Returns the number of records appended.
]]
local stream = KEYS[1]
local args, added = {}, 0
local MAX_ARGS = 7000

local function flush()
  if #args > 0 then
    redis.call('XADD', stream, '*', unpack(args))
    args = {}
  end
end

local function record(key, op, ackId, pairs)
  if #args + 2 + #pairs > MAX_ARGS then flush() end
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

for i = 3, #KEYS, 2 do
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
    if #fields > 7000 then
      record(target, 'p', '', { 'm', 'staged write of more than 3500 fields' })
    elseif code == '=' then
      record(target, 'w', ackId, fields)
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
flush()
if added > 0 then redis.call('HINCRBY', KEYS[2], 'queued', added) end
return added
