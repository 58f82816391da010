--[[
  Snapshots changed keys into a recipe's backlog stream, atomically per call.

  KEYS[1]      the backlog stream
  KEYS[2..n]   keys that changed
  ARGV[1]      '1' when expiry and eviction delete the row, '0' when they keep it
  ARGV[2..n]   per key: 'c' changed, 'x' expired or evicted, 'r' reconcile

  Appends per key one entry: k <key> o u <field> <value> ...   (a hash: upsert)
                             k <key> o d                        (gone: delete)
                             k <key> o t t <type>               (not a hash: reported)
  Nothing is appended for a key that is gone after expiry under 'keep', or gone during reconcile.
  Returns the number of entries appended.
]]
local stream = KEYS[1]
local expiryDeletes = ARGV[1] == '1'
local added = 0
for i = 2, #KEYS do
  local key = KEYS[i]
  local why = ARGV[i]
  local t = redis.call('TYPE', key)['ok']
  if t == 'hash' then
    local h = redis.call('HGETALL', key)
    if #h > 7000 then
      redis.call('XADD', stream, '*', 'k', key, 'o', 't', 't', 'hash', 'n', #h / 2)
    else
      redis.call('XADD', stream, '*', 'k', key, 'o', 'u', unpack(h))
    end
    added = added + 1
  elseif t == 'none' then
    if why == 'c' or (why == 'x' and expiryDeletes) then
      redis.call('XADD', stream, '*', 'k', key, 'o', 'd')
      added = added + 1
    end
  else
    redis.call('XADD', stream, '*', 'k', key, 'o', 't', 't', t)
    added = added + 1
  end
end
return added
