import type { ColumnInfo, TableInfo, TypeFamily } from '../types.ts';

/** information_schema.COLUMNS rows, as the describe query returns them. */
export interface MysqlColumnRow {
  readonly COLUMN_NAME: string;
  readonly DATA_TYPE: string;
  readonly COLUMN_TYPE: string;
  readonly CHARACTER_MAXIMUM_LENGTH: number | string | null;
  readonly COLUMN_KEY: string;
  readonly NUMERIC_PRECISION?: number | string | null;
  readonly NUMERIC_SCALE?: number | string | null;
  readonly DATETIME_PRECISION?: number | string | null;
  readonly COLLATION_NAME?: string | null;
}

/** The describe query's columns (information_schema.COLUMNS). */
export const MYSQL_DESCRIBE_COLUMNS = 'COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, CHARACTER_MAXIMUM_LENGTH, COLUMN_KEY, NUMERIC_PRECISION, NUMERIC_SCALE, DATETIME_PRECISION, COLLATION_NAME';

const num = (v: number | string | null | undefined): number | undefined => (v === null || v === undefined ? undefined : Number(v));

/**
 * Why a text column's comparison is not exact, or undefined when it is. Only binary collations
 * without padding compare exactly: MariaDB's `utf8mb4_nopad_bin` (its `utf8mb4_bin` pads
 * trailing spaces), MySQL 8's `utf8mb4_0900_bin`, and binary strings. `_ci`/`_ai` collations
 * fold case or accents; CHAR drops trailing spaces whatever the collation.
 */
export function mysqlInexact(dataType: string, collation: string | null | undefined): string | undefined {
  const t = dataType.toLowerCase();
  if (t === 'char') return `CHAR pads values with spaces (collation ${collation ?? 'binary'}), so 'a' and 'a ' are one key`;
  if (collation === null || collation === undefined || collation === 'binary') return undefined;
  if (/_nopad_bin$/.test(collation) || /_0900_bin$/.test(collation)) return undefined;
  // MySQL 8's _0900_ collations and MariaDB's _nopad_ ones do not pad; every other one does.
  const pads = !/_0900_|_nopad_/.test(collation);
  const why = /_bin$/.test(collation) ? 'ignores trailing spaces (PAD SPACE)'
    : /_ci$/.test(collation) ? `ignores case (and accents)${pads ? ', and trailing spaces' : ''}`
    : 'is not a binary, no-pad collation';
  return `collation ${collation} ${why}`;
}

const INT_BITS: Record<string, number> = { tinyint: 8, smallint: 16, mediumint: 24, int: 32, integer: 32, bigint: 64 };

/** Maps MySQL/MariaDB column types to conversion families. Pure. */
export function mysqlColumn(row: MysqlColumnRow): ColumnInfo {
  const t = row.DATA_TYPE.toLowerCase();
  const bits = INT_BITS[t];
  const base = { name: row.COLUMN_NAME, type: row.COLUMN_TYPE };
  // BOOLEAN is TINYINT(1): true/false, yes/no, 1/0 go in as 1 and 0.
  if (t === 'tinyint' && /^tinyint\(1\)/i.test(row.COLUMN_TYPE)) return { ...base, family: 'boolean' };
  // YEAR takes 1901-2155 as given; other numbers become another year (`99` is 1999) or 0000.
  if (t === 'year') return { ...base, family: 'integer', min: 1901n, max: 2155n };
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
    : t === 'json' ? 'json'
    : /char|text/.test(t) ? 'text'
    : /binary|blob/.test(t) ? 'binary'
    : 'other';
  if (family === 'decimal') return { ...base, family, precision: num(row.NUMERIC_PRECISION), scale: num(row.NUMERIC_SCALE) };
  if (family === 'timestamp' || family === 'time') return { ...base, family, fraction: num(row.DATETIME_PRECISION) ?? 0 };
  if (family !== 'text') return { ...base, family };
  const max = num(row.CHARACTER_MAXIMUM_LENGTH);
  const inexact = mysqlInexact(t, row.COLLATION_NAME);
  // CHAR drops trailing spaces (unless PAD_CHAR_TO_FULL_LENGTH pads them all back).
  const drops = t === 'char' ? { dropsTrailingSpaces: true } : {};
  return { ...base, family, ...drops, ...(max === undefined ? {} : { maxLength: max }), ...(inexact === undefined ? {} : { inexact }) };
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
