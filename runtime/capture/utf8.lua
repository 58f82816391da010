--[[
  Shared by capture.lua and stage.lua (loadScript prepends it): refuses text that is not UTF-8.
  notUtf8(flat field/value list) returns why, or nil.
]]
-- A hash field or value that is not valid UTF-8 would reach the runtime with U+FFFD in place of
-- its bytes: refuse it instead, naming it. Only text with bytes >= 0x80 is walked (rare).
local sbyte, sfind = string.byte, string.find
local function validUtf8(s)
  if not sfind(s, '[\128-\255]') then return true end
  local i, n = 1, #s
  while i <= n do
    local c = sbyte(s, i)
    local len, lo, hi = 0, 0x80, 0xBF
    if c < 0x80 then len = 1
    elseif c >= 0xC2 and c <= 0xDF then len = 2
    elseif c >= 0xE0 and c <= 0xEF then len = 3; if c == 0xE0 then lo = 0xA0 elseif c == 0xED then hi = 0x9F end
    elseif c >= 0xF0 and c <= 0xF4 then len = 4; if c == 0xF0 then lo = 0x90 elseif c == 0xF4 then hi = 0x8F end
    else return false end
    if len > 1 then
      local c2 = sbyte(s, i + 1)
      if not c2 or c2 < lo or c2 > hi then return false end
      for j = i + 2, i + len - 1 do
        local cj = sbyte(s, j)
        if not cj or cj < 0x80 or cj > 0xBF then return false end
      end
    end
    i = i + len
  end
  return true
end

local function hex(s)
  local out = {}
  for i = 1, math.min(#s, 24) do out[i] = string.format('%02x', sbyte(s, i)) end
  return table.concat(out, ' ') .. (#s > 24 and ' ...' or '')
end

-- Why a flat field/value list cannot be synced as text, or nil.
local function notUtf8(h)
  for i = 1, #h, 2 do
    if not validUtf8(h[i]) then return 'a field name is not valid UTF-8 (bytes ' .. hex(h[i]) .. '); not synced' end
    if not validUtf8(h[i + 1]) then return "field '" .. h[i] .. "' holds a value that is not valid UTF-8 (bytes " .. hex(h[i + 1]) .. '); not synced: store text (base64 for bytes)' end
  end
  return nil
end
