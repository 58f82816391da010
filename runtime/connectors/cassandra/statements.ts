import type { DbValue, RowWrite } from '../../writer/plan.ts';

/** Quotes an identifier: double quotes keep its case (Cassandra lower-cases unquoted names). */
export function quoteId(name: string): string {
  return '"' + name.replace(/"/g, '""') + '"';
}

/** A table as Cassandra names it (both parts resolved against system_schema). */
export interface CqlTable {
  readonly keyspace: string;
  readonly table: string;
  /** The partition-key column. */
  readonly pkColumn: string;
}

/** `"keyspace"."table"`. */
export function quoteTable(t: CqlTable): string {
  return `${quoteId(t.keyspace)}.${quoteId(t.table)}`;
}

/** A CQL statement with its positional parameters (before conversion to driver types). */
export interface CqlStatement {
  readonly query: string;
  readonly params: readonly DbValue[];
}

/**
 * The upsert of one row: an `INSERT` of the key and the mapped columns only. In Cassandra an
 * INSERT is an upsert that leaves unlisted columns alone (like `UPDATE ... SET`), and it also
 * writes the row marker, so a row whose mapped values are all NULL still exists (with UPDATE it
 * would vanish). A NULL value is a tombstone for that column, which is what a missing field means.
 */
export function cassandraUpsert(t: CqlTable, columns: readonly string[]): string {
  const cols = [t.pkColumn, ...columns];
  return `INSERT INTO ${quoteTable(t)} (${cols.map(quoteId).join(',')}) VALUES (${cols.map(() => '?').join(',')})`;
}

/** The delete of one partition. */
export function cassandraDelete(t: CqlTable): string {
  return `DELETE FROM ${quoteTable(t)} WHERE ${quoteId(t.pkColumn)}=?`;
}

/**
 * One statement per row, in batch order; pure, so the CQL can be asserted in tests. The rows of a
 * batch are different partitions (one row per key), so they are not put in a (logged) BATCH: the
 * session runs them concurrently.
 */
export function cassandraStatements(t: CqlTable, columns: readonly string[], rows: readonly RowWrite[]): CqlStatement[] {
  const upsert = cassandraUpsert(t, columns);
  const del = cassandraDelete(t);
  return rows.map((r) => (r.op === 'upsert' ? { query: upsert, params: [r.id, ...r.values] } : { query: del, params: [r.id] }));
}

/** Reads one row by its key. */
export function cassandraReadRow(t: CqlTable, columns: readonly string[]): string {
  return `SELECT ${[t.pkColumn, ...columns].map(quoteId).join(',')} FROM ${quoteTable(t)} WHERE ${quoteId(t.pkColumn)}=?`;
}

/**
 * Up to `limit` keys in token order, after the partition of `after` when given. Cassandra cannot
 * range-scan partitions by key value, but token order is a total, stable order of partitions
 * (Murmur3), so `token(pk) > token(?)` with the last key returned pages through the whole table.
 */
export function cassandraScanIds(t: CqlTable, after: string | undefined, limit: number): CqlStatement {
  const pk = quoteId(t.pkColumn);
  const where = after === undefined ? '' : ` WHERE token(${pk}) > token(?)`;
  return { query: `SELECT ${pk} FROM ${quoteTable(t)}${where} LIMIT ${Math.max(1, Math.floor(limit))}`, params: after === undefined ? [] : [after] };
}
