import type { ColumnInfo, TableInfo, TypeFamily } from '../types.ts';

/** system_schema.columns rows, as the describe query returns them. */
export interface CassandraColumnRow {
  readonly column_name: string;
  /** `partition_key`, `clustering`, `regular` or `static`. */
  readonly kind: string;
  /** Position within the partition key or the clustering columns; -1 for the others. */
  readonly position: number;
  /** CQL type as Cassandra spells it, e.g. `text`, `frozen<list<int>>`. */
  readonly type: string;
}

// Bounded integer types: the conversion refuses what does not fit, naming the range.
const INT_BITS: Record<string, number> = { tinyint: 8, smallint: 16, int: 32, bigint: 64, counter: 64 };

const FAMILIES: Record<string, TypeFamily> = {
  ascii: 'text', text: 'text', varchar: 'text',
  varint: 'integer',
  decimal: 'decimal',
  float: 'float', double: 'float',
  boolean: 'boolean',
  date: 'date',
  timestamp: 'timestamp',
  time: 'time',
  uuid: 'uuid', timeuuid: 'uuid',
  blob: 'binary',
};

/**
 * Maps a CQL type to its conversion family. Pure. Collections, tuples, user types, vectors,
 * `inet` and `duration` are `other`: their text goes to the driver as it is.
 */
export function cassandraColumn(row: Pick<CassandraColumnRow, 'column_name' | 'type'>): ColumnInfo {
  const t = row.type.trim().toLowerCase();
  const base = { name: row.column_name, type: row.type };
  const bits = INT_BITS[t];
  if (bits !== undefined) {
    const half = 1n << BigInt(bits - 1);
    return { ...base, family: 'integer', min: -half, max: half - 1n };
  }
  // A timestamp is an instant kept to the millisecond (an offset is applied, none means UTC).
  if (t === 'timestamp') return { ...base, family: 'timestamp', fraction: 3, zoned: true };
  if (t === 'time') return { ...base, family: 'time', fraction: 9 };
  return { ...base, family: FAMILIES[t] ?? 'other' };
}

const KIND_ORDER: Record<string, number> = { partition_key: 0, clustering: 1 };

/**
 * A table from its system_schema.columns rows (none: it does not exist). The primary key is the
 * partition key then the clustering columns, each in position order; Cassandra text has no
 * length limit, so no column has a `maxLength`.
 */
export function cassandraTable(rows: readonly CassandraColumnRow[]): TableInfo {
  const key = rows
    .filter((r) => KIND_ORDER[r.kind] !== undefined)
    .sort((a, b) => (KIND_ORDER[a.kind] as number) - (KIND_ORDER[b.kind] as number) || a.position - b.position);
  return {
    exists: rows.length > 0,
    columns: new Map(rows.map((r) => [r.column_name.toLowerCase(), cassandraColumn(r)])),
    primaryKey: key.map((r) => r.column_name),
  };
}

/**
 * The name Cassandra knows for `wanted` among `names`: the exact name, else its lower-case form
 * (an unquoted CQL identifier), else the only name equal ignoring case.
 */
export function resolveName(wanted: string, names: readonly string[]): string | undefined {
  if (names.includes(wanted)) return wanted;
  const lower = wanted.toLowerCase();
  if (names.includes(lower)) return lower;
  const matches = names.filter((n) => n.toLowerCase() === lower);
  return matches.length === 1 ? matches[0] : undefined;
}

/** `keyspace.table` split, with the connection's keyspace when the name has none. */
export function splitTableName(table: string, defaultKeyspace: string): { keyspace: string; table: string } {
  const dot = table.indexOf('.');
  return dot === -1 ? { keyspace: defaultKeyspace, table } : { keyspace: table.slice(0, dot), table: table.slice(dot + 1) };
}
