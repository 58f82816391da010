import type { DbValue } from '../../writer/plan.ts';
import type { TableShape, WriteBatch } from '../types.ts';

/** Ids per `IN (...)` when reading rows: well under SQLite's bound-variable limit. */
export const SQLITE_READ_CHUNK = 500;

/** Quotes an identifier with double quotes, doubling embedded ones. */
export function quoteId(name: string): string {
  return '"' + name.replace(/"/g, '""') + '"';
}

/** Quotes a table name; `schema.table` (an attached database) is quoted per part, split at the first dot. */
export function quoteTable(name: string): string {
  const dot = name.indexOf('.');
  return dot === -1 ? quoteId(name) : `${quoteId(name.slice(0, dot))}.${quoteId(name.slice(dot + 1))}`;
}

/** A value better-sqlite3 can bind: it refuses JS booleans. */
export type SqliteParam = string | number | null;

/** A statement with its positional parameters. */
export interface Statement {
  readonly sql: string;
  readonly params: readonly SqliteParam[];
}

/** Booleans as 1/0 (SQLite has no boolean type and better-sqlite3 will not bind one). */
export function sqliteValue(v: DbValue): SqliteParam {
  return typeof v === 'boolean' ? (v ? 1 : 0) : v;
}

/**
 * The one-row upsert for a shape: a real `ON CONFLICT DO UPDATE`, so unmapped columns keep their
 * values (`INSERT OR REPLACE` would delete the row and lose them).
 */
export function sqliteUpsertSql(t: TableShape): string {
  const cols = [t.pkColumn, ...t.columns];
  // With no mapped column there is nothing to update, only rows to create.
  const action = t.columns.length ? `DO UPDATE SET ${t.columns.map((c) => `${quoteId(c)}=excluded.${quoteId(c)}`).join(',')}` : 'DO NOTHING';
  return `INSERT INTO ${quoteTable(t.table)} (${cols.map(quoteId).join(',')}) VALUES (${cols.map(() => '?').join(',')}) ON CONFLICT (${quoteId(t.pkColumn)}) ${action}`;
}

/** The one-row delete for a shape. */
export function sqliteDeleteSql(t: TableShape): string {
  return `DELETE FROM ${quoteTable(t.table)} WHERE ${quoteId(t.pkColumn)} = ?`;
}

/**
 * One statement per row, in batch order; pure, so it can be asserted in tests. Each shape has
 * one SQL text, so the session prepares it once and runs it per row inside one transaction,
 * which in-process SQLite does as fast as a multi-row statement.
 */
export function sqliteStatements(batch: WriteBatch): Statement[] {
  const upsert = sqliteUpsertSql(batch);
  const del = sqliteDeleteSql(batch);
  return batch.rows.map((r) => (r.op === 'upsert' ? { sql: upsert, params: [r.id, ...r.values.map(sqliteValue)] } : { sql: del, params: [r.id] }));
}

/** Reads rows by primary key, every value cast to text so it compares with Redis's strings. */
export function sqliteReadRows(t: TableShape, ids: readonly string[]): Statement {
  const cols = [t.pkColumn, ...t.columns].map((c) => `CAST(${quoteId(c)} AS TEXT) AS ${quoteId(c)}`).join(',');
  return { sql: `SELECT ${cols} FROM ${quoteTable(t.table)} WHERE ${quoteId(t.pkColumn)} IN (${ids.map(() => '?').join(',')})`, params: ids };
}

/** The alias {@link sqliteScanIds} gives the key's text; never the key column's own name. */
export const SCAN_ID = 'id_text';

/**
 * Keyset pagination over the primary key, in the column's own order: the key is ordered and
 * compared as the table's column (qualified: SQLite resolves a bare `ORDER BY "id"` to an output
 * column of that name first, the text). The cursor is bound as text and takes the column's
 * affinity in the comparison, so '10' compares as 10 against an INTEGER key.
 */
export function sqliteScanIds(t: TableShape, after: string | undefined, limit: number): Statement {
  const key = `"t".${quoteId(t.pkColumn)}`;
  const where = after === undefined ? '' : ` WHERE ${key} > ?`;
  return {
    sql: `SELECT CAST(${key} AS TEXT) AS ${quoteId(SCAN_ID)} FROM ${quoteTable(t.table)} AS "t"${where} ORDER BY ${key} LIMIT ${Math.floor(limit)}`,
    params: after === undefined ? [] : [after],
  };
}
