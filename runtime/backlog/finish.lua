--[[
  Acknowledges finished backlog entries and counts them, once. A finish is retried when its
  reply is lost (a connection reset after EXEC), so it may run again after Redis applied it:
  only an entry this call acknowledges (XACK answers 1, it was still pending) adds its counts,
  and `queued` is lowered by those records alone and never below zero.

  KEYS[1]   a backlog partition's stream
  KEYS[2]   the recipe's counters (Keys.counters)
  KEYS[3]   the partition's lease key
  ARGV[1]   the consumer group
  ARGV[2]   the lease's value while the caller holds it ("<token> <runtime>"); '' for none
  ARGV[3..] per entry: id, records, synced, deadLetters
  Returns the number of entries acknowledged now, or -1 (and nothing done) when the lease is no
  longer the caller's: XACK alone does not care who acknowledges, and the partition's entries
  are its next owner's to write and finish.
]]
if ARGV[2] ~= '' and redis.call('GET', KEYS[3]) ~= ARGV[2] then return -1 end
local acked, records, synced, dead = 0, 0, 0, 0
local ids = {}
for i = 3, #ARGV, 4 do
  local id = ARGV[i]
  ids[#ids + 1] = id
  if redis.call('XACK', KEYS[1], ARGV[1], id) == 1 then
    acked = acked + 1
    records = records + tonumber(ARGV[i + 1])
    synced = synced + tonumber(ARGV[i + 2])
    dead = dead + tonumber(ARGV[i + 3])
  end
end
-- XDEL is idempotent: an entry acknowledged by an earlier run of this finish is deleted again.
-- In slices: unpack is bounded by Lua's C stack (about 8,000 values).
for i = 1, #ids, 1000 do redis.call('XDEL', KEYS[1], unpack(ids, i, math.min(i + 999, #ids))) end
if synced > 0 then redis.call('HINCRBY', KEYS[2], 'synced', synced) end
if dead > 0 then redis.call('HINCRBY', KEYS[2], 'deadLetters', dead) end
if records > 0 then
  -- Clamped: a count reset meanwhile (a flush, `status --reset`) must not turn negative.
  local queued = tonumber(redis.call('HGET', KEYS[2], 'queued') or '0') or 0
  redis.call('HSET', KEYS[2], 'queued', math.max(0, queued - records))
end
return acked
