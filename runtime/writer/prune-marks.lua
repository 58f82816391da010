--[[
  Prunes write-through marks that no pending entry can be older than.

  KEYS[1]     the marks hash
  KEYS[2..]   the backlog's partition streams, in partition order
  ARGV[1]     the consumer group
  ARGV[2]     HSCAN cursor
  ARGV[3]     HSCAN COUNT
  Returns { next cursor, marks deleted }.

  A mark only decides whether a delivered entry older than it is superseded. Entries delivered
  from now on are either pending now (ids at or past the oldest pending one of their partition)
  or not read yet (ids past every applied one, since a group reads each stream in order): a mark
  older than the oldest pending id of its key's partition decides nothing, and with nothing
  pending there no mark does. partition_of comes from partition.lua, prepended.
]]
local P = #KEYS - 1
local oldest = {}
local any = false
for p = 1, P do
  local pending = redis.call('XPENDING', KEYS[1 + p], ARGV[1])
  if tonumber(pending[1]) > 0 then
    local ms, seq = string.match(pending[2], '^(%d+)-(%d+)$')
    oldest[p] = { tonumber(ms), tonumber(seq) }
    any = true
  end
end
if not any then
  local n = redis.call('HLEN', KEYS[1])
  redis.call('DEL', KEYS[1])
  return { '0', n }
end
local page = redis.call('HSCAN', KEYS[1], ARGV[2], 'COUNT', tonumber(ARGV[3]))
local items = page[2]
local n = 0
for i = 1, #items, 2 do
  -- The field is <kind><key length>:<key><field> (through-marks.ts markField): its key's partition.
  local len, rest = string.match(items[i], '^.(%d+):()')
  local key = string.sub(items[i], rest, rest + tonumber(len) - 1)
  local o = oldest[partition_of(key, P) + 1]
  local ms, seq = string.match(items[i + 1], '^(%d+)-(%d+)$')
  ms = tonumber(ms)
  seq = tonumber(seq)
  if not o or ms < o[1] or (ms == o[1] and seq < o[2]) then
    redis.call('HDEL', KEYS[1], items[i])
    n = n + 1
  end
end
return { page[1], n }
