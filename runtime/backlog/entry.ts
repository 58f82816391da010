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
  | { readonly id: string; readonly key: string; readonly ack: string; readonly op: 'n' }
  /**
   * superseded: an older state of a key whose newer state, re-read from Redis, was delivered
   * before it (see RecipeWorker's `supersede`); only acknowledged, and it never stands for the
   * key's state in a batch.
   */
  | { readonly id: string; readonly key: string; readonly ack: string; readonly op: 's' };

/** Raw stream entry as ioredis returns it; `fields` is null for an entry deleted meanwhile. */
export type RawEntry = [id: string, fields: string[] | null];

/** One stream entry: the records of one capture call that fell in one partition. */
export interface StreamEntry {
  readonly id: string;
  /** The backlog partition (stream) it is in: ids are unique only within one. */
  readonly partition: number;
  readonly records: readonly BacklogEntry[];
  /**
   * Why the entry could not be decoded from some point on (what was written by hand, or by
   * something other than the capture scripts): the records before it are synced, the rest is
   * dead-lettered with this reason and the entry's id, never acknowledged silently.
   */
  readonly malformed?: string;
  /**
   * Set on an entry delivered before (pending, claimed) whose records were re-read from Redis:
   * the last id its partition's stream held just before the re-read. Entries of that partition
   * up to this id are older than the state re-read, so their records of the same keys are
   * superseded (see RecipeWorker's `supersede`).
   */
  readonly refreshedThrough?: string;
}

/** A value quoted in a reason, shortened: a malformed entry may hold anything. */
function shown(v: string): string {
  return JSON.stringify(v.length > 80 ? `${v.slice(0, 80)}…` : v);
}

/**
 * How a dead letter names a malformed entry: ids are per stream, so two partitions' streams can
 * hold the same id (entries added in the same millisecond), and a dead letter is kept per name.
 */
export function entryName(e: { readonly id: string; readonly partition: number }): string {
  return `backlog entry ${e.id} of partition ${e.partition}`;
}

/** The records decoded before value `at`, and why decoding stopped there. */
function malformed(id: string, partition: number, raw: readonly string[], records: BacklogEntry[], at: number, why: string): StreamEntry {
  return { id, partition, records, malformed: `${entryName({ id, partition })}, value ${at + 1} of ${raw.length}: ${why}; ${raw.length - at} values not synced` };
}

/**
 * Decodes a stream entry into its records (see capture/capture.lua for the layout). A deleted
 * entry decodes to nothing and is acknowledged; a malformed record ends the decoding, and the
 * entry says why (`malformed`).
 */
export function decodeEntry([id, raw]: RawEntry, partition = 0): StreamEntry {
  const records: BacklogEntry[] = [];
  if (raw === null) return { id, partition, records };
  // The hot path of every read: plain loops and indexOf, no regex and no closures per record.
  let i = 0;
  while (i + 1 < raw.length) {
    const key = raw[i] as string;
    const header = raw[i + 1] as string;
    const c1 = header.indexOf(':');
    const c2 = c1 === 1 ? header.indexOf(':', 2) : -1;
    const op = header[0] as string;
    const digits = header.slice(2, c2);
    if (c2 === -1 || !/^\d+$/.test(digits)) return malformed(id, partition, raw, records, i, `key ${shown(key)} has no record header (op:pairs:ack) but ${shown(header)}`);
    const pairs = Number(digits);
    const ack = header.slice(c2 + 1);
    const start = i + 2;
    if (start + 2 * pairs > raw.length) return malformed(id, partition, raw, records, i, `key ${shown(key)} announces ${pairs} field pairs, the entry has ${Math.floor((raw.length - start) / 2)} left`);
    const at = i;
    i = start + 2 * pairs;
    if (op === 'u' || op === 'w') {
      const fields = new Map<string, string>();
      for (let j = start; j < i; j += 2) fields.set(raw[j] as string, raw[j + 1] as string);
      records.push({ id, key, ack, op, fields });
    } else if (op === 'd' || op === 'x') {
      records.push({ id, key, ack, op });
    } else if (op === 't') {
      records.push({ id, key, ack, op, type: pairs ? (raw[start + 1] as string) : 'unknown' });
    } else if (op === 'p') {
      records.push({ id, key, ack, op, message: pairs ? (raw[start + 1] as string) : 'invalid # op' });
    } else {
      return malformed(id, partition, raw, records, at, `key ${shown(key)} has an unknown op ${shown(op)}`);
    }
  }
  // The layout is key, header, pairs: one value left over is a key without its header.
  if (i < raw.length) return malformed(id, partition, raw, records, i, `key ${shown(raw[i] as string)} has no record header`);
  return { id, partition, records };
}

/** An entry's identity across the partitions of one backlog. */
export function entryRef(e: { readonly id: string; readonly partition: number }): string {
  return `${e.partition}/${e.id}`;
}
