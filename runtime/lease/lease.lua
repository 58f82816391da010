--[[
  A fenced lease: one holder at a time, each grant with a token larger than every earlier one.

  KEYS[1]  the lease key: "<token> <holder>" while held, with a TTL
  KEYS[2]  the lease's token counter (never expires)
  ARGV[1]  op: acquire | renew | release
  ARGV[2]  holder (a runtime id)
  ARGV[3]  token (renew, release), or '' (acquire)
  ARGV[4]  TTL in ms (acquire, renew)

  acquire: granted when free, or when the holder already holds it (a restart of the same id
           after a crash: a new token, so the old process's writes are fenced off) -> token, or
           false when another holder has it.
  renew:   extends the TTL only if "<token> <holder>" still holds it -> 1, else 0.
  release: deletes it only if "<token> <holder>" still holds it -> 1, else 0.
]]
local op, holder, token, ttl = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local cur = redis.call('GET', KEYS[1])
if op == 'acquire' then
  if cur then
    local _, _, _, who = string.find(cur, '^(%d+) (.*)$')
    if who ~= holder then return false end
  end
  local t = redis.call('INCR', KEYS[2])
  redis.call('SET', KEYS[1], t .. ' ' .. holder, 'PX', ttl)
  return t
end
if cur ~= token .. ' ' .. holder then return 0 end
if op == 'renew' then
  redis.call('PEXPIRE', KEYS[1], ttl)
  return 1
end
redis.call('DEL', KEYS[1])
return 1
