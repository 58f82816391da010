import type { ColumnInfo, TableInfo, TypeFamily } from '../types.ts';

/** `pragma_table_info` rows, as {@link SQLITE_DESCRIBE_SQL} returns them. */
export interface SqliteColumnRow {
  readonly name: string;
  /** The declared type, as written in CREATE TABLE (may be empty). */
  readonly type: string;
  /** Position in the primary key (1-based), 0 when the column is not part of it. */
  readonly pk: number;
}

/** Describes a table: $1 the table, $2 the schema (`main`, or an attached database's name). */
export const SQLITE_DESCRIBE_SQL = 'SELECT name, type, pk FROM pragma_table_info(?, ?) ORDER BY cid';

/** Splits a recipe's table name into schema (`main` by default) and table, at the first dot. */
export function sqliteSplitTable(name: string): { schema: string; table: string } {
  const dot = name.indexOf('.');
  return dot === -1 ? { schema: 'main', table: name } : { schema: name.slice(0, dot), table: name.slice(dot + 1) };
}

const INT64 = 1n << 63n;

/**
 * The family of a declared type. SQLite stores whatever it gets (outside STRICT tables); the
 * family is what the value is checked and converted for. Integers come first, as in SQLite's own
 * affinity rules (so `BIGINT`, `INTEGER`, even `POINT` are integers); `DATETIME` before `DATE`.
 */
export function sqliteFamily(declared: string): TypeFamily {
  const t = declared.toUpperCase();
  if (t.includes('INT')) return 'integer';
  if (/CHAR|CLOB|TEXT/.test(t)) return 'text';
  if (/REAL|FLOA|DOUB/.test(t)) return 'float';
  if (t.includes('BOOL')) return 'boolean';
  if (/DATETIME|TIMESTAMP/.test(t)) return 'timestamp';
  if (t.includes('DATE')) return 'date';
  if (/NUMERIC|DECIMAL/.test(t)) return 'decimal';
  return 'other';
}

/** Maps a declared SQLite type to its conversion family. Pure. */
export function sqliteColumn(row: Pick<SqliteColumnRow, 'name' | 'type'>): ColumnInfo {
  const base = { name: row.name, type: row.type === '' ? 'ANY' : row.type };
  const family = sqliteFamily(row.type);
  if (family === 'integer') return { ...base, family, min: -INT64, max: INT64 - 1n };
  if (family === 'decimal') {
    const ps = /\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)/.exec(row.type);
    return ps ? { ...base, family, precision: Number(ps[1]), scale: Number(ps[2] ?? 0) } : { ...base, family };
  }
  // SQLite ignores VARCHAR(n); the conversion is what refuses a longer value.
  const n = family === 'text' ? /\(\s*(\d+)\s*\)/.exec(row.type)?.[1] : undefined;
  return n === undefined ? { ...base, family } : { ...base, family, maxLength: Number(n) };
}

/**
 * The collation a column is declared with in a CREATE TABLE statement, if any. SQLite keeps
 * declared collations only there; BINARY (the default) is the one exact comparison.
 */
export function sqliteCollation(ddl: string, column: string): string | undefined {
  const name = column.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const m = new RegExp(`[(,]\\s*["\`\\[]?${name}["\`\\]]?\\s[^,]*?\\bCOLLATE\\s+["']?(\\w+)`, 'i').exec(ddl);
  return m?.[1]?.toUpperCase();
}

/** A table from its `pragma_table_info` rows (none: it does not exist) and its CREATE statement. */
export function sqliteTable(rows: readonly SqliteColumnRow[], ddl?: string): TableInfo {
  const describe = (r: SqliteColumnRow): ColumnInfo => {
    const col = sqliteColumn(r);
    const collation = ddl === undefined || col.family !== 'text' ? undefined : sqliteCollation(ddl, r.name);
    return collation === undefined || collation === 'BINARY' ? col : { ...col, inexact: `collation ${collation} ${collation === 'NOCASE' ? 'ignores ASCII case' : collation === 'RTRIM' ? 'ignores trailing spaces' : 'is not BINARY'}` };
  };
  return {
    exists: rows.length > 0,
    columns: new Map(rows.map((r) => [r.name.toLowerCase(), describe(r)])),
    primaryKey: rows.filter((r) => r.pk > 0).sort((a, b) => a.pk - b.pk).map((r) => r.name),
  };
}

/** The column a SQLite error names (NOT NULL / UNIQUE constraints, STRICT datatype checks), if any. */
export function sqliteErrorColumn(message: string): string | undefined {
  const m = /(?:NOT NULL|UNIQUE) constraint failed: (?:[^\s.,]+\.)?([^\s.,]+)/.exec(message) ?? /value in \S+ column (?:[^\s.]+\.)?(\S+)$/.exec(message);
  return m?.[1];
}
