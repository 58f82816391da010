// The conversion table: the spec of what each hash value becomes in each column type. The unit
// tests run its cases through convertValue, the live conformance suite through every database it
// can reach, and docs/conversions.md is rendered from it (a test keeps the two equal).
import type { TypeFamily } from './types.ts';

/** A database wbsync writes to, as the docs name it. */
export type Dialect = 'mysql' | 'postgres' | 'sqlite' | 'cassandra' | 'oracle' | 'snowflake';

export const DIALECT_NAMES: Readonly<Record<Dialect, string>> = {
  mysql: 'MySQL / MariaDB', postgres: 'PostgreSQL', sqlite: 'SQLite', cassandra: 'Cassandra', oracle: 'Oracle', snowflake: 'Snowflake',
};

/** One family's rule: what it accepts, what it writes, and its column types per database. */
export interface ConversionRule {
  readonly family: TypeFamily;
  readonly accepts: string;
  readonly writes: string;
  readonly types: Readonly<Partial<Record<Dialect, string>>>;
}

export const CONVERSION_RULES: readonly ConversionRule[] = [
  {
    family: 'text', accepts: 'any text, exactly as given (spaces and case kept); refused when longer than the column\'s declared length in characters, and, for a MySQL/MariaDB CHAR (which drops them), when it ends with a space', writes: 'the text',
    types: { mysql: 'CHAR, VARCHAR, TEXT types', postgres: 'text, varchar(n), char(n)', sqlite: 'declared type containing CHAR, CLOB or TEXT (VARCHAR(n) is enforced by wbsync)', cassandra: 'text, varchar, ascii', oracle: 'VARCHAR2, NVARCHAR2, CHAR, NCHAR, CLOB', snowflake: 'VARCHAR, TEXT, STRING, CHAR' },
  },
  {
    family: 'integer', accepts: 'plain integers: digits with an optional leading `-`; no spaces, `+`, leading zeros, decimal point or exponent; within the column\'s range', writes: 'the integer',
    types: { mysql: 'TINYINT (but TINYINT(1)), SMALLINT, MEDIUMINT, INT, BIGINT, YEAR (1901–2155); UNSIGNED ranges', postgres: 'smallint, integer, bigint', sqlite: 'declared type containing INT (64-bit range)', cassandra: 'tinyint, smallint, int, bigint, varint, counter', oracle: 'NUMBER(p,0), INTEGER', snowflake: 'NUMBER(p,0), INT and its synonyms' },
  },
  {
    family: 'decimal', accepts: 'plain decimal numbers: digits, an optional leading `-`, at most one decimal point; no spaces, `+`, leading zeros or exponent; refused when they have more digits after the point than the column\'s scale, or more before it than precision − scale (the database would round or refuse)', writes: 'the number as given (the database may print it with trailing zeros up to its scale)',
    types: { mysql: 'DECIMAL(p,s), NUMERIC(p,s)', postgres: 'numeric, numeric(p,s)', sqlite: 'declared type containing NUMERIC or DECIMAL (stored as REAL when it has a fraction)', cassandra: 'decimal', oracle: 'NUMBER(p,s) with s ≠ 0, NUMBER, FLOAT(b)', snowflake: 'NUMBER(p,s) with s ≠ 0' },
  },
  {
    family: 'float', accepts: 'decimal or exponent notation (`1.5`, `-2.5E-3`, `.5`); `inf`, `infinity` and `nan` where the database has them; no spaces', writes: 'the nearest floating-point value (inherent to the type: `verify` compares as numbers)',
    types: { mysql: 'FLOAT, DOUBLE, REAL', postgres: 'real, double precision', sqlite: 'declared type containing REAL, FLOA or DOUB', cassandra: 'float, double', oracle: 'BINARY_FLOAT, BINARY_DOUBLE', snowflake: 'FLOAT, DOUBLE, REAL' },
  },
  {
    family: 'boolean', accepts: '`true`/`false`, `t`/`f`, `1`/`0`, `yes`/`no`, `y`/`n`, `on`/`off`, in any case; no spaces', writes: 'true or false (1 or 0 where the type is a number)',
    types: { mysql: 'BOOLEAN (= TINYINT(1))', postgres: 'boolean', sqlite: 'declared type containing BOOL (stored as 1 or 0)', cassandra: 'boolean', oracle: 'BOOLEAN (23ai)', snowflake: 'BOOLEAN' },
  },
  {
    family: 'date', accepts: '`YYYY-MM-DD`, a real calendar date', writes: 'the date',
    types: { mysql: 'DATE', postgres: 'date', sqlite: 'declared type containing DATE but not DATETIME (stored as the text)', cassandra: 'date', snowflake: 'DATE' },
  },
  {
    family: 'timestamp', accepts: '`YYYY-MM-DD[ HH:MM[:SS[.fraction]]]`, `T` or a space between date and time, and an optional zone `Z`, `+HH`, `+HHMM` or `+HH:MM`; refused when it has more fractional-second digits (other than trailing zeros) than the column keeps', writes: 'into a column without a zone: the same instant in UTC, `YYYY-MM-DD HH:MM:SS[.fraction]` (a value without a zone is taken as UTC); into a column with a zone: the value as given',
    types: { mysql: 'DATETIME(n), TIMESTAMP(n) (the session runs in UTC)', postgres: 'timestamp(n), timestamptz(n) (with zone)', sqlite: 'declared type containing DATETIME or TIMESTAMP (stored as the UTC text; no precision limit)', cassandra: 'timestamp (milliseconds, with zone)', oracle: 'DATE (whole seconds), TIMESTAMP(n), TIMESTAMP(n) WITH TIME ZONE (with zone)', snowflake: 'TIMESTAMP_NTZ, DATETIME; TIMESTAMP_TZ and TIMESTAMP_LTZ (with zone)' },
  },
  {
    family: 'time', accepts: '`HH:MM[:SS[.fraction]]`; refused when it has more fractional-second digits than the column keeps', writes: 'the time',
    types: { mysql: 'TIME(n)', postgres: 'time(n), timetz(n)', cassandra: 'time', snowflake: 'TIME' },
  },
  {
    family: 'json', accepts: 'valid JSON', writes: 'the JSON (the database may re-space or reorder it: `verify` compares it parsed)',
    types: { mysql: 'JSON', postgres: 'json, jsonb', oracle: 'JSON', snowflake: 'VARIANT, OBJECT, ARRAY' },
  },
  {
    family: 'uuid', accepts: 'a UUID in 8-4-4-4-12 hex form, any case (a UUID key column: lower case only)', writes: 'the UUID',
    types: { postgres: 'uuid', cassandra: 'uuid, timeuuid' },
  },
  {
    family: 'binary', accepts: 'any text', writes: 'the bytes of its UTF-8 encoding',
    types: { mysql: 'BINARY, VARBINARY, BLOB types', postgres: 'bytea', cassandra: 'blob', oracle: 'RAW, BLOB', snowflake: 'BINARY, VARBINARY' },
  },
];

/** What an empty string (`HSET k f ""`) is, per database: text is the one type that has it. */
export const EMPTY_STRING: Readonly<Record<Dialect, string>> = {
  mysql: 'an empty string in text and binary columns; refused in every other type',
  postgres: 'an empty string in text and binary columns; refused in every other type',
  sqlite: 'an empty string in text columns; refused in every other type',
  cassandra: 'an empty string in text and blob columns; refused in every other type',
  oracle: 'NULL in text columns (Oracle stores the empty string as NULL, so `verify` reports such a field as differing); refused in every other type',
  snowflake: 'an empty string in text and binary columns; refused in every other type',
};

/** A column type of each live-tested database for each family the cases cover. */
/** The databases the cases run against live. */
export type LiveDialect = 'mysql' | 'postgres' | 'sqlite' | 'cassandra';

export const CASE_COLUMN_TYPES: Readonly<Record<'text' | 'integer' | 'decimal' | 'float' | 'boolean' | 'date' | 'timestamp', Readonly<Record<LiveDialect, string>>>> = {
  text: { mysql: 'VARCHAR(5)', postgres: 'varchar(5)', sqlite: 'VARCHAR(5)', cassandra: 'text' },
  integer: { mysql: 'INT', postgres: 'integer', sqlite: 'INTEGER', cassandra: 'int' },
  decimal: { mysql: 'DECIMAL(5,2)', postgres: 'numeric(5,2)', sqlite: 'DECIMAL(5,2)', cassandra: 'decimal' },
  float: { mysql: 'DOUBLE', postgres: 'double precision', sqlite: 'REAL', cassandra: 'double' },
  boolean: { mysql: 'BOOLEAN', postgres: 'boolean', sqlite: 'BOOLEAN', cassandra: 'boolean' },
  date: { mysql: 'DATE', postgres: 'date', sqlite: 'DATE', cassandra: 'date' },
  timestamp: { mysql: 'DATETIME', postgres: 'timestamp(0)', sqlite: 'DATETIME', cassandra: 'timestamp' },
};

/** One case: a value for a column of the family's case type, and what the row then holds (null: refused). */
export interface ConversionCase {
  readonly family: keyof typeof CASE_COLUMN_TYPES;
  readonly input: string;
  readonly stored: string | null;
  /** Only these databases (their column types differ in what the case tests). */
  readonly only?: readonly LiveDialect[];
}

const c = (family: ConversionCase['family'], input: string, stored: string | null, only?: ConversionCase['only']): ConversionCase => ({ family, input, stored, ...(only ? { only } : {}) });
// Cassandra's text has no length limit, its decimal no precision, its timestamp keeps milliseconds.
const BOUNDED: readonly LiveDialect[] = ['mysql', 'postgres', 'sqlite'];

export const CONVERSION_CASES: readonly ConversionCase[] = [
  c('text', 'abcde', 'abcde'), c('text', ' ab ', ' ab '), c('text', '', ''), c('text', 'äöüßé', 'äöüßé'), c('text', 'abcdef', null, BOUNDED),
  c('integer', '42', '42'), c('integer', '-7', '-7'), c('integer', '0', '0'), c('integer', '1.5', null), c('integer', '1e3', null),
  c('integer', ' 42 ', null), c('integer', '42 ', null), c('integer', '01', null), c('integer', '+1', null), c('integer', '-0', null),
  c('integer', '', null), c('integer', 'abc', null), c('integer', '2147483648', null, ['mysql', 'postgres', 'cassandra']),
  c('decimal', '123.45', '123.45'), c('decimal', '-0.5', '-0.5'), c('decimal', '7', '7'), c('decimal', '123.456', null, BOUNDED), c('decimal', '1234.5', null, BOUNDED),
  c('decimal', '1e2', null), c('decimal', ' 1.5', null), c('decimal', '.5', null), c('decimal', '1.', null), c('decimal', '007', null), c('decimal', '', null),
  c('float', '1.5', '1.5'), c('float', '1e3', '1000'), c('float', '-2.5E-3', '-0.0025'), c('float', 'abc', null), c('float', ' 1', null), c('float', '', null),
  c('boolean', 'true', 'true'), c('boolean', 'yes', 'true'), c('boolean', '1', 'true'), c('boolean', 'ON', 'true'), c('boolean', 'false', 'false'),
  c('boolean', 'no', 'false'), c('boolean', '0', 'false'), c('boolean', 'maybe', null), c('boolean', ' true', null), c('boolean', '2', null), c('boolean', '', null),
  c('date', '2024-02-29', '2024-02-29'), c('date', '2024-02-30', null), c('date', '2024-2-3', null), c('date', '2024-02-28T00:00:00', null), c('date', '', null),
  c('timestamp', '2024-02-28 10:00:00', '2024-02-28 10:00:00'), c('timestamp', '2024-02-28T10:00:00', '2024-02-28 10:00:00'),
  c('timestamp', '2024-02-28T10:00:00Z', '2024-02-28 10:00:00'), c('timestamp', '2024-02-28T12:30:00+02:30', '2024-02-28 10:00:00'),
  c('timestamp', '2024-02-28T05:00:00-05:00', '2024-02-28 10:00:00'), c('timestamp', '2024-02-29T01:00:00+0300', '2024-02-28 22:00:00'),
  c('timestamp', '2024-02-28', '2024-02-28 00:00:00'), c('timestamp', '2024-02-28 10:00:00.000', '2024-02-28 10:00:00'),
  c('timestamp', '2024-02-28 10:00:00.5', null, ['mysql', 'postgres']), c('timestamp', '2024-02-28 10:00:00.1234', null, ['cassandra']), c('timestamp', '2024-02-30 10:00:00', null), c('timestamp', '2024-02-28 24:00:00', null),
  c('timestamp', 'yesterday', null), c('timestamp', '', null),
];

/** docs/conversions.md's generated part, from the rules above. */
export function renderConversionDocs(): string {
  const dialects = Object.keys(DIALECT_NAMES) as Dialect[];
  const esc = (s: string): string => s.replaceAll('|', '\\|');
  const out: string[] = [];
  out.push('| type family | accepts | writes |', '|---|---|---|');
  for (const r of CONVERSION_RULES) out.push(`| ${r.family} | ${esc(r.accepts)} | ${esc(r.writes)} |`);
  for (const d of dialects) {
    out.push('', `### ${DIALECT_NAMES[d]}`, '', '| column types | family |', '|---|---|');
    for (const r of CONVERSION_RULES) if (r.types[d]) out.push(`| ${esc(r.types[d] as string)} | ${r.family} |`);
    out.push('', `Any other type: the value is passed as text and the database converts it. An empty string is ${EMPTY_STRING[d]}.`);
  }
  out.push('', '### The cases every live connector is tested with', '', '| family | column (MySQL / PostgreSQL / SQLite / Cassandra) | value | the row holds |', '|---|---|---|---|');
  for (const k of CONVERSION_CASES) {
    const t = CASE_COLUMN_TYPES[k.family];
    // Leading and trailing spaces shown as ·, so they can be seen.
    const show = (v: string): string => (v === '' ? '(empty)' : `\`${v.replace(/^ +| +$/g, (m) => '·'.repeat(m.length))}\``);
    const held = k.stored === null ? 'refused (dead letter)' : show(k.stored);
    const shown = show(k.input);
    out.push(`| ${k.family} | ${t.mysql} / ${t.postgres} / ${t.sqlite} / ${t.cassandra} | ${shown} | ${held}${k.only ? ` (${k.only.map((o) => DIALECT_NAMES[o]).join(', ')} only)` : ''} |`);
  }
  return `${out.join('\n')}\n`;
}
