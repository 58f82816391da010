import { lastPerId } from '../last-per-id.ts';
import type { DbValue, RowWrite } from '../../writer/plan.ts';
import type { ColumnInfo } from '../types.ts';

/**
 * The table a session writes, with every name as the data dictionary spells it: Oracle folds
 * unquoted names to upper case, and we always quote, so `persons` must become `PERSONS`.
 */
export interface OracleTarget {
  /** The quoted table name, `"PERSONS"` or `"HR"."PERSONS"`. */
  readonly table: string;
  readonly pk: ColumnInfo;
  /** Mapped columns, in the order of each upsert's `values`. */
  readonly columns: readonly ColumnInfo[];
}

/** A value as node-oracledb binds it: text (Oracle converts it with the session's NLS), bytes or NULL. */
export type OracleBind = string | Buffer | null;

/** A statement with its positional binds. */
export interface OracleStatement {
  readonly sql: string;
  readonly binds: readonly OracleBind[];
}

/** One `executeMany` call: the same SQL for every row of binds. */
export interface OracleBatch {
  readonly sql: string;
  readonly rows: ReadonlyArray<readonly OracleBind[]>;
}

/**
 * Quotes an identifier. Oracle has no escape for `"` inside one, so a name holding it fails
 * with a clear ORA- error instead of changing the statement.
 */
export function quoteId(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * The session settings that make text binds unambiguous: thin mode ignores NLS_* environment
 * variables, and the server's defaults (a comma decimal separator, `DD-MON-RR` dates) would
 * misread the strings that convert.ts produces (`1.5`, `YYYY-MM-DD[ HH:MM:SS[.fff]]`).
 */
export const ORACLE_SESSION_SETUP =
  "ALTER SESSION SET NLS_NUMERIC_CHARACTERS='.,' NLS_DATE_FORMAT='YYYY-MM-DD HH24:MI:SS'" +
  " NLS_TIMESTAMP_FORMAT='YYYY-MM-DD HH24:MI:SS.FF' NLS_TIMESTAMP_TZ_FORMAT='YYYY-MM-DD HH24:MI:SS.FF TZH:TZM'" +
  // Keys compare and sort byte-wise, whatever the server's linguistic defaults: verify's keyset
  // pagination (ORDER BY the key, then key > the last one) needs both to agree.
  " NLS_SORT='BINARY' NLS_COMP='BINARY'";

/**
 * The single-row MERGE that `executeMany` runs once per upsert: one SQL text whatever the batch
 * size (one cached cursor), and each row its own execution, so a key cannot match twice
 * (ORA-30926). The key is never in UPDATE SET (ORA-38104).
 */
export function oracleMerge(t: OracleTarget): string {
  const pk = quoteId(t.pk.name);
  const cols = t.columns.map((c) => quoteId(c.name));
  const all = [pk, ...cols];
  const source = all.map((c, i) => `:${i + 1} ${c}`).join(', ');
  // With no mapped column there is nothing to update: an existing row is left as it is.
  const matched = cols.length ? ` WHEN MATCHED THEN UPDATE SET ${cols.map((c) => `t.${c}=s.${c}`).join(', ')}` : '';
  return `MERGE INTO ${t.table} t USING (SELECT ${source} FROM dual) s ON (t.${pk}=s.${pk})${matched}` +
    ` WHEN NOT MATCHED THEN INSERT (${all.join(',')}) VALUES (${all.map((c) => `s.${c}`).join(',')})`;
}

/** The single-row DELETE that `executeMany` runs once per id (an IN list stops at 1,000: ORA-01795). */
export function oracleDelete(t: OracleTarget): string {
  return `DELETE FROM ${t.table} WHERE ${quoteId(t.pk.name)}=:1`;
}

/**
 * ISO 8601 spellings that convert.ts accepts (`T` separator, `Z` or `+hh[:mm]` zone) rewritten to
 * the session's formats; anything else is left for Oracle to accept or refuse.
 */
export function oracleTimestamp(value: string): string {
  const m = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i.exec(value.trim());
  if (!m) return value;
  const [, date, time, zone] = m;
  if (zone === undefined) return `${date} ${time}`;
  if (zone.toUpperCase() === 'Z') return `${date} ${time} +00:00`;
  const digits = zone.slice(1).replace(':', '');
  return `${date} ${time} ${zone[0]}${digits.slice(0, 2)}:${digits.slice(2) || '00'}`;
}

/**
 * A converted value as Oracle binds it. Everything goes as text so that every row binds the
 * same type (node-oracledb refuses a column that mixes JS types: NJS-011); binary columns take
 * the bytes of the text, as other databases store them.
 */
export function oracleBindValue(value: DbValue, col: ColumnInfo): OracleBind {
  if (value === null) return null;
  if (typeof value === 'boolean') return value ? '1' : '0';
  const text = String(value);
  if (col.family === 'binary') return Buffer.from(text, 'utf8');
  if (col.family === 'timestamp' || col.family === 'date') return oracleTimestamp(text);
  return text;
}


/** The MERGE and DELETE calls for one batch (either absent when it has no such rows). Pure. */
export function oracleWrite(t: OracleTarget, rows: readonly RowWrite[]): { merge?: OracleBatch; delete?: OracleBatch } {
  const unique = lastPerId(rows);
  const upserts = unique.filter((r): r is Extract<RowWrite, { op: 'upsert' }> => r.op === 'upsert');
  const deletes = unique.filter((r) => r.op === 'delete');
  return {
    ...(upserts.length ? {
      merge: {
        sql: oracleMerge(t),
        rows: upserts.map((r) => [oracleBindValue(r.id, t.pk), ...t.columns.map((c, i) => oracleBindValue(r.values[i] ?? null, c))]),
      },
    } : {}),
    ...(deletes.length ? { delete: { sql: oracleDelete(t), rows: deletes.map((r) => [oracleBindValue(r.id, t.pk)]) } } : {}),
  };
}

/** How one bind position goes to node-oracledb: LOBs by type, text and bytes with their largest size. */
export type OracleBindShape = { readonly kind: 'clob' | 'nclob' | 'blob' } | { readonly kind: 'text' | 'raw'; readonly maxSize: number };

/**
 * The bind types of an `executeMany` call, one per column (`executeMany` needs them all or
 * none). A LOB column binds as a LOB: text over 4,000 bytes cannot reach it otherwise
 * (ORA-01461). Sizes are the longest value in bytes, at least 1.
 */
export function oracleBindShapes(cols: readonly ColumnInfo[], rows: ReadonlyArray<readonly OracleBind[]>): OracleBindShape[] {
  return cols.map((col, i) => {
    const type = col.type.toUpperCase();
    if (type === 'CLOB' || type === 'NCLOB' || type === 'BLOB') return { kind: type.toLowerCase() as 'clob' | 'nclob' | 'blob' };
    let maxSize = 1;
    for (const r of rows) {
      const v = r[i];
      if (v !== null && v !== undefined) maxSize = Math.max(maxSize, typeof v === 'string' ? Buffer.byteLength(v) : v.length);
    }
    return { kind: col.family === 'binary' ? 'raw' : 'text', maxSize };
  });
}

/** Reads rows by primary key (at most 1,000 ids: ORA-01795); the driver fetches every value as text. */
export function oracleReadRows(t: OracleTarget, ids: readonly string[]): OracleStatement {
  const cols = [t.pk, ...t.columns].map((c) => quoteId(c.name)).join(', ');
  return {
    sql: `SELECT ${cols} FROM ${t.table} WHERE ${quoteId(t.pk.name)} IN (${ids.map((_, i) => `:${i + 1}`).join(', ')})`,
    binds: ids.map((id) => oracleBindValue(id, t.pk)),
  };
}

/** Keyset pagination over the primary key (FETCH FIRST needs Oracle 12c or later). */
export function oracleScanIds(t: OracleTarget, after: string | undefined, limit: number): OracleStatement {
  const pk = quoteId(t.pk.name);
  const where = after === undefined ? '' : ` WHERE ${pk} > :1`;
  return {
    sql: `SELECT ${pk} FROM ${t.table}${where} ORDER BY ${pk} FETCH FIRST ${Math.max(0, Math.floor(limit))} ROWS ONLY`,
    binds: after === undefined ? [] : [oracleBindValue(after, t.pk)],
  };
}

export { lastPerId };
