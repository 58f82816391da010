import type { ColumnInfo, TableInfo, TypeFamily } from '../types.ts';

/** information_schema rows, as {@link PG_DESCRIBE_SQL} returns them. */
export interface PgColumnRow {
  readonly table_schema: string;
  readonly table_name: string;
  readonly column_name: string;
  readonly data_type: string;
  readonly character_maximum_length: number | string | null;
  readonly numeric_precision: number | string | null;
  readonly numeric_scale: number | string | null;
  /** Position in the primary key (1-based), null when the column is not part of it. */
  readonly pk_position: number | string | null;
  readonly datetime_precision?: number | string | null;
  /** The column's own collation, null for the database default. */
  readonly collation_name?: string | null;
  /** True when that collation is nondeterministic (case- or accent-insensitive ICU). */
  readonly nondeterministic?: boolean | null;
  /** The type's own name (`citext` for a USER-DEFINED data_type). */
  readonly udt_name?: string | null;
}

/**
 * Describes a table: $1 is the schema (null: `current_schema()`), $2 the table. A name is also
 * looked up lower-cased, as PostgreSQL folds unquoted names, so that a recipe spelling `Persons`
 * finds a table created as `CREATE TABLE Persons`; {@link pgTable} prefers the exact spelling.
 */
export const PG_DESCRIBE_SQL = `SELECT c.table_schema, c.table_name, c.column_name, c.data_type, c.character_maximum_length,
       c.numeric_precision, c.numeric_scale, k.ordinal_position AS pk_position, c.datetime_precision, c.collation_name, c.udt_name,
       (SELECT NOT coll.collisdeterministic FROM pg_collation coll WHERE coll.collname = c.collation_name
         AND coll.collnamespace = (SELECT oid FROM pg_namespace WHERE nspname = c.collation_schema) LIMIT 1) AS nondeterministic
FROM information_schema.columns c
LEFT JOIN information_schema.table_constraints tc
  ON tc.table_schema = c.table_schema AND tc.table_name = c.table_name AND tc.constraint_type = 'PRIMARY KEY'
LEFT JOIN information_schema.key_column_usage k
  ON k.constraint_schema = tc.constraint_schema AND k.constraint_name = tc.constraint_name
 AND k.table_schema = c.table_schema AND k.table_name = c.table_name AND k.column_name = c.column_name
WHERE c.table_schema IN (COALESCE($1::text, current_schema()), lower($1::text))
  AND c.table_name IN ($2::text, lower($2::text))
ORDER BY c.table_schema, c.table_name, c.ordinal_position`;

/** Splits a recipe's table name into schema (undefined: the current one) and table, at the first dot. */
export function pgSplitTable(name: string): { schema: string | undefined; table: string } {
  const dot = name.indexOf('.');
  return dot === -1 ? { schema: undefined, table: name } : { schema: name.slice(0, dot), table: name.slice(dot + 1) };
}

const INT_BITS: Record<string, number> = { smallint: 16, integer: 32, bigint: 64 };

const FAMILIES: Record<string, TypeFamily> = {
  numeric: 'decimal',
  real: 'float',
  'double precision': 'float',
  boolean: 'boolean',
  date: 'date',
  'timestamp without time zone': 'timestamp',
  'timestamp with time zone': 'timestamp',
  'time without time zone': 'time',
  'time with time zone': 'time',
  json: 'json',
  jsonb: 'json',
  uuid: 'uuid',
  'character varying': 'text',
  character: 'text',
  text: 'text',
  bytea: 'binary',
};

const num = (v: number | string | null): number | undefined => (v === null ? undefined : Number(v));

/** Maps a PostgreSQL column (information_schema `data_type`) to its conversion family. Pure. */
export function pgColumn(row: PgColumnRow): ColumnInfo {
  const t = row.data_type.toLowerCase();
  const length = num(row.character_maximum_length);
  const precision = num(row.numeric_precision);
  const scale = num(row.numeric_scale);
  const type =
    length !== undefined ? `${t}(${length})`
    : t === 'numeric' && precision !== undefined ? `numeric(${precision},${scale ?? 0})`
    : t;
  const base = { name: row.column_name, type };
  const bits = INT_BITS[t];
  if (bits !== undefined) {
    const half = 1n << BigInt(bits - 1);
    return { ...base, family: 'integer', min: -half, max: half - 1n };
  }
  // citext is text that compares case-insensitively: two ids that differ in case are one key.
  if (t === 'user-defined' && row.udt_name === 'citext') return { ...base, type: 'citext', family: 'text', inexact: 'citext compares case-insensitively' };
  const family = FAMILIES[t] ?? 'other';
  if (family === 'decimal') return { ...base, family, ...(precision === undefined ? {} : { precision, scale: scale ?? 0 }) };
  if (family === 'timestamp' || family === 'time') {
    const fraction = num(row.datetime_precision ?? null);
    return { ...base, family, ...(fraction === undefined ? {} : { fraction }), ...(t.includes('with time zone') ? { zoned: true } : {}) };
  }
  if (family !== 'text') return { ...base, family };
  const inexact = t === 'character' ? `character(n) pads values with spaces, so 'a' and 'a ' are one key`
    : row.nondeterministic === true ? `collation ${row.collation_name ?? ''} is nondeterministic (case- or accent-insensitive)`
    : undefined;
  return { ...base, family, ...(length === undefined ? {} : { maxLength: length }), ...(inexact === undefined ? {} : { inexact }) };
}

/** A described table, with the name to write to: `schema.table` as the database spells them. */
export interface PgTable {
  readonly info: TableInfo;
  /** Schema-qualified, as found; undefined when the table does not exist. */
  readonly name: string | undefined;
}

/**
 * A table from its describe rows. Rows may cover up to four spellings (exact and lower-cased
 * schema and table); the exact one wins, then the closest. No rows: it does not exist.
 */
export function pgTable(rows: readonly PgColumnRow[], requested: string): PgTable {
  const { schema, table } = pgSplitTable(requested);
  const score = (r: PgColumnRow): number => (r.table_name === table ? 2 : 0) + (schema === undefined || r.table_schema === schema ? 1 : 0);
  let best: PgColumnRow | undefined;
  for (const r of rows) if (best === undefined || score(r) > score(best)) best = r;
  if (best === undefined) return { info: { exists: false, columns: new Map(), primaryKey: [] }, name: undefined };
  const mine = rows.filter((r) => r.table_schema === best.table_schema && r.table_name === best.table_name);
  const pk = mine.filter((r) => r.pk_position !== null).sort((a, b) => Number(a.pk_position) - Number(b.pk_position));
  return {
    info: {
      exists: true,
      columns: new Map(mine.map((r) => [r.column_name.toLowerCase(), pgColumn(r)])),
      primaryKey: pk.map((r) => r.column_name),
    },
    name: `${best.table_schema}.${best.table_name}`,
  };
}
