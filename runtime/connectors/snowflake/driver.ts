import snowflake, { type Connection, type ConnectionOptions, type StatementOption } from 'snowflake-sdk';
import type { SnowflakeConnector } from '../../../recipes/connectors/snowflake.ts';
import { resolveCredential } from '../../../recipes/credential.ts';
import { DEFAULT_DB_TIMEOUTS, withDeadline } from '../timeouts.ts';
import type { ConnectorDriver, ConnectorSession, DbTimeouts, FailureKind, TableInfo, TableShape, WriteBatch } from '../types.ts';
import { CommitRefused } from '../types.ts';
import { classifySnowflakeError, redactSecret } from './errors.ts';
import {
  pickTable, snowflakeColumnsQuery, snowflakePrimaryKeyQuery, snowflakeTable, snowflakeTableSql, snowflakeTarget,
  type SnowflakeColumnRow, type SnowflakePrimaryKeyRow,
} from './metadata.ts';
import { MAX_CHUNK_ROWS, snowflakeReadRows, snowflakeScanIds, snowflakeWrite, type SnowflakeBind } from './statements.ts';

/** How long close() waits for the logout before giving up on it. */
const CLOSE_WAIT_MS = 5_000;

let configured = false;

/**
 * Quiets the driver once per process: by default it logs at INFO to the console and to
 * ./snowflake.log in the working directory, including account, user and host.
 */
function configureOnce(): void {
  if (configured) return;
  snowflake.configure({ logLevel: 'ERROR' });
  configured = true;
}

/** Runs one statement; rows for a query, a one-row summary for DML. */
function run<T = Record<string, unknown>>(conn: Connection, sqlText: string, binds: readonly SnowflakeBind[] = [], extra: Partial<StatementOption> = {}): Promise<T[]> {
  return new Promise<T[]>((resolve, reject) => {
    try {
      conn.execute({
        sqlText,
        // execute() throws synchronously on an undefined bind (409008): none may reach it.
        ...(binds.length ? { binds: binds.map((b) => (b === undefined ? null : b)) } : {}),
        ...extra,
        complete: (err, _stmt, rows) => (err ? reject(err) : resolve((rows ?? []) as T[])),
      });
    } catch (err) {
      reject(err);
    }
  });
}

/** Every value as text (Snowflake formats it), so it compares with the hash's strings. */
const AS_TEXT: Partial<StatementOption> = { rowMode: 'array', fetchAsString: ['Number', 'Date', 'Boolean', 'JSON', 'Buffer'] };

/** Snowflake through snowflake-sdk: one session, one transaction per batch of set-based MERGE and DELETE. */
export class SnowflakeDriver implements ConnectorDriver {
  private readonly spec: SnowflakeConnector;

  constructor(spec: SnowflakeConnector) {
    this.spec = spec;
  }

  describe(): string {
    return this.spec.describe();
  }

  classify(err: unknown): FailureKind {
    return classifySnowflakeError(err);
  }

  async connect(table: string, timeouts: DbTimeouts = DEFAULT_DB_TIMEOUTS): Promise<ConnectorSession> {
    configureOnce();
    const c = this.spec.connection;
    // Read at every connect: the credentials may have been rotated since the last one.
    const username = await resolveCredential(c.user, 'SnowflakeConnection user');
    const password = await resolveCredential(c.password, 'SnowflakeConnection password');
    const options: ConnectionOptions = {
      account: c.account, username, password, database: c.database, schema: c.schema,
      ...(c.warehouse === undefined ? {} : { warehouse: c.warehouse }),
      ...(c.role === undefined ? {} : { role: c.role }),
      // Keeps an idle session (between bursts of writes) from expiring after four hours.
      clientSessionKeepAlive: true,
      // The driver's own limit on each HTTP request (the login's and every statement's): the
      // longer of the two, since it is one setting; the deadlines below bound each call.
      timeout: Math.max(timeouts.connectTimeoutMs, timeouts.queryTimeoutMs),
    };
    let conn: Connection | undefined;
    try {
      // A failed or destroyed connection cannot connect again (405503): always a new one.
      // Through the module object at call time, so a test can replace just this call.
      conn = snowflake.createConnection(options);
      const created = conn;
      const expire = (): void => destroy(created);
      // connectAsync() resolves even when the login fails: only connect's callback sees the error.
      await withDeadline(timeouts.connectTimeoutMs, () => new Promise<void>((resolve, reject) => created.connect((err) => (err ? reject(err) : resolve()))), { expire });
      return await withDeadline(timeouts.queryTimeoutMs, async () => {
        const q = snowflakeColumnsQuery(table);
        const rows = pickTable(await run<SnowflakeColumnRow>(created, q.sql, q.binds), table);
        const first = rows[0];
        const pk = first === undefined ? [] : await run<SnowflakePrimaryKeyRow>(created, snowflakePrimaryKeyQuery(first.TABLE_SCHEMA, first.TABLE_NAME));
        return new SnowflakeSession(created, snowflakeTable(rows, pk), snowflakeTableSql(rows, table), timeouts.queryTimeoutMs);
      }, { expire });
    } catch (err) {
      if (conn !== undefined) destroy(conn);
      throw redactSecret(err, password);
    }
  }
}

/** Ends a session without waiting; also stops its keep-alive timer, which would hold the process open. */
function destroy(conn: Connection): void {
  try {
    conn.destroy(() => undefined);
  } catch {
    // never connected: nothing to end
  }
}

class SnowflakeSession implements ConnectorSession {
  private readonly conn: Connection;
  readonly table: TableInfo;
  /** The quoted table name, as INFORMATION_SCHEMA spells it. */
  private readonly tableSql: string;
  private readonly queryTimeoutMs: number;
  private failed = false;
  /** Set once a call got no answer in time: the session is destroyed already. */
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

  get broken(): boolean {
    return this.failed || !this.conn.isUp();
  }

  async write(batch: WriteBatch): Promise<void> {
    const statements = snowflakeWrite(snowflakeTarget(this.table, this.tableSql, batch), batch.rows);
    // The whole batch, commit included, within the query timeout.
    await this.bounded(async () => {
      try {
        await run(this.conn, 'BEGIN');
        for (const s of statements) await run(this.conn, s.sql, s.binds);
        if (batch.mayCommit && !batch.mayCommit()) throw new CommitRefused('not committed: the lease of a partition in this batch ran out while it was written');
        await run(this.conn, 'COMMIT');
      } catch (err) {
        if (!(err instanceof CommitRefused) && classifySnowflakeError(err) === 'connection') this.failed = true;
        // A failed statement does not end an explicit transaction: end it, or the next BEGIN nests in it.
        if (!this.destroyed) await run(this.conn, 'ROLLBACK').catch(() => { this.failed = true; });
        throw err;
      }
    }, batch.timeoutMs);
  }

  async readRows(shape: TableShape, ids: readonly string[]): Promise<Map<string, Record<string, string | null>>> {
    const out = new Map<string, Record<string, string | null>>();
    const t = snowflakeTarget(this.table, this.tableSql, shape);
    const names = [shape.pkColumn, ...shape.columns];
    for (let i = 0; i < ids.length; i += MAX_CHUNK_ROWS) {
      const s = snowflakeReadRows(t, ids.slice(i, i + MAX_CHUNK_ROWS));
      for (const row of await this.bounded(() => run<unknown[]>(this.conn, s.sql, s.binds, AS_TEXT))) {
        const record: Record<string, string | null> = {};
        names.forEach((n, j) => { record[n] = text(row[j]); });
        out.set(text(row[0]) ?? '', record);
      }
    }
    return out;
  }

  async scanIds(shape: TableShape, after: string | undefined, limit: number): Promise<string[]> {
    const s = snowflakeScanIds(snowflakeTarget(this.table, this.tableSql, shape), after, limit);
    return (await this.bounded(() => run<unknown[]>(this.conn, s.sql, s.binds, AS_TEXT))).map((r) => text(r[0]) ?? '');
  }

  async close(): Promise<void> {
    this.failed = true;
    if (this.destroyed) return;
    // destroy() logs out over HTTP; an unreachable service must not hold up a reconnect.
    await new Promise<void>((resolve) => {
      setTimeout(resolve, CLOSE_WAIT_MS).unref();
      try {
        this.conn.destroy(() => resolve());
      } catch {
        resolve();
      }
    });
  }

  /**
   * Runs calls within the query timeout. On expiry the session is destroyed (not waited for) and
   * never used again.
   */
  private bounded<T>(work: () => Promise<T>, ms = this.queryTimeoutMs): Promise<T> {
    return withDeadline(ms, work, {
      expire: () => {
        this.failed = true;
        this.destroyed = true;
        destroy(this.conn);
      },
    });
  }
}

function text(v: unknown): string | null {
  return v === null || v === undefined ? null : String(v);
}
