import oracledb, { type BindDefinition, type Connection, type Metadata } from 'oracledb';
import type { OracleConnector } from '../../../recipes/connectors/oracle.ts';
import { resolveCredential } from '../../../recipes/credential.ts';
import { DEFAULT_DB_TIMEOUTS, wholeSeconds, withDeadline } from '../timeouts.ts';
import type { ColumnInfo, ConnectorDriver, ConnectorSession, DbTimeouts, FailureKind, TableInfo, TableShape, WriteBatch } from '../types.ts';
import { CommitRefused } from '../types.ts';
import { classifyOracleError, redactSecret } from './errors.ts';
import {
  oracleColumnsQuery, oracleErrorColumn, oraclePrimaryKeyQuery, oracleTable, oracleTableSql, oracleTarget, pickTable, type OracleColumnRow,
} from './metadata.ts';
import { ORACLE_SESSION_SETUP, oracleBindShapes, oracleReadRows, oracleScanIds, oracleWrite, type OracleBatch, type OracleBindShape } from './statements.ts';

/** An IN list holds at most 1,000 expressions (ORA-01795). */
const IN_LIST_MAX = 1000;

/**
 * Oracle through node-oracledb in thin mode (no Instant Client): one connection, text binds
 * read with fixed NLS formats, one transaction per batch of single-row MERGE and DELETE calls.
 */
export class OracleDriver implements ConnectorDriver {
  private readonly spec: OracleConnector;

  constructor(spec: OracleConnector) {
    this.spec = spec;
  }

  describe(): string {
    return this.spec.describe();
  }

  classify(err: unknown): FailureKind {
    return classifyOracleError(err);
  }

  columnOf(err: unknown): string | undefined {
    return err instanceof Error ? oracleErrorColumn(err.message) : undefined;
  }

  async connect(table: string, timeouts: DbTimeouts = DEFAULT_DB_TIMEOUTS): Promise<ConnectorSession> {
    const c = this.spec.connection;
    // Read at every connect: the credentials may have been rotated since the last one.
    const user = await resolveCredential(c.user, 'OracleConnection user');
    const password = await resolveCredential(c.password, 'OracleConnection password');
    let conn: Connection;
    try {
      // node-oracledb's own limits are in whole seconds: the whole connect and its TCP part.
      const limit = wholeSeconds(timeouts.connectTimeoutMs);
      // Through the module object at call time, so a test can replace just this call.
      conn = await withDeadline(timeouts.connectTimeoutMs,
        () => oracledb.getConnection({ user, password, connectString: c.connectString, connectTimeout: limit, transportConnectTimeout: limit }),
        { late: (late) => void late.close().catch(() => undefined) });
    } catch (err) {
      throw redactSecret(err, password);
    }
    const opened = conn;
    try {
      // Any single round trip longer than this is a lost connection (NJS-123), not a slow one.
      opened.callTimeout = timeouts.queryTimeoutMs;
      return await withDeadline(timeouts.queryTimeoutMs, async () => {
        await opened.execute(ORACLE_SESSION_SETUP);
        const q = oracleColumnsQuery(table);
        const found = await opened.execute<OracleColumnRow>(q.sql, [...q.binds], { outFormat: oracledb.OUT_FORMAT_OBJECT });
        const rows = pickTable(found.rows ?? [], table);
        const first = rows[0];
        let primaryKey: string[] = [];
        if (first !== undefined) {
          const p = oraclePrimaryKeyQuery(first.OWNER, first.TABLE_NAME);
          const pk = await opened.execute<{ COLUMN_NAME: string }>(p.sql, [...p.binds], { outFormat: oracledb.OUT_FORMAT_OBJECT });
          primaryKey = (pk.rows ?? []).map((r) => r.COLUMN_NAME);
        }
        return new OracleSession(opened, oracleTable(rows, primaryKey), oracleTableSql(rows, table), timeouts.queryTimeoutMs);
      }, { expire: () => void opened.close().catch(() => undefined) });
    } catch (err) {
      // Not waited for: after an expiry the close may wait on the silent server.
      void opened.close().catch(() => undefined);
      throw redactSecret(err, password);
    }
  }
}

/** The node-oracledb bind definition for a bind shape. */
function bindDef(shape: OracleBindShape): BindDefinition {
  switch (shape.kind) {
    case 'clob': return { type: oracledb.DB_TYPE_CLOB };
    case 'nclob': return { type: oracledb.DB_TYPE_NCLOB };
    case 'blob': return { type: oracledb.DB_TYPE_BLOB };
    case 'raw': return { type: oracledb.DB_TYPE_RAW, maxSize: shape.maxSize };
    default: return { type: oracledb.DB_TYPE_VARCHAR, maxSize: shape.maxSize };
  }
}

/** Every fetched value as text, formatted by the session's NLS settings; bytes as bytes (decoded below). */
function fetchAsText(meta: Metadata): { type: typeof oracledb.STRING } {
  const t = meta.dbType;
  const bytes = t === oracledb.DB_TYPE_RAW || t === oracledb.DB_TYPE_LONG_RAW || t === oracledb.DB_TYPE_BLOB;
  return { type: bytes ? oracledb.BUFFER : oracledb.STRING };
}

/** A fetched value as the text Redis would hold: binary columns hold the bytes of the text. */
function asText(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  return Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
}

class OracleSession implements ConnectorSession {
  private readonly conn: Connection;
  readonly table: TableInfo;
  /** The quoted table name, as the dictionary spells it. */
  private readonly tableSql: string;
  private readonly queryTimeoutMs: number;
  broken = false;
  /** Set once a call got no answer in time: the connection is being closed already. */
  private destroyed = false;
  // Values arrive converted by the writer, which names field and column when one does not fit.

  constructor(
    conn: Connection,
    table: TableInfo,
    tableSql: string,
    queryTimeoutMs: number,
  ) {
    this.conn = conn;
    this.table = table;
    this.tableSql = tableSql;
    this.queryTimeoutMs = queryTimeoutMs;
  }

  async write(batch: WriteBatch): Promise<void> {
    const t = oracleTarget(this.table, this.tableSql, batch);
    const { merge, delete: del } = oracleWrite(t, batch.rows);
    // The whole batch, commit included, within the query timeout (callTimeout bounds each round trip).
    await this.bounded(async () => {
      try {
        // No batchErrors: a refused row fails the call, we roll back, and the writer bisects.
        if (merge) await this.many(merge, [t.pk, ...t.columns]);
        if (del) await this.many(del, [t.pk]);
        if (batch.mayCommit && !batch.mayCommit()) throw new CommitRefused('not committed: the lease of a partition in this batch ran out while it was written');
        await this.conn.commit();
      } catch (err) {
        if (!(err instanceof CommitRefused) && classifyOracleError(err) === 'connection') this.broken = true;
        // Rows before a failing one are applied but not committed: undo them.
        if (!this.destroyed) await this.conn.rollback().catch(() => { this.broken = true; });
        throw err;
      }
    }, batch.timeoutMs);
  }

  private async many(b: OracleBatch, cols: readonly ColumnInfo[]): Promise<void> {
    const rows = b.rows.map((r) => [...r]);
    await this.conn.executeMany(b.sql, rows, { autoCommit: false, bindDefs: oracleBindShapes(cols, b.rows).map(bindDef) });
  }

  async readRows(shape: TableShape, ids: readonly string[]): Promise<Map<string, Record<string, string | null>>> {
    const out = new Map<string, Record<string, string | null>>();
    const t = oracleTarget(this.table, this.tableSql, shape);
    const names = [shape.pkColumn, ...shape.columns];
    for (let i = 0; i < ids.length; i += IN_LIST_MAX) {
      const s = oracleReadRows(t, ids.slice(i, i + IN_LIST_MAX));
      const res = await this.bounded(() => this.conn.execute<unknown[]>(s.sql, [...s.binds], { outFormat: oracledb.OUT_FORMAT_ARRAY, fetchTypeHandler: fetchAsText }));
      for (const row of res.rows ?? []) {
        const record: Record<string, string | null> = {};
        names.forEach((n, j) => { record[n] = asText(row[j]); });
        out.set(asText(row[0]) ?? '', record);
      }
    }
    return out;
  }

  async scanIds(shape: TableShape, after: string | undefined, limit: number): Promise<string[]> {
    const s = oracleScanIds(oracleTarget(this.table, this.tableSql, shape), after, limit);
    const res = await this.bounded(() => this.conn.execute<unknown[]>(s.sql, [...s.binds], { outFormat: oracledb.OUT_FORMAT_ARRAY, fetchTypeHandler: fetchAsText }));
    return (res.rows ?? []).map((r) => asText(r[0]) ?? '');
  }

  async close(): Promise<void> {
    this.broken = true;
    // Closing with a transaction open rolls it back.
    if (!this.destroyed) await this.conn.close().catch(() => undefined);
  }

  /**
   * Runs calls within the query timeout. On expiry the connection is closed (not waited for: the
   * close may wait on the silent server) and the session is never used again.
   */
  private bounded<T>(work: () => Promise<T>, ms = this.queryTimeoutMs): Promise<T> {
    return withDeadline(ms, work, {
      expire: () => {
        this.broken = true;
        this.destroyed = true;
        void this.conn.close().catch(() => undefined);
      },
    });
  }
}
