import type { RowWrite } from '../writer/plan.ts';

/**
 * The last write of each id, in the order of those last writes. The writer already sends one row
 * per key, but a MERGE source with a key twice fails (Snowflake 100090) or inserts it twice, and
 * a delete must never run before its upsert.
 */
export function lastPerId(rows: readonly RowWrite[]): RowWrite[] {
  const last = new Map<string, RowWrite>();
  for (const r of rows) {
    last.delete(r.id);
    last.set(r.id, r);
  }
  return [...last.values()];
}
