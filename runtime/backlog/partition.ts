/**
 * A key's partition: a stable hash of its bytes, the same in TypeScript and in Lua
 * (`partition.lua`), so the capture scripts and the runtime agree on where a key's changes go.
 * h = (h * 31 + byte) mod 2^32 over the key's UTF-8 bytes: exact in doubles (h * 31 < 2^37),
 * which Lua 5.1's numbers are, and spread well enough for tens of partitions.
 */
export function partitionOf(key: string | Uint8Array, count: number): number {
  const bytes = typeof key === 'string' ? Buffer.from(key, 'utf8') : key;
  let h = 0;
  for (const b of bytes) h = (h * 31 + b) % 4294967296;
  return h % count;
}
