import { superseded, type KeyMarks } from './through-marks.ts';
import type { Registration } from '../../recipes/options.ts';
import type { DeadLetter } from '../backlog/backlog.ts';
import type { BacklogEntry } from '../backlog/entry.ts';

/** A record's fields: a Map straight from the backlog (no copy on the hot path), or a plain object. */
export type Fields = ReadonlyMap<string, string> | Readonly<Record<string, string>>;

/** Fields as a plain object, for JSON. */
export function fieldsObject(f: Fields | undefined): Record<string, string> {
  return f === undefined ? {} : f instanceof Map ? Object.fromEntries(f) : { ...(f as Record<string, string>) };
}

/** A value bound for a column: text from the hash, or converted for its column. */
export type DbValue = string | number | boolean | null;

/** A write-through change to make in Redis once the database has it, in order. */
export type ThroughOp = { readonly op: 'merge'; readonly id: string; readonly fields: Readonly<Record<string, string>> } | { readonly op: 'delete'; readonly id: string };

/** One row to write: an upsert of every mapped column, or a delete by primary key. */
export type RowWrite =
  | {
      readonly op: 'upsert'; readonly key: string; readonly id: string; readonly acks: readonly string[];
      readonly values: readonly DbValue[]; readonly fields: Fields;
      readonly through?: readonly ThroughOp[];
    }
  | { readonly op: 'delete'; readonly key: string; readonly id: string; readonly acks: readonly string[]; readonly through?: readonly ThroughOp[] };

/** A batch turned into rows (one per key: the last state wins) and records refused up front. */
export interface WritePlan {
  /** Mapped columns, in the order of `values` (the primary-key column is not included). */
  readonly columns: readonly string[];
  readonly rows: readonly RowWrite[];
  readonly rejects: readonly DeadLetter[];
  /** Ack ids of entries with nothing to write, acknowledged as done. */
  readonly noops: ReadonlyArray<{ readonly key: string; readonly ack: string }>;
}

const NO_ACKS: readonly string[] = Object.freeze([]);

/** The id of `key` under `prefix`: everything after the first `{prefix}:`. */
export function idOf(key: string, prefix: string): string | undefined {
  return key.startsWith(`${prefix}:`) && key.length > prefix.length + 1 ? key.slice(prefix.length + 1) : undefined;
}

/**
 * Turns backlog entries into a write plan. Pure: the same input always gives the same plan.
 * Entries are in stream order. Write-behind entries carry the key's whole state, so the last one
 * wins; write-through entries carry staged fields, merged in order over `targets` (the keys' current
 * hashes, null when absent).
 */
export function planBatch(
  entries: readonly BacklogEntry[],
  reg: Registration,
  targets: ReadonlyMap<string, Record<string, string> | null> = new Map(),
  marks: ReadonlyMap<string, KeyMarks> = new Map(),
): WritePlan {
  const fields = Object.keys(reg.mappings);
  const columns = fields.map((f) => reg.mappings[f] as string);
  const byKey = new Map<string, BacklogEntry[]>();
  const rows: RowWrite[] = [];
  const rejects: DeadLetter[] = [];
  const noops: Array<{ key: string; ack: string }> = [];
  for (const e of entries) {
    // Superseded by a newer state delivered before it: it stands for nothing (its ack is done).
    if (e.op === 's') {
      if (e.ack) noops.push({ key: e.key, ack: e.ack });
      continue;
    }
    // An invalid `#` op is a report about one write, not the key's state: dead-letter it alone.
    if (e.op === 'p') rejects.push({ key: e.key, op: e.op, error: `key '${e.key}': ${e.message}`, acks: e.ack ? [e.ack] : [] });
    else {
      const list = byKey.get(e.key);
      if (list) list.push(e);
      else byKey.set(e.key, [e]);
    }
  }
  for (const [key, list] of byKey) {
    const acks = list.length === 1 ? (list[0]?.ack ? [list[0].ack] : NO_ACKS) : list.map((e) => e.ack).filter((a) => a !== '');
    const last = list[list.length - 1] as BacklogEntry;
    const id = idOf(key, reg.keysPrefix);
    let error: string | undefined;
    if (id === undefined) error = `key '${key}' has no id after '${reg.keysPrefix}:'`;
    else if (last.op === 't') error = last.type === 'hash' ? `key '${key}' is a hash too large to snapshot (more than 3500 fields)` : `key '${key}' holds a ${last.type}, not a hash; only hashes are synced`;
    else if (last.op === 'n') for (const ack of acks) noops.push({ key, ack });
    else if (last.op === 'd') rows.push({ op: 'delete', key, id, acks });
    else if (list.some((e) => e.op === 'w') && !targets.has(key)) error = `key '${key}' is not a hash; a write-through can only merge into a hash`;
    else if (last.op === 'u') {
      const values: DbValue[] = new Array(fields.length);
      for (let i = 0; i < fields.length; i++) values[i] = last.fields.get(fields[i] as string) ?? null;
      rows.push({ op: 'upsert', key, id, acks, values, fields: last.fields });
    } else rows.push(mergeThrough(key, id as string, acks, list, targets.get(key) ?? null, fields, marks.get(key)));
    if (error !== undefined) rejects.push({ key, op: last.op, error, acks });
  }
  return { columns, rows, rejects, noops };
}

/**
 * Staged changes merged in order over the key's current hash. A change at or before what was
 * already applied to the key (its marks: a redelivered older entry) is left out, field by field,
 * so that it never overwrites a newer one, in the table or in Redis.
 */
function mergeThrough(
  key: string,
  id: string,
  acks: readonly string[],
  list: readonly BacklogEntry[],
  current: Record<string, string> | null,
  fields: readonly string[],
  marks: KeyMarks | undefined,
): RowWrite {
  let state: Record<string, string> | null = current;
  const through: ThroughOp[] = [];
  for (const e of list) {
    if (e.op === 'w') {
      if (superseded(e.id, marks?.d)) continue;
      const staged: Record<string, string> = {};
      for (const [f, v] of e.fields) if (!superseded(e.id, marks?.f.get(f))) staged[f] = v;
      if (Object.keys(staged).length === 0) continue;
      state = { ...(state ?? {}), ...staged };
      through.push({ op: 'merge', id: e.id, fields: staged });
    } else if (e.op === 'x') {
      if (superseded(e.id, marks?.k)) continue;
      state = null;
      through.push({ op: 'delete', id: e.id });
    }
  }
  if (state === null) return { op: 'delete', key, id, acks, through };
  const merged = state;
  return { op: 'upsert', key, id, acks, values: fields.map((f) => merged[f] ?? null), fields: merged, through };
}
