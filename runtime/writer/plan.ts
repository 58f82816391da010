import type { Registration } from '../../recipes/options.ts';
import type { DeadLetter } from '../backlog/backlog.ts';
import type { BacklogEntry } from '../backlog/entry.ts';

/** One row to write: an upsert of every mapped column, or a delete by primary key. */
export type RowWrite =
  | { readonly op: 'upsert'; readonly key: string; readonly id: string; readonly values: readonly (string | null)[]; readonly fields: Readonly<Record<string, string>> }
  | { readonly op: 'delete'; readonly key: string; readonly id: string };

/** A batch turned into rows (one per key: the last change wins) and records refused up front. */
export interface WritePlan {
  /** Mapped columns, in the order of `values` (the primary-key column is not included). */
  readonly columns: readonly string[];
  readonly rows: readonly RowWrite[];
  readonly rejects: readonly DeadLetter[];
}

/** The id of `key` under `prefix`: everything after the first `{prefix}:`. */
export function idOf(key: string, prefix: string): string | undefined {
  return key.startsWith(`${prefix}:`) && key.length > prefix.length + 1 ? key.slice(prefix.length + 1) : undefined;
}

/**
 * Turns backlog entries into a write plan. Pure: the same entries and registration always give
 * the same plan. Entries are in stream order, so the last one of each key is its newest state.
 */
export function planBatch(entries: readonly BacklogEntry[], reg: Registration): WritePlan {
  const fields = Object.keys(reg.mappings);
  const columns = fields.map((f) => reg.mappings[f] as string);
  const last = new Map<string, BacklogEntry>();
  for (const e of entries) {
    last.delete(e.key); // re-insert so the map keeps the order of the newest change
    last.set(e.key, e);
  }
  const rows: RowWrite[] = [];
  const rejects: DeadLetter[] = [];
  for (const e of last.values()) {
    const id = idOf(e.key, reg.keysPrefix);
    if (id === undefined) {
      rejects.push({ key: e.key, op: e.op, error: `key '${e.key}' has no id after '${reg.keysPrefix}:'` });
    } else if (e.op === 't' && e.type === 'hash') {
      rejects.push({ key: e.key, op: e.op, error: `key '${e.key}' is a hash too large to snapshot (more than 3500 fields)` });
    } else if (e.op === 't') {
      rejects.push({ key: e.key, op: e.op, error: `key '${e.key}' holds a ${e.type}, not a hash; only hashes are synced` });
    } else if (e.op === 'd') {
      rows.push({ op: 'delete', key: e.key, id });
    } else {
      const values = fields.map((f) => e.fields.get(f) ?? null);
      rows.push({ op: 'upsert', key: e.key, id, values, fields: Object.fromEntries(e.fields) });
    }
  }
  return { columns, rows, rejects };
}
