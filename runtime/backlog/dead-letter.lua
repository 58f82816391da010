--[[
  Adds a dead letter, keeping at most one per key: the newest replaces the one before, so a key
  refused again at every start or reconcile does not pile up copies of its (possibly large) hash.

  KEYS[1]   the recipe's dead-letter stream
  KEYS[2]   its index hash: key -> id of that key's dead letter
  ARGV[1]   the key
  ARGV[2..] the entry's field/value pairs
  Returns the new entry's id.
]]
local prev = redis.call('HGET', KEYS[2], ARGV[1])
if prev then redis.call('XDEL', KEYS[1], prev) end
local id = redis.call('XADD', KEYS[1], '*', unpack(ARGV, 2))
redis.call('HSET', KEYS[2], ARGV[1], id)
return id
