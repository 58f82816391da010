-- A key's partition, as runtime/backlog/partition.ts computes it: (h * 31 + byte) mod 2^32 over
-- the key's bytes, then mod the partition count. Four bytes per string.byte call: the capture
-- scripts run it once per changed key. Exact in doubles: h < 2^32, so every product below stays
-- under 2^53 before it is reduced.
local partition_byte = string.byte
local function partition_of(key, count)
  local h, n, i = 0, #key, 1
  while i + 3 <= n do
    local a, b, c, d = partition_byte(key, i, i + 3)
    h = (((h * 31 + a) * 31 + b) % 4294967296 * 31 + c) * 31 + d
    h = h % 4294967296
    i = i + 4
  end
  while i <= n do
    h = (h * 31 + partition_byte(key, i)) % 4294967296
    i = i + 1
  end
  return h % count
end
