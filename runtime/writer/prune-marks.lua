--[[
  Prunes write-through marks that no pending entry can be older than.

  KEYS[1]  the backlog stream
  KEYS[2]  the marks hash
  ARGV[1]  the consumer group
  ARGV[2]  HSCAN cursor
  ARGV[3]  HSCAN COUNT
  Returns { next cursor, marks deleted }.

  A mark only decides whether a delivered entry older than it is superseded. Entries delivered
  from now on are either pending now (ids at or past the oldest pending one) or not read yet
  (ids past every applied one, since a group reads in stream order): a mark older than the
  oldest pending id decides nothing, and with nothing pending no mark does.
]]
local pending = redis.call('XPENDING', KEYS[1], ARGV[1])
if tonumber(pending[1]) == 0 then
  local n = redis.call('HLEN', KEYS[2])
  redis.call('DEL', KEYS[2])
  return { '0', n }
end
local oldest = pending[2]
local oms, oseq = string.match(oldest, '^(%d+)-(%d+)$')
oms = tonumber(oms)
oseq = tonumber(oseq)
local page = redis.call('HSCAN', KEYS[2], ARGV[2], 'COUNT', tonumber(ARGV[3]))
local items = page[2]
local n = 0
for i = 1, #items, 2 do
  local ms, seq = string.match(items[i + 1], '^(%d+)-(%d+)$')
  ms = tonumber(ms)
  seq = tonumber(seq)
  if ms < oms or (ms == oms and seq < oseq) then
    redis.call('HDEL', KEYS[2], items[i])
    n = n + 1
  end
end
return { page[1], n }
