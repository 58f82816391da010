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

/** One stream entry: the records of one capture call. */
export interface StreamEntry {
  readonly id: string;
  readonly records: readonly BacklogEntry[];
}

/**
 * Decodes a stream entry into its records (see capture/capture.lua for the layout). A deleted
 * entry, or a malformed record and everything after it, decodes to nothing: it is acknowledged.
 */
export function decodeEntry([id, raw]: RawEntry): StreamEntry {
  const records: BacklogEntry[] = [];
  if (raw === null) return { id, records };
  for (let i = 0; i + 1 < raw.length; ) {
    const key = raw[i] as string;
    const header = /^([udtpwx]):(\d+):(.*)$/s.exec(raw[i + 1] as string);
    if (header === null) break;
    const [, op, n, ack] = header as unknown as [string, BacklogEntry['op'], string, string];
    const pairs = Number(n);
    const start = i + 2;
    i = start + 2 * pairs;
    if (i > raw.length) break;
    const at = (j: number): string => raw[start + j] as string;
    switch (op) {
      case 'd':
      case 'x':
        records.push({ id, key, ack, op });
        break;
      case 't':
        records.push({ id, key, ack, op, type: pairs ? at(1) : 'unknown' });
        break;
      case 'p':
        records.push({ id, key, ack, op, message: pairs ? at(1) : 'invalid # op' });
        break;
      case 'u':
      case 'w': {
        const fields = new Map<string, string>();
        for (let j = 0; j < 2 * pairs; j += 2) fields.set(at(j), at(j + 1));
        records.push({ id, key, ack, op, fields });
        break;
      }
    }
  }
  return { id, records };
}
