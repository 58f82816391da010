import type { DbValue, RowWrite } from '../../writer/plan.ts';
import type { ColumnInfo, StatementLimit, TableShape, WriteBatch } from '../types.ts';

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

/** What mysql2 escapes in a string literal, each character into two. */
const ESCAPED = /[\0\b\t\n\r\x1a"'\\]/g;

/** Bytes of `v` as mysql2 writes it into the SQL text: an upper bound when not `exact`. */
function valueBytes(v: DbValue, exact: boolean): number {
  if (typeof v !== 'string') return v === null ? 4 : String(v).length;
  // Cheap: a UTF-16 unit is at most 3 bytes of UTF-8, doubled if escaped, plus the quotes.
  if (!exact) return v.length * 6 + 2;
  return Buffer.byteLength(v) + (v.match(ESCAPED)?.length ?? 0) + 2;
}

/**
 * MySQL's limit on one statement (`max_allowed_packet`, in bytes): a statement larger than it
 * makes the server close the connection. Sizes are those of the SQL text mysql2 sends, values
 * escaped into it. Undefined when the server gave no usable value.
 */
export function mysqlStatementLimit(maxAllowedPacket: number): StatementLimit | undefined {
  if (!Number.isFinite(maxAllowedPacket) || maxAllowedPacket <= 0) return undefined;
  return {
    maxBytes: maxAllowedPacket,
    setting: 'max_allowed_packet',
    // The upsert's text with one row of placeholders (a little more than its rows-apart text),
    // plus the command byte of the packet.
    baseBytes: (shape) => {
      const [upsert] = mysqlStatements({ ...shape, rows: [{ op: 'upsert', key: '', id: '', acks: [], values: shape.columns.map(() => null), fields: new Map() }] });
      return Buffer.byteLength(upsert?.sql ?? '') + 1;
    },
    // `(id,v1,...),`: the id and each value with its comma, the parentheses.
    rowBytes: (row, exact) => {
      let n = 3 + valueBytes(row.id, exact);
      if (row.op === 'upsert') for (const v of row.values) n += 1 + valueBytes(v, exact);
      return n;
    },
  };
}

/** Reads rows by primary key, every value cast to text so it compares with Redis's strings. */
export function mysqlReadRows(t: TableShape, ids: readonly string[]): Statement {
  const cols = [t.pkColumn, ...t.columns].map((c) => `CAST(${quoteId(c)} AS CHAR) AS ${quoteId(c)}`).join(',');
  return { sql: `SELECT ${cols} FROM ${quoteTable(t.table)} WHERE ${quoteId(t.pkColumn)} IN (${ids.map(() => '?').join(',')})`, params: ids };
}

/** The alias {@link mysqlScanIds} gives the key's text; never the key column's own name. */
export const SCAN_ID = 'id_text';

/**
 * The cursor of {@link mysqlScanIds} as a value of the key column's own type: the text of an
 * integer or decimal key compared as that number exactly (never as a double, never as text).
 * Other types need no cast: a temporal column converts a constant to its type, and text compares
 * in the column's collation (the literal's is coercible).
 */
export function mysqlScanCursor(pk: ColumnInfo | undefined): string {
  if (pk?.family === 'integer') return /unsigned/i.test(pk.type) ? 'CAST(? AS UNSIGNED)' : 'CAST(? AS SIGNED)';
  if (pk?.family === 'decimal') {
    const m = /\(\s*(\d+)\s*,\s*(\d+)\s*\)/.exec(pk.type);
    return m ? `CAST(? AS DECIMAL(${m[1]},${m[2]}))` : 'CAST(? AS DECIMAL(65,30))';
  }
  return '?';
}

/**
 * Keyset pagination over the primary key, in the column's own order: the key is ordered and
 * compared as the table's column (qualified, so `ORDER BY` can never resolve to the text form,
 * which is selected under another alias), and the cursor is a value of the column's type. Ordering
 * by the text would page integers as '1' < '10' < '2' and text in the connection's collation, not
 * the column's, skipping and repeating rows.
 */
export function mysqlScanIds(t: TableShape, after: string | undefined, limit: number, pk?: ColumnInfo): Statement {
  const key = `\`t\`.${quoteId(t.pkColumn)}`;
  const where = after === undefined ? '' : ` WHERE ${key} > ${mysqlScanCursor(pk)}`;
  return {
    sql: `SELECT CAST(${key} AS CHAR) AS ${quoteId(SCAN_ID)} FROM ${quoteTable(t.table)} AS \`t\`${where} ORDER BY ${key} LIMIT ${Math.floor(limit)}`,
    params: after === undefined ? [] : [after],
  };
}
