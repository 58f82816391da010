--[[
  Applies committed write-through changes to Redis, in order, newer than what was applied.

  KEYS[1..n]   target keys
  KEYS[n+1]    the recipe's write-through marks hash (writer/through-marks.ts)
  KEYS[n+2]    the recipe's dead-letter stream
  KEYS[n+3]    its index hash: key -> id of that key's dead letter
  ARGV[1..n]   per key, a JSON list of ops: ["m", id, field, value, ...] merges fields,
               ["d", id] deletes; id is the backlog entry's stream id
  Returns the number of keys touched.

  A field is merged only if its own mark and the key's delete mark are older than the op; a
  delete only if the key's mark (its last change of any kind) is older. Marks are recorded as
  the ops apply, so a redelivered older entry never overwrites a newer change.

  A key's dead letter whose refused record came from an older entry than a change applied here
  is removed: that change superseded it, and `dlq --replay` would stage the refused, older
  values again over it.
]]
local marks, dlq, dlqIndex = KEYS[#KEYS - 2], KEYS[#KEYS - 1], KEYS[#KEYS]

local function older(a, b) -- stream id a < b
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  am, as, bm, bs = tonumber(am), tonumber(as), tonumber(bm), tonumber(bs)
  return am < bm or (am == bm and as < bs)
end

local function newer(id, mark) -- nil mark: nothing applied yet
  return mark == false or older(mark, id)
end

local function field(kind, key, f)
  return kind .. #key .. ':' .. key .. (f or '')
end

-- Drops `key`'s dead letter when it came from an entry older than `id`.
local function supersedeLetter(key, id)
  local letter = redis.call('HGET', dlqIndex, key)
  if not letter then return end
  local found = redis.call('XRANGE', dlq, letter, letter)[1]
  local entry
  if found then
    local f = found[2]
    for j = 1, #f, 2 do
      if f[j] == 'entry' then entry = f[j + 1] end
    end
  end
  if entry and older(entry, id) then
    redis.call('XDEL', dlq, letter)
    redis.call('HDEL', dlqIndex, key)
  end
end

for i = 1, #KEYS - 3 do
  local key = KEYS[i]
  for _, op in ipairs(cjson.decode(ARGV[i])) do
    local id = op[2]
    if op[1] == 'd' then
      if newer(id, redis.call('HGET', marks, field('k', key))) then
        redis.call('DEL', key)
        redis.call('HSET', marks, field('d', key), id, field('k', key), id)
      end
    else
      local deleted = redis.call('HGET', marks, field('d', key))
      if newer(id, deleted) then
        local set = {}
        for j = 3, #op, 2 do
          local f = field('f', key, op[j])
          if newer(id, redis.call('HGET', marks, f)) then
            set[#set + 1] = op[j]
            set[#set + 1] = op[j + 1]
            redis.call('HSET', marks, f, id)
          end
        end
        if #set > 0 then
          redis.call('HSET', key, unpack(set))
          local k = redis.call('HGET', marks, field('k', key))
          if newer(id, k) then redis.call('HSET', marks, field('k', key), id) end
        end
      end
    end
    -- Committed: a refused record of an older entry is superseded.
    supersedeLetter(key, id)
  end
end
return #KEYS - 3
