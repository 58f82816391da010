--[[
  Moves up to ARGV[2] entries of layout 1's single backlog stream of a recipe into its partition
  streams, atomically: each entry's records are split by their key's partition (partition_of,
  from partition.lua, prepended) and added under the entry's own id, so their order and their
  age (lag) stay as they were; the moved entries are then deleted from the old stream.

  KEYS[1]      the old stream (`<ns>:backlog:<name>`)
  KEYS[2..P+1] the partition streams
  ARGV[1]      P
  ARGV[2]      most entries to move in this call
  Returns the number of entries moved (0: the old stream is empty).
]]
local P = tonumber(ARGV[1])
local entries = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', tonumber(ARGV[2]))
local ids = {}
for _, e in ipairs(entries) do
  local id, raw = e[1], e[2]
  local parts = {}
  local i, n = 1, #raw
  local ok = true
  while i + 1 <= n do
    local key, header = raw[i], raw[i + 1]
    local pairs = tonumber(string.match(header, '^.:(%d+):'))
    if not pairs or i + 1 + 2 * pairs > n then ok = false break end
    local p = P == 1 and 1 or partition_of(key, P) + 1
    parts[p] = parts[p] or {}
    local t = parts[p]
    for j = i, i + 1 + 2 * pairs do t[#t + 1] = raw[j] end
    i = i + 2 + 2 * pairs
  end
  if not ok or i <= n then
    -- Not what a capture script writes: kept whole in partition 0, where the runtime
    -- dead-letters it with the reason (never dropped unseen).
    redis.call('XADD', KEYS[2], id, unpack(raw))
  else
    for p = 1, P do
      if parts[p] then redis.call('XADD', KEYS[1 + p], id, unpack(parts[p])) end
    end
  end
  ids[#ids + 1] = id
end
if #ids > 0 then redis.call('XDEL', KEYS[1], unpack(ids)) end
return #ids
