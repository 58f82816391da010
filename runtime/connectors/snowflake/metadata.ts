import type { ColumnInfo, TableInfo, TableShape, TypeFamily } from '../types.ts';
import { quoteId, type SnowflakeStatement, type SnowflakeTarget } from './statements.ts';

/** INFORMATION_SCHEMA.COLUMNS rows, as the describe query returns them. */
export interface SnowflakeColumnRow {
  readonly TABLE_SCHEMA: string;
  readonly TABLE_NAME: string;
  readonly COLUMN_NAME: string;
  readonly DATA_TYPE: string;
  readonly IS_NULLABLE: string;
  readonly CHARACTER_MAXIMUM_LENGTH: number | string | null;
  readonly NUMERIC_PRECISION: number | string | null;
  readonly NUMERIC_SCALE: number | string | null;
}

/** A `SHOW PRIMARY KEYS` row (SHOW output has lower-case column names). */
export interface SnowflakePrimaryKeyRow {
  readonly column_name: string;
  readonly key_sequence: number | string;
}

/** A recipe's table name split into schema and table; no schema means the connection's. */
export function splitTableName(table: string): { schema: string | undefined; name: string } {
  const dot = table.indexOf('.');
  return dot === -1 ? { schema: undefined, name: table } : { schema: table.slice(0, dot), name: table.slice(dot + 1) };
}

/**
 * The columns of every table in the connection's database whose name matches case-insensitively
 * (the recipe may say `persons` for `PERSONS`); {@link pickTable} then prefers the exact spelling.
 */
export function snowflakeColumnsQuery(table: string): SnowflakeStatement {
  const { schema, name } = splitTableName(table);
  const cols = 'TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, DATA_TYPE, IS_NULLABLE, CHARACTER_MAXIMUM_LENGTH, NUMERIC_PRECISION, NUMERIC_SCALE';
  return schema === undefined
    ? {
      sql: `SELECT ${cols} FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_SCHEMA = CURRENT_SCHEMA() AND UPPER(TABLE_NAME) = UPPER(?) ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION`,
      binds: [name],
    }
    : {
      sql: `SELECT ${cols} FROM INFORMATION_SCHEMA.COLUMNS WHERE UPPER(TABLE_SCHEMA) = UPPER(?) AND UPPER(TABLE_NAME) = UPPER(?) ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION`,
      binds: [schema, name],
    };
}

/** Lists a table's primary key; it is not enforced, so it only informs `wb-cli check`. */
export function snowflakePrimaryKeyQuery(schema: string, table: string): string {
  return `SHOW PRIMARY KEYS IN TABLE ${quoteId(schema)}.${quoteId(table)}`;
}

/**
 * The rows of the one table the recipe means: the exact spelling (a quoted name), else the
 * upper-case one (an unquoted name), else the first case-insensitive match. Empty: no such table.
 */
export function pickTable(rows: readonly SnowflakeColumnRow[], table: string): SnowflakeColumnRow[] {
  const { schema, name } = splitTableName(table);
  const score = (r: SnowflakeColumnRow): number =>
    (r.TABLE_NAME === name ? 4 : r.TABLE_NAME === name.toUpperCase() ? 2 : 0) +
    (schema === undefined || r.TABLE_SCHEMA === schema ? 1 : r.TABLE_SCHEMA === schema.toUpperCase() ? 0.5 : 0);
  const first = rows[0];
  if (first === undefined) return [];
  const best = rows.reduce((a, b) => (score(b) > score(a) ? b : a), first);
  return rows.filter((r) => r.TABLE_SCHEMA === best.TABLE_SCHEMA && r.TABLE_NAME === best.TABLE_NAME);
}

const num = (v: number | string | null | undefined): number | undefined => (v === null || v === undefined ? undefined : Number(v));

/** Maps a Snowflake column type to a conversion family. Pure. */
export function snowflakeColumn(row: SnowflakeColumnRow): ColumnInfo {
  const t = row.DATA_TYPE.toUpperCase();
  const name = row.COLUMN_NAME;
  const precision = num(row.NUMERIC_PRECISION);
  const scale = num(row.NUMERIC_SCALE);
  const length = num(row.CHARACTER_MAXIMUM_LENGTH);
  if (/^(NUMBER|DECIMAL|NUMERIC|INT|INTEGER|BIGINT|SMALLINT|TINYINT|BYTEINT)$/.test(t)) {
    const p = precision ?? 38;
    const s = scale ?? 0;
    const type = `NUMBER(${p},${s})`;
    if (s !== 0) return { name, type, family: 'decimal', precision: p, scale: s };
    const max = 10n ** BigInt(p) - 1n;
    return { name, type, family: 'integer', min: -max, max };
  }
  const text = /^(TEXT|VARCHAR|CHAR|CHARACTER|STRING|NCHAR|NVARCHAR|NVARCHAR2|CHAR VARYING|NCHAR VARYING)$/.test(t);
  if (text) return length === undefined ? { name, type: t, family: 'text' } : { name, type: `${t}(${length})`, family: 'text', maxLength: length };
  const family: TypeFamily =
    /^(FLOAT|FLOAT4|FLOAT8|DOUBLE|DOUBLE PRECISION|REAL)$/.test(t) ? 'float'
    : t === 'BOOLEAN' ? 'boolean'
    : t === 'DATE' ? 'date'
    : t === 'DATETIME' || t.startsWith('TIMESTAMP') ? 'timestamp'
    : t === 'TIME' ? 'time'
    : t === 'VARIANT' || t === 'OBJECT' || t === 'ARRAY' ? 'json'
    : t === 'BINARY' || t === 'VARBINARY' ? 'binary'
    : 'other';
  // TIMESTAMP_TZ and _LTZ keep the instant with its offset; TIMESTAMP_NTZ and DATETIME get UTC.
  if (family === 'timestamp' && /_(TZ|LTZ)$/.test(t)) return { name, type: t, family, zoned: true };
  return { name, type: t, family };
}

/** A table from its INFORMATION_SCHEMA rows (none: it does not exist), columns keyed by lower-cased name. */
export function snowflakeTable(rows: readonly SnowflakeColumnRow[], primaryKey: readonly SnowflakePrimaryKeyRow[]): TableInfo {
  const columns = new Map<string, ColumnInfo>();
  for (const r of rows) {
    const key = r.COLUMN_NAME.toLowerCase();
    // Two columns differing only by case: the upper-case one is what an unquoted name means.
    if (!columns.has(key) || r.COLUMN_NAME === r.COLUMN_NAME.toUpperCase()) columns.set(key, snowflakeColumn(r));
  }
  const keys = [...primaryKey].sort((a, b) => Number(a.key_sequence) - Number(b.key_sequence)).map((k) => k.column_name);
  return { exists: rows.length > 0, columns, primaryKey: keys };
}

/**
 * The quoted name the statements use: the dictionary's spelling of the table (and schema, when
 * the recipe names one), or, for a table that does not exist, the recipe's name upper-cased.
 */
export function snowflakeTableSql(rows: readonly SnowflakeColumnRow[], table: string): string {
  const { schema, name } = splitTableName(table);
  const first = rows[0];
  const n = first ? first.TABLE_NAME : name.toUpperCase();
  if (schema === undefined) return quoteId(n);
  return `${quoteId(first ? first.TABLE_SCHEMA : schema.toUpperCase())}.${quoteId(n)}`;
}

/** The target of a batch: the recipe's columns as the table spells them. */
export function snowflakeTarget(info: TableInfo, tableSql: string, shape: TableShape): SnowflakeTarget {
  const col = (name: string): ColumnInfo => info.columns.get(name.toLowerCase()) ?? { name: name.toUpperCase(), type: 'unknown', family: 'other' };
  return { table: tableSql, pk: col(shape.pkColumn), columns: shape.columns.map(col) };
}
