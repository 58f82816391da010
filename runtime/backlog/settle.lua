--[[
  The rest of finishing a batch of one partition, under the same lease check as finish.lua
  (in the same transaction): its dead letters, at most one per key (the newest replaces the one
  before, as dead-letter.lua does), and its `#` acknowledgements.

  KEYS[1]   the partition's lease key
  KEYS[2]   the recipe's dead-letter stream
  KEYS[3]   its index hash: key -> id of that key's dead letter
  ARGV[1]   the lease's value while the caller holds it ("<token> <runtime>"); '' for none
  ARGV[2]   D, the number of dead letters; then per dead letter: the key, n, and n field/value
            pairs of its entry
  then      per acknowledgement: its stream (`{<key>}<ackId>`), status (done, failed), error ('' for none)
  Returns 0, or -1 (and nothing done) when the lease is no longer the caller's.
]]
if ARGV[1] ~= '' and redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
local i = 3
for _ = 1, tonumber(ARGV[2]) do
  local key, n = ARGV[i], tonumber(ARGV[i + 1])
  local prev = redis.call('HGET', KEYS[3], key)
  if prev then redis.call('XDEL', KEYS[2], prev) end
  local id = redis.call('XADD', KEYS[2], '*', unpack(ARGV, i + 2, i + 1 + 2 * n))
  redis.call('HSET', KEYS[3], key, id)
  i = i + 2 + 2 * n
end
while i <= #ARGV do
  local stream, status, err = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  if err == '' then
    redis.call('XADD', stream, '*', 'status', status)
  else
    redis.call('XADD', stream, '*', 'status', status, 'error', err)
  end
  redis.call('EXPIRE', stream, 3600)
  i = i + 3
end
return 0
