import type { DbValue, RowWrite } from '../../writer/plan.ts';
import type { TableShape, WriteBatch } from '../types.ts';

/** Quotes a column name. */
export function quoteId(name: string): string {
  return '`' + name.replace(/`/g, '``') + '`';
}

/** Quotes a table name; `db.table` is quoted per part. */
export function quoteTable(name: string): string {
  return name.split('.').map(quoteId).join('.');
}

/** A statement with its positional parameters. */
export interface Statement {
  readonly sql: string;
  readonly params: readonly DbValue[];
}

/** Multi-row upsert and delete for one batch; pure, so the SQL can be asserted in tests. */
export function mysqlStatements(batch: WriteBatch): Statement[] {
  const upserts = batch.rows.filter((r): r is Extract<RowWrite, { op: 'upsert' }> => r.op === 'upsert');
  const deletes = batch.rows.filter((r) => r.op === 'delete');
  const out: Statement[] = [];
  if (upserts.length) {
    const cols = [batch.pkColumn, ...batch.columns];
    const tuple = `(${cols.map(() => '?').join(',')})`;
    const update = batch.columns.map((c) => `${quoteId(c)}=VALUES(${quoteId(c)})`).join(',');
    // The hot path of every batch: plain loops, no intermediate arrays.
    const params: DbValue[] = new Array(upserts.length * cols.length);
    let k = 0;
    for (const r of upserts) {
      params[k++] = r.id;
      for (const v of r.values) params[k++] = v;
    }
    out.push({
      sql: `INSERT INTO ${quoteTable(batch.table)} (${cols.map(quoteId).join(',')}) VALUES ${`${tuple},`.repeat(upserts.length - 1)}${tuple} ON DUPLICATE KEY UPDATE ${update}`,
      params,
    });
  }
  if (deletes.length) {
    out.push({
      sql: `DELETE FROM ${quoteTable(batch.table)} WHERE ${quoteId(batch.pkColumn)} IN (${deletes.map(() => '?').join(',')})`,
      params: deletes.map((r) => r.id),
    });
  }
  return out;
}

/** Reads rows by primary key, every value cast to text so it compares with Redis's strings. */
export function mysqlReadRows(t: TableShape, ids: readonly string[]): Statement {
  const cols = [t.pkColumn, ...t.columns].map((c) => `CAST(${quoteId(c)} AS CHAR) AS ${quoteId(c)}`).join(',');
  return { sql: `SELECT ${cols} FROM ${quoteTable(t.table)} WHERE ${quoteId(t.pkColumn)} IN (${ids.map(() => '?').join(',')})`, params: ids };
}

/** Keyset pagination over the primary key. */
export function mysqlScanIds(t: TableShape, after: string | undefined, limit: number): Statement {
  const pk = quoteId(t.pkColumn);
  const where = after === undefined ? '' : ` WHERE ${pk} > ?`;
  return { sql: `SELECT CAST(${pk} AS CHAR) AS id FROM ${quoteTable(t.table)}${where} ORDER BY ${pk} LIMIT ${Math.floor(limit)}`, params: after === undefined ? [] : [after] };
}
