import type { DeadLetter } from '../backlog/backlog.ts';
import { conversionError, convertValue, keyProblem } from '../connectors/convert.ts';
import type { ColumnInfo, TableInfo, TableShape } from '../connectors/types.ts';
import type { DbValue, RowWrite } from './plan.ts';

/** A table that cannot take the recipe's rows: retried with backoff and reported, never dead-lettered. */
export class SchemaMismatch extends Error {
  override readonly name = 'SchemaMismatch';
}

/** Why the table cannot take the recipe's rows, or undefined when it can. */
export function schemaProblem(info: TableInfo, shape: TableShape): string | undefined {
  if (!info.exists) return `table ${shape.table} does not exist; create it, or fix the recipe's table name`;
  const missing = [shape.pkColumn, ...shape.columns].filter((c) => !info.columns.has(c.toLowerCase()));
  if (missing.length) return `table ${shape.table} has no column ${missing.join(', ')}; add it, or fix the recipe's mappings`;
  return undefined;
}

/** The columns of `shape`, as described by the database (call after {@link schemaProblem}). */
export function columnsOf(info: TableInfo, shape: TableShape): ColumnInfo[] {
  return shape.columns.map((c) => info.columns.get(c.toLowerCase()) as ColumnInfo);
}

/**
 * Converts every upsert's values for their columns. Rows with a value that cannot be converted
 * are refused up front, with a message naming key, field, column and type; so are rows (upserts
 * and deletes) whose id is not the canonical text of a non-text key column, which would share a
 * row with another key (`ip:01` and `ip:1` in an INT key).
 */
export function convertRows(rows: readonly RowWrite[], columns: readonly ColumnInfo[], fields: readonly string[], pk?: ColumnInfo): { rows: RowWrite[]; refused: DeadLetter[] } {
  const out: RowWrite[] = [];
  const refused: DeadLetter[] = [];
  for (const row of rows) {
    const bad = pk === undefined ? undefined : keyProblem(row.id, pk);
    if (bad !== undefined) {
      const error = `key '${row.key}': id '${row.id}' cannot be a key of column ${pk?.name} (${pk?.type}): ${bad}; no two keys may share a row`;
      refused.push({ key: row.key, op: row.op, error, acks: row.acks, ...(row.op === 'upsert' ? { fields: row.fields } : {}) });
      continue;
    }
    if (row.op !== 'upsert') {
      out.push(row);
      continue;
    }
    const values: DbValue[] = [];
    let error: string | undefined;
    row.values.forEach((v, i) => {
      if (error !== undefined) return;
      const col = columns[i] as ColumnInfo;
      const c = convertValue(v === null ? null : String(v), col);
      if (c.ok) values.push(c.value);
      else error = conversionError(row.key, fields[i] as string, String(v), col, c.reason);
    });
    if (error === undefined) out.push({ ...row, values });
    else refused.push({ key: row.key, op: row.op, error, acks: row.acks, fields: row.fields });
  }
  return { rows: out, refused };
}
