import { createConnection, type Connection } from 'mysql2/promise';
import type { MySqlConnector } from '../../../recipes/connectors/mysql.ts';
import { resolveCredential } from '../../../recipes/credential.ts';
import type { ResultSetHeader, RowDataPacket } from 'mysql2';
import { DEFAULT_DB_TIMEOUTS, serverStatementTimeoutMs, withDeadline } from '../timeouts.ts';
import type { ConnectorDriver, ConnectorSession, DbTimeouts, FailureKind, StatementLimit, TableInfo, TableShape, WriteBatch } from '../types.ts';
import { CommitRefused } from '../types.ts';
import { MYSQL_DESCRIBE_COLUMNS, mysqlErrorColumn, mysqlTable, type MysqlColumnRow } from './metadata.ts';
import { classifyMysqlError } from './errors.ts';
import { mysqlReadRows, mysqlScanIds, mysqlStatementLimit, mysqlStatements, SCAN_ID } from './statements.ts';

/** MySQL/MariaDB through mysql2: one connection, strict SQL mode, one transaction per batch. */
/** Warnings and notes of a value stored otherwise than given (their errnos are record errors: see errors.ts). */
const CHANGED_VALUE = new Set([1263, 1264, 1265, 1292, 1366, 1406]);

export class MySqlDriver implements ConnectorDriver {
  private readonly spec: MySqlConnector;

  constructor(spec: MySqlConnector) {
    this.spec = spec;
  }

  describe(): string {
    return this.spec.describe();
  }

  classify(err: unknown): FailureKind {
    return classifyMysqlError(err);
  }

  columnOf(err: unknown): string | undefined {
    return err instanceof Error ? mysqlErrorColumn(err.message) : undefined;
  }

  async connect(table: string, timeouts: DbTimeouts = DEFAULT_DB_TIMEOUTS): Promise<ConnectorSession> {
    const c = this.spec.connection;
    const user = await resolveCredential(c.user, 'MySqlConnection user');
    const password = await resolveCredential(c.password, 'MySqlConnection password');
    // mysql2's connectTimeout ends an attempt this deadline gave up on (the promise API hands out
    // no connection to destroy before the handshake completes); one completed too late is destroyed.
    const conn = await withDeadline(timeouts.connectTimeoutMs, () => createConnection({
      host: c.host, port: c.port, user, password, database: c.database,
      connectTimeout: timeouts.connectTimeoutMs, supportBigNumbers: true, bigNumberStrings: true, dateStrings: true,
      // No call-site stack captured per query: our errors name the table and key, and the
      // capture cost ~5 % of the runtime's CPU under light traffic (measured with --cpu-prof).
      trace: false,
    }), { late: (late) => late.destroy() });
    // MariaDB cancels a statement a little before the client would give up on the connection
    // (see serverStatementTimeoutMs); `/*M!` runs only on MariaDB (10.1.1 and later), MySQL reads a
    // comment (its max_execution_time covers SELECTs only, not the writes that matter here).
    const statementSeconds = (timeouts.statementTimeoutMs ?? serverStatementTimeoutMs(timeouts.queryTimeoutMs)) / 1000;
    // MariaDB 10.3 and later roll back a transaction left waiting this long (whole seconds).
    const idle = timeouts.idleInTransactionMs === undefined ? '' : ` /*M!100300 , SESSION idle_transaction_timeout = ${Math.max(1, Math.ceil(timeouts.idleInTransactionMs / 1000))} */`;
    try {
      return await withDeadline(timeouts.queryTimeoutMs, async () => {
        // A value that does not fit must fail, not be silently truncated or coerced (wbsync's own
        // conversion refuses it first; strict mode is the second line). Time zone UTC: a
        // TIMESTAMP column takes and gives the UTC text the conversion writes.
        await conn.query(
          "SET SESSION sql_mode = CONCAT_WS(',', NULLIF(@@SESSION.sql_mode, ''), 'STRICT_ALL_TABLES'), SESSION autocommit = 1, SESSION time_zone = '+00:00'" +
            ` /*M!100101 , SESSION max_statement_time = ${statementSeconds} */${idle}`,
        );
        const dot = table.indexOf('.');
        const [rows] = await conn.query<RowDataPacket[]>(
          `SELECT ${MYSQL_DESCRIBE_COLUMNS} FROM information_schema.COLUMNS
           WHERE TABLE_SCHEMA = ${dot === -1 ? 'DATABASE()' : '?'} AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`,
          dot === -1 ? [table] : [table.slice(0, dot), table.slice(dot + 1)],
        );
        // The largest statement the server reads; a larger one makes it close the connection.
        const [packet] = await conn.query<RowDataPacket[]>('SELECT @@max_allowed_packet AS m');
        const limit = mysqlStatementLimit(Number(packet[0]?.['m']));
        // Autocommit off from here on, whatever the server's default: every batch is a
        // transaction whose COMMIT is sent only after a last check (the partition's lease), and
        // its first statement opens it: two round trips for a batch of one statement, not three
        // with START TRANSACTION (at 1,000 changes/s over three runtimes on two cores, each
        // round trip's wake-up is a large part of a row's CPU). Reads end with a ROLLBACK, so no
        // snapshot stays open and nothing is committed outside a batch.
        await conn.query('SET SESSION autocommit = 0');
        return new MySqlSession(conn, mysqlTable(rows as unknown as MysqlColumnRow[]), timeouts.queryTimeoutMs, limit);
      }, { expire: () => conn.destroy() });
    } catch (err) {
      conn.destroy();
      throw err;
    }
  }
}

class MySqlSession implements ConnectorSession {
  private readonly conn: Connection;
  readonly table: TableInfo;
  private readonly queryTimeoutMs: number;
  readonly statementLimit: StatementLimit | undefined;
  broken = false;
  /** Set once a call got no answer in time: the socket is gone, close() has nothing to say goodbye to. */
  private destroyed = false;

  constructor(
    conn: Connection,
    table: TableInfo,
    queryTimeoutMs: number,
    statementLimit: StatementLimit | undefined,
  ) {
    this.conn = conn;
    this.table = table;
    this.queryTimeoutMs = queryTimeoutMs;
    this.statementLimit = statementLimit;
    // An idle connection that drops emits 'error'; without a listener it would crash the process.
    conn.on('error', () => { this.broken = true; });
  }

  async write(batch: WriteBatch): Promise<void> {
    const statements = mysqlStatements(batch);
    // The whole batch, commit included, within the query timeout. The first statement opens the
    // transaction (autocommit is off).
    await this.bounded(async () => {
      try {
        for (const s of statements) {
          const [res] = await this.conn.query<ResultSetHeader>(s.sql, [...s.params]);
          if (res.warningStatus > 0) await this.refuseChangedValues();
        }
        if (batch.mayCommit && !batch.mayCommit()) throw new CommitRefused('not committed: the lease of a partition in this batch ran out while it was written');
        await this.conn.query('COMMIT');
      } catch (err) {
        if (!(err instanceof CommitRefused) && classifyMysqlError(err) === 'connection') this.broken = true;
        else await this.conn.query('ROLLBACK').catch(() => { this.broken = true; });
        throw err;
      }
    }, batch.timeoutMs);
  }

  /**
   * A statement left warnings or notes: one of a value the server stored otherwise than given
   * (a DECIMAL rounded, a value truncated: notes even in strict mode) fails the batch, which is
   * rolled back, as that error would (the table is then read again, or the row dead-lettered).
   * Seen after an ALTER narrowed a column the session had described before. Others (MySQL's
   * deprecation of VALUES(), say) are let through.
   */
  private async refuseChangedValues(): Promise<void> {
    const [warnings] = await this.conn.query<RowDataPacket[]>('SHOW WARNINGS');
    const changed = warnings.find((w) => CHANGED_VALUE.has(Number(w['Code'])));
    if (changed) {
      throw Object.assign(new Error(`the database stored a value otherwise than given (${String(changed['Level']).toLowerCase()} ${changed['Code']}: ${changed['Message']})`), { errno: Number(changed['Code']) });
    }
  }

  async readRows(t: TableShape, ids: readonly string[]): Promise<Map<string, Record<string, string | null>>> {
    const out = new Map<string, Record<string, string | null>>();
    if (ids.length === 0) return out;
    const s = mysqlReadRows(t, ids);
    const [rows] = await this.bounded(() => this.read(s.sql, s.params));
    for (const row of rows) out.set(String(row[t.pkColumn]), row as Record<string, string | null>);
    return out;
  }

  async scanIds(t: TableShape, after: string | undefined, limit: number): Promise<string[]> {
    // The key column as described, so the cursor is cast to its type.
    const s = mysqlScanIds(t, after, limit, this.table.columns.get(t.pkColumn.toLowerCase()));
    const [rows] = await this.bounded(() => this.read(s.sql, s.params));
    return rows.map((r) => String(r[SCAN_ID]));
  }

  /** A query that only reads, its transaction ended at once: the next read sees what was committed since. */
  private async read(sql: string, params: readonly unknown[]): Promise<[RowDataPacket[], unknown]> {
    const res = await this.conn.query<RowDataPacket[]>(sql, [...params]);
    await this.conn.query('ROLLBACK');
    return res;
  }

  async close(): Promise<void> {
    this.broken = true;
    if (this.destroyed) return;
    // QUIT waits behind whatever is still queued on the connection: not longer than a call may.
    await withDeadline(this.queryTimeoutMs, () => this.conn.end(), { expire: () => this.conn.destroy() }).catch(() => this.conn.destroy());
  }

  /**
   * Runs calls on the connection within the query timeout. On expiry the connection is destroyed,
   * never reused: the late reply would be read as the next query's.
   */
  private bounded<T>(work: () => Promise<T>, ms = this.queryTimeoutMs): Promise<T> {
    return withDeadline(ms, work, {
      expire: () => {
        this.broken = true;
        this.destroyed = true;
        this.conn.destroy();
      },
    });
  }
}
