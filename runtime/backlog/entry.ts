/** One change as kept in a backlog stream (see capture/capture.lua and capture/stage.lua). */
export type BacklogEntry =
  /** write-behind: the hash as it was; upsert it. */
  | { readonly id: string; readonly key: string; readonly ack: string; readonly op: 'u'; readonly fields: ReadonlyMap<string, string> }
  /** write-behind: the key is gone; delete the row. */
  | { readonly id: string; readonly key: string; readonly ack: string; readonly op: 'd' }
  /** the key holds another type: reported. */
  | { readonly id: string; readonly key: string; readonly ack: string; readonly op: 't'; readonly type: string }
  /** an invalid `#` op: reported. */
  | { readonly id: string; readonly key: string; readonly ack: string; readonly op: 'p'; readonly message: string }
  /** write-through: staged fields to merge into the key once the database has them. */
  | { readonly id: string; readonly key: string; readonly ack: string; readonly op: 'w'; readonly fields: ReadonlyMap<string, string> }
  /** write-through: delete in the database, then in Redis. */
  | { readonly id: string; readonly key: string; readonly ack: string; readonly op: 'x' }
  /** nothing left to write (a replay found the key gone); only acknowledged. */
  | { readonly id: string; readonly key: string; readonly ack: string; readonly op: 'n' };

/** Raw stream entry as ioredis returns it; `fields` is null for an entry deleted meanwhile. */
export type RawEntry = [id: string, fields: string[] | null];

/** Decodes a raw stream entry; undefined for a deleted or malformed one (acked and skipped). */
export function decodeEntry([id, raw]: RawEntry): BacklogEntry | undefined {
  if (raw === null || raw.length < 6 || raw[0] !== 'k' || raw[2] !== 'o' || raw[4] !== 'a') return undefined;
  const key = raw[1] as string;
  const ack = raw[5] as string;
  const op = raw[3];
  switch (op) {
    case 'd':
    case 'x':
      return { id, key, ack, op };
    case 't':
      return { id, key, ack, op, type: raw[7] ?? 'unknown' };
    case 'p':
      return { id, key, ack, op, message: raw[7] ?? 'invalid # op' };
    case 'u':
    case 'w': {
      const fields = new Map<string, string>();
      for (let i = 6; i + 1 < raw.length; i += 2) fields.set(raw[i] as string, raw[i + 1] as string);
      return { id, key, ack, op, fields };
    }
    default:
      return undefined;
  }
}
