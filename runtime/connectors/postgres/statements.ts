import type { DbValue, RowWrite } from '../../writer/plan.ts';
import type { TableShape, WriteBatch } from '../types.ts';

/** The most bind parameters one PostgreSQL statement can carry (the protocol counts them in 16 bits). */
export const PG_MAX_PARAMS = 65_535;

/** Quotes an identifier with double quotes, doubling embedded ones. */
export function quoteId(name: string): string {
  return '"' + name.replace(/"/g, '""') + '"';
}

/** Quotes a table name; `schema.table` is quoted per part (split at the first dot). */
export function quoteTable(name: string): string {
  const dot = name.indexOf('.');
  return dot === -1 ? quoteId(name) : `${quoteId(name.slice(0, dot))}.${quoteId(name.slice(dot + 1))}`;
}

/** A bound value: a converted column value, a Buffer for bytea, or an array bound as one `ANY($n)` parameter. */
export type PgParam = DbValue | Buffer | readonly string[];

/** A statement with its `$n` parameters. */
export interface Statement {
  readonly sql: string;
  readonly params: readonly PgParam[];
}

type Upsert = Extract<RowWrite, { op: 'upsert' }>;

/** How {@link pgStatements} binds a batch. */
export interface PgWriteOptions {
  /** Most parameters per statement; defaults to {@link PG_MAX_PARAMS}. */
  readonly maxParams?: number;
  /**
   * Mapped columns (by position in `columns`) of type bytea: their text is bound as its UTF-8
   * bytes, since a string would be parsed as bytea's escape syntax (backslashes, `\x` hex).
   */
  readonly binary?: ReadonlySet<number>;
}

/**
 * Multi-row `INSERT ... ON CONFLICT DO UPDATE` and one `DELETE ... = ANY($1)` for one batch;
 * pure, so the SQL can be asserted in tests. Upserts are split so that no statement binds more
 * than `maxParams` parameters; the caller runs them all in one transaction.
 */
export function pgStatements(batch: WriteBatch, options: PgWriteOptions = {}): Statement[] {
  const maxParams = options.maxParams ?? PG_MAX_PARAMS;
  const binary = options.binary ?? new Set<number>();
  const bind = (v: DbValue, i: number): PgParam => (binary.has(i) && typeof v === 'string' ? Buffer.from(v, 'utf8') : v);
  const upserts = batch.rows.filter((r): r is Upsert => r.op === 'upsert');
  const deletes = batch.rows.filter((r) => r.op === 'delete');
  const table = quoteTable(batch.table);
  const pk = quoteId(batch.pkColumn);
  const out: Statement[] = [];
  const width = batch.columns.length + 1;
  const perStatement = Math.max(1, Math.floor(maxParams / width));
  // With no mapped column there is nothing to update, only rows to create.
  const onConflict = batch.columns.length
    ? `DO UPDATE SET ${batch.columns.map((c) => `${quoteId(c)}=EXCLUDED.${quoteId(c)}`).join(',')}`
    : 'DO NOTHING';
  const head = `INSERT INTO ${table} (${[batch.pkColumn, ...batch.columns].map(quoteId).join(',')}) VALUES `;
  for (let start = 0; start < upserts.length; start += perStatement) {
    const chunk = upserts.slice(start, start + perStatement);
    const tuples = chunk.map((_, i) => `(${Array.from({ length: width }, (_, j) => `$${i * width + j + 1}`).join(',')})`);
    out.push({
      sql: `${head}${tuples.join(',')} ON CONFLICT (${pk}) ${onConflict}`,
      params: chunk.flatMap((r) => [r.id, ...r.values.map(bind)]),
    });
  }
  // One array parameter, whatever the number of ids: no chunking needed.
  if (deletes.length) out.push({ sql: `DELETE FROM ${table} WHERE ${pk} = ANY($1)`, params: [deletes.map((r) => r.id)] });
  return out;
}

/**
 * Reads rows by primary key, every value cast to text so it compares with Redis's strings;
 * `raw` columns (bytea) are read as bytes for the caller to decode, since `::text` would give hex.
 */
export function pgReadRows(t: TableShape, ids: readonly string[], raw: ReadonlySet<string> = new Set()): Statement {
  const cols = [t.pkColumn, ...t.columns].map((c) => (raw.has(c) ? `${quoteId(c)}` : `${quoteId(c)}::text AS ${quoteId(c)}`)).join(',');
  // Comparing the column itself (not its text) lets the primary-key index serve the lookup.
  return { sql: `SELECT ${cols} FROM ${quoteTable(t.table)} WHERE ${quoteId(t.pkColumn)} = ANY($1)`, params: [ids] };
}

/** The alias {@link pgScanIds} gives the key's text; never the key column's own name. */
export const SCAN_ID = 'id_text';

/**
 * Keyset pagination over the primary key, in the column's own order: the key is ordered and
 * compared as the table's column (qualified: a bare `ORDER BY "id"` would resolve to an output
 * column of that name, the text), and `$1` takes the column's type by inference, so the cursor
 * compares as an integer for an integer key and in the column's collation for text.
 */
export function pgScanIds(t: TableShape, after: string | undefined, limit: number): Statement {
  const key = `"t".${quoteId(t.pkColumn)}`;
  const where = after === undefined ? '' : ` WHERE ${key} > $1`;
  return {
    sql: `SELECT ${key}::text AS ${quoteId(SCAN_ID)} FROM ${quoteTable(t.table)} AS "t"${where} ORDER BY ${key} LIMIT ${Math.floor(limit)}`,
    params: after === undefined ? [] : [after],
  };
}
