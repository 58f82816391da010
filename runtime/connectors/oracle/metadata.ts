import type { ColumnInfo, TableInfo, TableShape, TypeFamily } from '../types.ts';
import { quoteId, type OracleStatement, type OracleTarget } from './statements.ts';

/** ALL_TAB_COLUMNS rows, as the describe query returns them. */
export interface OracleColumnRow {
  readonly OWNER: string;
  readonly TABLE_NAME: string;
  readonly COLUMN_NAME: string;
  readonly DATA_TYPE: string;
  readonly DATA_LENGTH: number | null;
  readonly CHAR_LENGTH: number | null;
  readonly DATA_PRECISION: number | null;
  readonly DATA_SCALE: number | null;
  readonly NULLABLE: string;
}

/** A recipe's table name split into owner (schema) and table; no owner means the current schema. */
export function splitTableName(table: string): { owner: string | undefined; name: string } {
  const dot = table.indexOf('.');
  return dot === -1 ? { owner: undefined, name: table } : { owner: table.slice(0, dot), name: table.slice(dot + 1) };
}

/**
 * The columns of every table whose name matches case-insensitively (the recipe may say `persons`
 * for `PERSONS`); {@link pickTable} then prefers the exact spelling.
 */
export function oracleColumnsQuery(table: string): OracleStatement {
  const { owner, name } = splitTableName(table);
  const cols = 'OWNER, TABLE_NAME, COLUMN_NAME, DATA_TYPE, DATA_LENGTH, CHAR_LENGTH, DATA_PRECISION, DATA_SCALE, NULLABLE';
  return owner === undefined
    ? {
      sql: `SELECT ${cols} FROM ALL_TAB_COLUMNS WHERE OWNER = SYS_CONTEXT('USERENV','CURRENT_SCHEMA') AND UPPER(TABLE_NAME) = UPPER(:1) ORDER BY OWNER, TABLE_NAME, COLUMN_ID`,
      binds: [name],
    }
    : {
      sql: `SELECT ${cols} FROM ALL_TAB_COLUMNS WHERE UPPER(OWNER) = UPPER(:1) AND UPPER(TABLE_NAME) = UPPER(:2) ORDER BY OWNER, TABLE_NAME, COLUMN_ID`,
      binds: [owner, name],
    };
}

/** The primary-key columns of a table named exactly as the dictionary spells it, in key order. */
export function oraclePrimaryKeyQuery(owner: string, table: string): OracleStatement {
  return {
    sql: 'SELECT cc.COLUMN_NAME FROM ALL_CONSTRAINTS c JOIN ALL_CONS_COLUMNS cc ON cc.OWNER = c.OWNER AND cc.CONSTRAINT_NAME = c.CONSTRAINT_NAME' +
      " WHERE c.CONSTRAINT_TYPE = 'P' AND c.OWNER = :1 AND c.TABLE_NAME = :2 ORDER BY cc.POSITION",
    binds: [owner, table],
  };
}

/**
 * The rows of the one table the recipe means: the exact spelling (a quoted name), else the
 * upper-case one (an unquoted name), else the first case-insensitive match. Empty: no such table.
 */
export function pickTable(rows: readonly OracleColumnRow[], table: string): OracleColumnRow[] {
  const { owner, name } = splitTableName(table);
  const score = (r: OracleColumnRow): number =>
    (r.TABLE_NAME === name ? 4 : r.TABLE_NAME === name.toUpperCase() ? 2 : 0) +
    (owner === undefined || r.OWNER === owner ? 1 : r.OWNER === owner.toUpperCase() ? 0.5 : 0);
  const first = rows[0];
  if (first === undefined) return [];
  const best = rows.reduce((a, b) => (score(b) > score(a) ? b : a), first);
  return rows.filter((r) => r.OWNER === best.OWNER && r.TABLE_NAME === best.TABLE_NAME);
}

const num = (v: number | string | null | undefined): number | undefined => (v === null || v === undefined ? undefined : Number(v));

/** Maps an Oracle column type to a conversion family. Pure. */
export function oracleColumn(row: OracleColumnRow): ColumnInfo {
  const t = row.DATA_TYPE.toUpperCase();
  const precision = num(row.DATA_PRECISION);
  const scale = num(row.DATA_SCALE);
  const chars = num(row.CHAR_LENGTH) || num(row.DATA_LENGTH);
  if (t === 'NUMBER') {
    const type = precision === undefined ? (scale === undefined ? 'NUMBER' : `NUMBER(*,${scale})`) : `NUMBER(${precision},${scale ?? 0})`;
    if (scale !== 0) return { name: row.COLUMN_NAME, type, family: 'decimal', ...(precision === undefined || scale === undefined ? {} : { precision, scale }) };
    // NUMBER(p,0) holds p digits; INTEGER is NUMBER(*,0): 38 digits.
    const max = 10n ** BigInt(precision ?? 38) - 1n;
    return { name: row.COLUMN_NAME, type, family: 'integer', min: -max, max };
  }
  const sized = /^(N?VARCHAR2|N?CHAR|VARCHAR|RAW)$/.test(t) && chars !== undefined ? `${t}(${chars})` : row.DATA_TYPE;
  const family: TypeFamily =
    // FLOAT(b) is a NUMBER: decimal text, but no infinities.
    t === 'FLOAT' ? 'decimal'
    : t === 'BINARY_FLOAT' || t === 'BINARY_DOUBLE' ? 'float'
    // DATE carries a time of day too: it takes timestamps, and plain dates as midnight.
    : t === 'DATE' || t.startsWith('TIMESTAMP') ? 'timestamp'
    : /^(N?VARCHAR2|N?CHAR|VARCHAR|N?CLOB|LONG)$/.test(t) ? 'text'
    : t === 'RAW' || t === 'BLOB' || t === 'LONG RAW' ? 'binary'
    : t === 'JSON' ? 'json'
    : t === 'BOOLEAN' ? 'boolean'
    : 'other';
  if (family === 'timestamp') {
    // DATE keeps whole seconds; TIMESTAMP(n) n digits (DATA_SCALE); WITH TIME ZONE the offset.
    const fraction = t === 'DATE' ? 0 : scale;
    return { name: row.COLUMN_NAME, type: sized, family, ...(fraction === undefined ? {} : { fraction }), ...(/WITH TIME ZONE/.test(t) && !/LOCAL/.test(t) ? { zoned: true } : {}) };
  }
  const limited = family === 'text' && /CHAR/.test(t) && chars !== undefined;
  // CHAR and NCHAR compare blank-padded: 'a' and 'a ' are one key.
  const inexact = /^N?CHAR$/.test(t) ? `${t} pads values with spaces, so 'a' and 'a ' are one key` : undefined;
  return limited ? { name: row.COLUMN_NAME, type: sized, family, maxLength: chars, ...(inexact ? { inexact } : {}) } : { name: row.COLUMN_NAME, type: sized, family };
}

/**
 * A table from its dictionary rows (none: it does not exist). Columns are keyed by lower-cased
 * name; when two differ only by case, the upper-case one wins, as an unquoted name means it.
 */
export function oracleTable(rows: readonly OracleColumnRow[], primaryKey: readonly string[]): TableInfo {
  const columns = new Map<string, ColumnInfo>();
  for (const r of rows) {
    const key = r.COLUMN_NAME.toLowerCase();
    const seen = columns.get(key);
    if (seen === undefined || r.COLUMN_NAME === r.COLUMN_NAME.toUpperCase()) columns.set(key, oracleColumn(r));
  }
  return { exists: rows.length > 0, columns, primaryKey };
}

/**
 * The quoted name the statements use: the dictionary's spelling of the table (and owner, when
 * the recipe names one), or, for a table that does not exist, the recipe's name as Oracle
 * would read it unquoted.
 */
export function oracleTableSql(rows: readonly OracleColumnRow[], table: string): string {
  const { owner, name } = splitTableName(table);
  const first = rows[0];
  const o = first ? first.OWNER : owner?.toUpperCase();
  const n = first ? first.TABLE_NAME : name.toUpperCase();
  return owner === undefined ? quoteId(n) : `${quoteId(o as string)}.${quoteId(n)}`;
}

/** The target of a batch: the recipe's columns as the table spells them. */
export function oracleTarget(info: TableInfo, tableSql: string, shape: TableShape): OracleTarget {
  const col = (name: string): ColumnInfo => info.columns.get(name.toLowerCase()) ?? { name: name.toUpperCase(), type: 'unknown', family: 'other' };
  return { table: tableSql, pk: col(shape.pkColumn), columns: shape.columns.map(col) };
}

/**
 * The column an Oracle error names: `"OWNER"."TABLE"."COLUMN"` (ORA-12899, ORA-01400,
 * ORA-01407) or `column "COLUMN"`.
 */
export function oracleErrorColumn(message: string): string | undefined {
  const m = /"[^"]*"\."[^"]*"\."([^"]+)"/.exec(message) ?? /column "([^"]+)"/i.exec(message);
  return m?.[1];
}
