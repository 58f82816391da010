import type { ColumnInfo, TableInfo, TypeFamily } from '../types.ts';

/** information_schema.COLUMNS rows, as the describe query returns them. */
export interface MysqlColumnRow {
  readonly COLUMN_NAME: string;
  readonly DATA_TYPE: string;
  readonly COLUMN_TYPE: string;
  readonly CHARACTER_MAXIMUM_LENGTH: number | string | null;
  readonly COLUMN_KEY: string;
}

const INT_BITS: Record<string, number> = { tinyint: 8, smallint: 16, mediumint: 24, int: 32, integer: 32, bigint: 64 };

/** Maps MySQL/MariaDB column types to conversion families. Pure. */
export function mysqlColumn(row: MysqlColumnRow): ColumnInfo {
  const t = row.DATA_TYPE.toLowerCase();
  const bits = INT_BITS[t];
  const base = { name: row.COLUMN_NAME, type: row.COLUMN_TYPE };
  if (bits !== undefined) {
    const unsigned = /unsigned/i.test(row.COLUMN_TYPE);
    const span = 1n << BigInt(bits);
    return unsigned ? { ...base, family: 'integer', min: 0n, max: span - 1n } : { ...base, family: 'integer', min: -(span / 2n), max: span / 2n - 1n };
  }
  const family: TypeFamily =
    t === 'decimal' || t === 'numeric' ? 'decimal'
    : t === 'float' || t === 'double' || t === 'real' ? 'float'
    : t === 'date' ? 'date'
    : t === 'datetime' || t === 'timestamp' ? 'timestamp'
    : t === 'time' ? 'time'
    : t === 'year' ? 'integer'
    : t === 'json' ? 'json'
    : /char|text/.test(t) ? 'text'
    : /binary|blob/.test(t) ? 'binary'
    : 'other';
  const max = row.CHARACTER_MAXIMUM_LENGTH === null ? undefined : Number(row.CHARACTER_MAXIMUM_LENGTH);
  return family === 'text' && max !== undefined ? { ...base, family, maxLength: max } : { ...base, family };
}

/** A table from its information_schema rows (none: it does not exist). */
export function mysqlTable(rows: readonly MysqlColumnRow[]): TableInfo {
  return {
    exists: rows.length > 0,
    columns: new Map(rows.map((r) => [r.COLUMN_NAME.toLowerCase(), mysqlColumn(r)])),
    primaryKey: rows.filter((r) => r.COLUMN_KEY === 'PRI').map((r) => r.COLUMN_NAME),
  };
}

/** The column a MySQL error names (`... for column 'age'` or `` `db`.`t`.`age` ``), if any. */
export function mysqlErrorColumn(message: string): string | undefined {
  const m = /for column (?:`[^`]*`\.)*`([^`]+)`|for column '([^']+)'|column '([^']+)'/.exec(message);
  return m?.[1] ?? m?.[2] ?? m?.[3];
}
