--[[
  A runtime's standing problems for one recipe, and the recipe's `error` made of every live
  runtime's. Each runtime keeps its own field, `error@<id>`, so that one runtime's recovery never
  clears another's failure; `error` (what status shows) is their texts, each once. A field of a
  runtime whose heartbeat is gone is dropped on the way (its partitions run elsewhere now).

  KEYS[1]  the recipe's status hash
  ARGV[1]  this runtime's id
  ARGV[2]  its problems now ('' for none)
  ARGV[3]  the last problem reported since the previous call ('' for none), ARGV[4] when
  ARGV[5]  problems reported since the previous call (added to `failures`)
  ARGV[6]  the heartbeat keys' prefix (`<ns>:runtime:`)
  Returns the recipe's `error`.
]]
local mine = 'error@' .. ARGV[1]
if ARGV[2] == '' then redis.call('HDEL', KEYS[1], mine) else redis.call('HSET', KEYS[1], mine, ARGV[2]) end
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'lastError', ARGV[3], 'lastErrorAt', ARGV[4]) end
if tonumber(ARGV[5]) > 0 then redis.call('HINCRBY', KEYS[1], 'failures', ARGV[5]) end
local all = redis.call('HGETALL', KEYS[1])
local texts, seen = {}, {}
for i = 1, #all, 2 do
  local field, text = all[i], all[i + 1]
  if string.sub(field, 1, 6) == 'error@' then
    if field ~= mine and redis.call('EXISTS', ARGV[6] .. string.sub(field, 7)) == 0 then
      redis.call('HDEL', KEYS[1], field)
    elseif not seen[text] then
      seen[text] = true
      texts[#texts + 1] = text
    end
  end
end
local error = table.concat(texts, '; ')
redis.call('HSET', KEYS[1], 'error', error)
return error
