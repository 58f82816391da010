import Database from 'better-sqlite3';
import type { SqliteConnector } from '../../../recipes/connectors/sqlite.ts';
import type { ConnectorDriver, ConnectorSession, FailureKind, TableInfo, TableShape, WriteBatch } from '../types.ts';
import { classifySqliteError } from './errors.ts';
import { SQLITE_DESCRIBE_SQL, sqliteErrorColumn, sqliteSplitTable, sqliteTable, type SqliteColumnRow } from './metadata.ts';
import { SCAN_ID, SQLITE_READ_CHUNK, sqliteReadRows, sqliteScanIds, sqliteStatements } from './statements.ts';

/**
 * How long a write waits for another process's lock. better-sqlite3 waits synchronously, blocking
 * the event loop, so this stays short: a longer lock fails with SQLITE_BUSY and the writer retries
 * with its (asynchronous) backoff.
 */
const BUSY_TIMEOUT_MS = 1_000;

/** SQLite through better-sqlite3: one database handle per session, one transaction per batch. */
export class SqliteDriver implements ConnectorDriver {
  private readonly spec: SqliteConnector;

  constructor(spec: SqliteConnector) {
    this.spec = spec;
  }

  describe(): string {
    return this.spec.describe();
  }

  classify(err: unknown): FailureKind {
    return classifySqliteError(err);
  }

  columnOf(err: unknown): string | undefined {
    return err instanceof Error ? sqliteErrorColumn(err.message) : undefined;
  }

  /**
   * No timeouts here (the parameter is left out): SQLite runs in this process, synchronously, so
   * there is no connection to hang and no timer could interrupt a call anyway. Only the busy
   * timeout applies: a lock held by another process fails the batch after it, and it is retried.
   */
  async connect(table: string): Promise<ConnectorSession> {
    // Creates the file when missing (not its directory: a wrong path should fail, not be created).
    const db = new Database(this.spec.connection.path, { timeout: BUSY_TIMEOUT_MS });
    try {
      // WAL lets readers (wb-cli verify, other tools) run while the runtime writes.
      db.pragma('journal_mode = WAL');
      db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      const { schema, table: name } = sqliteSplitTable(table);
      const rows = db.prepare(SQLITE_DESCRIBE_SQL).all(name, schema) as SqliteColumnRow[];
      // The declared collations are only in the CREATE statement (NOCASE, RTRIM keys are inexact).
      const ddl = (db.prepare(`SELECT sql FROM "${schema.replaceAll('"', '""')}".sqlite_master WHERE type = 'table' AND name = ?`).get(name) as { sql?: string } | undefined)?.sql;
      return new SqliteSession(db, sqliteTable(rows, ddl));
    } catch (err) {
      db.close();
      throw err;
    }
  }
}

class SqliteSession implements ConnectorSession {
  private readonly db: Database.Database;
  readonly table: TableInfo;
  broken = false;
  // SQLite stores almost anything in any column: only converting first refuses what does not fit.
  /** Write statements by SQL text: one per shape and operation (reads vary in size and are rare: not cached). */
  private readonly prepared = new Map<string, Database.Statement>();

  constructor(
    db: Database.Database,
    table: TableInfo,
  ) {
    this.db = db;
    this.table = table;
  }

  async write(batch: WriteBatch): Promise<void> {
    const stmts = sqliteStatements(batch);
    try {
      // IMMEDIATE takes the write lock up front (waiting up to the busy timeout) rather than
      // failing half-way through the batch; any throw rolls the whole transaction back.
      this.db.transaction(() => {
        for (const s of stmts) this.statement(s.sql).run(...s.params);
      }).immediate();
    } catch (err) {
      if (classifySqliteError(err) === 'connection') this.broken = true;
      throw err;
    }
  }

  async readRows(t: TableShape, ids: readonly string[]): Promise<Map<string, Record<string, string | null>>> {
    const out = new Map<string, Record<string, string | null>>();
    for (let i = 0; i < ids.length; i += SQLITE_READ_CHUNK) {
      const s = sqliteReadRows(t, ids.slice(i, i + SQLITE_READ_CHUNK));
      for (const row of this.db.prepare(s.sql).all(...s.params) as Array<Record<string, string | null>>) out.set(String(row[t.pkColumn]), row);
    }
    return out;
  }

  async scanIds(t: TableShape, after: string | undefined, limit: number): Promise<string[]> {
    const s = sqliteScanIds(t, after, limit);
    return (this.db.prepare(s.sql).all(...s.params) as Array<Record<string, unknown>>).map((r) => String(r[SCAN_ID]));
  }

  async close(): Promise<void> {
    this.broken = true;
    this.prepared.clear();
    if (this.db.open) this.db.close();
  }

  private statement(sql: string): Database.Statement {
    let s = this.prepared.get(sql);
    if (s === undefined) {
      s = this.db.prepare(sql);
      this.prepared.set(sql, s);
    }
    return s;
  }
}
