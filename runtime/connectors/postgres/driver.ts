import { Client } from 'pg';
import type { PostgresConnector } from '../../../recipes/connectors/postgres.ts';
import { resolveCredential } from '../../../recipes/credential.ts';
import { convertValue } from '../convert.ts';
import { DEFAULT_DB_TIMEOUTS, serverStatementTimeoutMs, withDeadline } from '../timeouts.ts';
import type { ConnectorDriver, ConnectorSession, DbTimeouts, FailureKind, TableInfo, TableShape, WriteBatch } from '../types.ts';
import { CommitRefused } from '../types.ts';
import { classifyPgError, pgErrorColumn } from './errors.ts';
import { PG_DESCRIBE_SQL, pgSplitTable, pgTable, type PgColumnRow, type PgTable } from './metadata.ts';
import { pgReadRows, pgScanIds, pgStatements, SCAN_ID } from './statements.ts';

/** How long `close()` waits for a graceful goodbye before giving up on the socket. */
const CLOSE_TIMEOUT_MS = 5_000;

/** PostgreSQL through pg: one client per session, one transaction per batch. */
export class PostgresDriver implements ConnectorDriver {
  private readonly spec: PostgresConnector;

  constructor(spec: PostgresConnector) {
    this.spec = spec;
  }

  describe(): string {
    return this.spec.describe();
  }

  classify(err: unknown): FailureKind {
    return classifyPgError(err);
  }

  columnOf(err: unknown): string | undefined {
    return pgErrorColumn(err);
  }

  async connect(table: string, timeouts: DbTimeouts = DEFAULT_DB_TIMEOUTS): Promise<ConnectorSession> {
    const c = this.spec.connection;
    const user = await resolveCredential(c.user, 'PostgresConnection user');
    const password = await resolveCredential(c.password, 'PostgresConnection password');
    const client = new Client({
      host: c.host, port: c.port, user, password, database: c.database,
      keepAlive: true, application_name: 'wbsync',
      // pg's own limits, the same as the deadlines below (which fire first and destroy the socket):
      // connectionTimeoutMillis ends a handshake, query_timeout fails a query (but leaves it on
      // the connection, which is why a timed-out session is destroyed, not reused).
      connectionTimeoutMillis: timeouts.connectTimeoutMs, query_timeout: timeouts.queryTimeoutMs,
      // The server cancels a statement a little before the client would give up on the
      // connection, and releases its locks (see serverStatementTimeoutMs).
      statement_timeout: (timeouts.statementTimeoutMs ?? serverStatementTimeoutMs(timeouts.queryTimeoutMs)),
      // A transaction left waiting this long is rolled back by the server (see DbTimeouts).
      ...(timeouts.idleInTransactionMs === undefined ? {} : { idle_in_transaction_session_timeout: timeouts.idleInTransactionMs }),
      // A timestamp without an offset means UTC, into timestamptz too (the conversion's rule).
      options: '-c TimeZone=UTC',
    });
    // connect() reports its own failure; this only keeps a late 'error' event from crashing the process.
    const quiet = (): void => undefined;
    client.on('error', quiet);
    let destroyed = false;
    const destroy = (): void => {
      destroyed = true;
      destroyClient(client);
    };
    try {
      await withDeadline(timeouts.connectTimeoutMs, () => client.connect(), { expire: destroy });
      const { schema, table: name } = pgSplitTable(table);
      const { rows } = await withDeadline(timeouts.queryTimeoutMs, () => client.query<PgColumnRow>(PG_DESCRIBE_SQL, [schema ?? null, name]), { expire: destroy });
      const session = new PostgresSession(client, table, pgTable(rows, table), timeouts.queryTimeoutMs);
      client.off('error', quiet);
      return session;
    } catch (err) {
      if (destroyed) destroyClient(client);
      else await endClient(client);
      throw err;
    }
  }
}

class PostgresSession implements ConnectorSession {
  private readonly client: Client;
  private readonly requested: string;
  private readonly queryTimeoutMs: number;
  broken = false;
  /** Set once a call got no answer in time: the socket is gone, close() has nothing to say goodbye to. */
  private destroyed = false;
  // pg's value errors do not name the column: converting first gives the clearer dead letter.
  readonly table: TableInfo;
  /** `schema.table` as the database spells them, when it exists. */
  private readonly name: string | undefined;

  constructor(
    client: Client,
    requested: string,
    described: PgTable,
    queryTimeoutMs: number,
  ) {
    this.client = client;
    this.requested = requested;
    this.queryTimeoutMs = queryTimeoutMs;
    this.table = described.info;
    this.name = described.name;
    // A dropped idle connection (pg_terminate_backend, server restart) emits 'error' then 'end';
    // without a listener the error would crash the process.
    client.on('error', () => { this.broken = true; });
    client.on('end', () => { this.broken = true; });
  }

  async write(batch: WriteBatch): Promise<void> {
    const b = this.spell(batch);
    const binary = new Set(b.columns.flatMap((col, i) => (this.family(col) === 'binary' ? [i] : [])));
    const statements = pgStatements(b, { binary });
    // One statement outside a transaction block is its own transaction: one round trip. Unless
    // the COMMIT must wait for a last check (`mayCommit`: the partition leases).
    const tx = statements.length > 1 || batch.mayCommit !== undefined;
    // The whole batch, commit included, within the query timeout.
    await this.bounded(async () => {
      try {
        if (tx) await this.client.query('BEGIN');
        for (const s of statements) await this.client.query(s.sql, [...s.params]);
        if (batch.mayCommit && !batch.mayCommit()) throw new CommitRefused('not committed: the lease of a partition in this batch ran out while it was written');
        if (tx) await this.client.query('COMMIT');
      } catch (err) {
        if (!(err instanceof CommitRefused) && classifyPgError(err) === 'connection') this.broken = true;
        else if (tx) await this.client.query('ROLLBACK').catch(() => { this.broken = true; });
        throw err;
      }
    }, batch.timeoutMs);
  }

  async readRows(t: TableShape, ids: readonly string[]): Promise<Map<string, Record<string, string | null>>> {
    const out = new Map<string, Record<string, string | null>>();
    // An id that is no value of the key column (e.g. 'abc' for an integer key) cannot be in the
    // table, and binding it would fail the whole query.
    const pk = this.table.columns.get(t.pkColumn.toLowerCase());
    const wanted = pk === undefined ? ids : ids.filter((id) => convertValue(id, pk).ok);
    if (wanted.length === 0) return out;
    const s = this.spell(t);
    const names = [t.pkColumn, ...t.columns];
    const spelled = [s.pkColumn, ...s.columns];
    const stmt = pgReadRows(s, wanted, new Set(spelled.filter((c) => this.family(c) === 'binary')));
    const { rows } = await this.bounded(() => this.client.query<Record<string, unknown>>(stmt.sql, [...stmt.params]));
    for (const row of rows) {
      // Keyed by the recipe's names, whatever the database's spelling.
      const rec: Record<string, string | null> = {};
      names.forEach((name, i) => { rec[name] = asText(row[spelled[i] as string]); });
      out.set(rec[t.pkColumn] ?? '', rec);
    }
    return out;
  }

  async scanIds(t: TableShape, after: string | undefined, limit: number): Promise<string[]> {
    const s = pgScanIds(this.spell(t), after, limit);
    const { rows } = await this.bounded(() => this.client.query<Record<string, unknown>>(s.sql, [...s.params]));
    return rows.map((r) => String(r[SCAN_ID]));
  }

  async close(): Promise<void> {
    this.broken = true;
    if (!this.destroyed) await endClient(this.client);
  }

  /**
   * Runs calls on the connection within the query timeout. On expiry the connection is destroyed,
   * never reused: pg keeps a timed-out query on it, and everything after would queue behind it.
   */
  private bounded<T>(work: () => Promise<T>, ms = this.queryTimeoutMs): Promise<T> {
    return withDeadline(ms, work, {
      expire: () => {
        this.broken = true;
        this.destroyed = true;
        destroyClient(this.client);
      },
    });
  }

  /**
   * The shape with the database's spellings: the recipe's names match case-insensitively (as the
   * table check does), but quoted identifiers in PostgreSQL are case-sensitive.
   */
  private spell<T extends TableShape>(t: T): T {
    const col = (c: string): string => this.table.columns.get(c.toLowerCase())?.name ?? c;
    const table = t.table === this.requested && this.name !== undefined ? this.name : t.table;
    return { ...t, table, pkColumn: col(t.pkColumn), columns: t.columns.map(col) };
  }

  private family(column: string): string | undefined {
    return this.table.columns.get(column.toLowerCase())?.family;
  }
}

/** A value read back as text: bytea arrives as bytes, written from the text's UTF-8. */
function asText(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  return Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
}

/**
 * Ends a client, not waiting forever on a server that does not answer: its goodbye only
 * half-closes the socket, so after the wait the socket is destroyed.
 */
async function endClient(client: Client): Promise<void> {
  await withDeadline(CLOSE_TIMEOUT_MS, () => client.end(), { expire: () => destroyClient(client) }).catch(() => undefined);
}

/**
 * Drops the client's socket at once, without a goodbye a frozen server would not read (what pg's
 * own connectionTimeoutMillis does). pg's later 'error' and 'end' events find their listeners.
 */
function destroyClient(client: Client): void {
  client.connection.stream.destroy();
}
