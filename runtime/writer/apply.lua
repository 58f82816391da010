--[[
  Applies committed write-through changes to Redis, in order.

  KEYS[1..n]   target keys
  ARGV[1..n]   per key, a JSON list of ops: ["m", field, value, ...] merges fields, ["d"] deletes
  Returns the number of keys touched.
]]
for i = 1, #KEYS do
  for _, op in ipairs(cjson.decode(ARGV[i])) do
    if op[1] == 'd' then
      redis.call('DEL', KEYS[i])
    elseif #op > 1 then
      redis.call('HSET', KEYS[i], unpack(op, 2))
    end
  end
end
return #KEYS
