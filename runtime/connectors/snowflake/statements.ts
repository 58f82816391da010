import { lastPerId } from '../last-per-id.ts';
import type { DbValue, RowWrite } from '../../writer/plan.ts';
import type { ColumnInfo } from '../types.ts';

/**
 * The table a session writes, with every name as INFORMATION_SCHEMA spells it: unquoted names
 * are stored upper-case, and we always quote, so `persons` must become `PERSONS`.
 */
export interface SnowflakeTarget {
  /** The quoted table name, `"PERSONS"` or `"SALES"."PERSONS"`. */
  readonly table: string;
  readonly pk: ColumnInfo;
  /** Mapped columns, in the order of each upsert's `values`. */
  readonly columns: readonly ColumnInfo[];
}

/** A value as snowflake-sdk binds it (it refuses `undefined` synchronously: 409008). */
export type SnowflakeBind = string | number | boolean | null;

/** A statement with its flat positional (`?`) binds. */
export interface SnowflakeStatement {
  readonly sql: string;
  readonly binds: readonly SnowflakeBind[];
}

/** A VALUES list holds at most 16,384 rows; stay under it. */
export const MAX_CHUNK_ROWS = 16_000;
/** Flat binds travel as JSON in the request body: keep each statement's count modest. */
export const MAX_CHUNK_BINDS = 16_384;

/** Quotes an identifier, doubling embedded quotes. */
export function quoteId(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Rows per statement for rows of `width` binds. */
export function chunkRows(width: number): number {
  return Math.max(1, Math.min(MAX_CHUNK_ROWS, Math.floor(MAX_CHUNK_BINDS / Math.max(1, width))));
}

/** A converted value as a bind: JS types as they are, `undefined` as NULL. */
export function snowflakeBindValue(value: DbValue | undefined): SnowflakeBind {
  return value === undefined ? null : value;
}

/**
 * How a bound VALUES column becomes the column's value: bound text is VARCHAR, and Snowflake
 * would store JSON as a string and read text into BINARY as hex, so parse or encode it here.
 */
function sourceValue(col: ColumnInfo, position: number): string {
  const c = `column${position}`;
  if (col.family === 'json') return `PARSE_JSON(${c})`;
  if (col.family === 'binary') return `TO_BINARY(${c}, 'UTF-8')`;
  return c;
}


/** One set-based MERGE over a bound VALUES source of `count` rows. */
export function snowflakeMerge(t: SnowflakeTarget, count: number): string {
  const pk = quoteId(t.pk.name);
  const all = [t.pk, ...t.columns];
  const names = all.map((c) => quoteId(c.name));
  const source = all.map((c, i) => `${sourceValue(c, i + 1)} AS ${names[i]}`).join(', ');
  const tuple = `(${all.map(() => '?').join(',')})`;
  const cols = names.slice(1);
  // With no mapped column there is nothing to update: an existing row is left as it is.
  const matched = cols.length ? ` WHEN MATCHED THEN UPDATE SET ${cols.map((c) => `t.${c} = s.${c}`).join(', ')}` : '';
  return `MERGE INTO ${t.table} t USING (SELECT ${source} FROM VALUES ${Array(count).fill(tuple).join(',')}) s ON t.${pk} = s.${pk}${matched}` +
    ` WHEN NOT MATCHED THEN INSERT (${names.join(',')}) VALUES (${names.map((c) => `s.${c}`).join(',')})`;
}

/** One DELETE joined to a bound VALUES list of `count` ids. */
export function snowflakeDelete(t: SnowflakeTarget, count: number): string {
  const pk = quoteId(t.pk.name);
  return `DELETE FROM ${t.table} t USING (SELECT column1 AS ${pk} FROM VALUES ${Array(count).fill('(?)').join(',')}) s WHERE t.${pk} = s.${pk}`;
}

/**
 * The MERGE and DELETE statements for one batch, in chunks that fit a VALUES list: merges first,
 * then deletes (each id appears once, so the order does not change the result). Pure.
 */
export function snowflakeWrite(t: SnowflakeTarget, rows: readonly RowWrite[]): SnowflakeStatement[] {
  const unique = lastPerId(rows);
  const upserts = unique.filter((r): r is Extract<RowWrite, { op: 'upsert' }> => r.op === 'upsert');
  const deletes = unique.filter((r) => r.op === 'delete');
  const out: SnowflakeStatement[] = [];
  const width = 1 + t.columns.length;
  for (let i = 0, n = chunkRows(width); i < upserts.length; i += n) {
    const chunk = upserts.slice(i, i + n);
    out.push({
      sql: snowflakeMerge(t, chunk.length),
      binds: chunk.flatMap((r) => [r.id, ...t.columns.map((_, j) => snowflakeBindValue(r.values[j]))]),
    });
  }
  for (let i = 0, n = chunkRows(1); i < deletes.length; i += n) {
    const chunk = deletes.slice(i, i + n);
    out.push({ sql: snowflakeDelete(t, chunk.length), binds: chunk.map((r) => r.id) });
  }
  return out;
}

/** Reads rows by primary key; binary columns come back as the text they were written from. */
export function snowflakeReadRows(t: SnowflakeTarget, ids: readonly string[]): SnowflakeStatement {
  const cols = [t.pk, ...t.columns].map((c) => (c.family === 'binary' ? `TO_VARCHAR(${quoteId(c.name)}, 'UTF-8') AS ${quoteId(c.name)}` : quoteId(c.name)));
  return { sql: `SELECT ${cols.join(', ')} FROM ${t.table} WHERE ${quoteId(t.pk.name)} IN (${ids.map(() => '?').join(', ')})`, binds: ids };
}

/** Keyset pagination over the primary key. */
export function snowflakeScanIds(t: SnowflakeTarget, after: string | undefined, limit: number): SnowflakeStatement {
  const pk = quoteId(t.pk.name);
  const where = after === undefined ? '' : ` WHERE ${pk} > ?`;
  return { sql: `SELECT ${pk} FROM ${t.table}${where} ORDER BY ${pk} LIMIT ${Math.max(0, Math.floor(limit))}`, binds: after === undefined ? [] : [after] };
}

export { lastPerId };
