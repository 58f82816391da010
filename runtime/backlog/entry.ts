/** One change as kept in a backlog stream (see capture/capture.lua for the layout). */
export type BacklogEntry =
  | { readonly id: string; readonly key: string; readonly op: 'u'; readonly fields: ReadonlyMap<string, string> }
  | { readonly id: string; readonly key: string; readonly op: 'd' }
  | { readonly id: string; readonly key: string; readonly op: 't'; readonly type: string };

/** Raw stream entry as ioredis returns it; `fields` is null for an entry deleted meanwhile. */
export type RawEntry = [id: string, fields: string[] | null];

/** Decodes a raw stream entry; undefined for a deleted or malformed one (acked and skipped). */
export function decodeEntry([id, raw]: RawEntry): BacklogEntry | undefined {
  if (raw === null || raw.length < 4 || raw[0] !== 'k' || raw[2] !== 'o') return undefined;
  const key = raw[1] as string;
  const op = raw[3];
  if (op === 'd') return { id, key, op };
  if (op === 't') return { id, key, op, type: raw[5] ?? 'unknown' };
  if (op !== 'u') return undefined;
  const fields = new Map<string, string>();
  for (let i = 4; i + 1 < raw.length; i += 2) fields.set(raw[i] as string, raw[i + 1] as string);
  return { id, key, op, fields };
}
