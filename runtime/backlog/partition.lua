-- A key's partition, as runtime/backlog/partition.ts computes it: (h * 31 + byte) mod 2^32 over
-- the key's bytes, then mod the partition count.
local function partition_of(key, count)
  local h = 0
  for i = 1, #key do
    h = (h * 31 + string.byte(key, i)) % 4294967296
  end
  return h % count
end
