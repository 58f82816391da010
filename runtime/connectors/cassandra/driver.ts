import cassandra from 'cassandra-driver';
import type { CassandraConnector } from '../../../recipes/connectors/cassandra.ts';
import { resolveCredential } from '../../../recipes/credential.ts';
import { DEFAULT_DB_TIMEOUTS, withDeadline } from '../timeouts.ts';
import type { ColumnInfo, ConnectorDriver, ConnectorSession, DbTimeouts, FailureKind, TableInfo, TableShape, WriteBatch } from '../types.ts';
import { cassandraErrorColumn, classifyCassandraError, CassandraSchemaError, CassandraValueError, cleanError } from './errors.ts';
import { cassandraTable, resolveName, splitTableName, type CassandraColumnRow } from './metadata.ts';
import { cassandraReadRow, cassandraScanIds, cassandraStatements, type CqlTable } from './statements.ts';
import { toCassandra, toText } from './values.ts';

/** Statements in flight at once per session (the driver multiplexes them over its connections). */
export const CONCURRENCY = 64;
const DEFAULT_PORT = 9042;
const CONSISTENCY = cassandra.types.consistencies.localQuorum;
// Upserts and deletes carry a client-side timestamp and set whole values: replaying them is safe.
const WRITE_OPTIONS = { prepare: true, isIdempotent: true, consistency: CONSISTENCY };
const READ_OPTIONS = { prepare: true, isIdempotent: true, consistency: CONSISTENCY };

/** `host[:port]` contact points with the port made explicit (9042 when absent; IPv6 as `[ip]:port`). */
export function contactPoints(points: readonly string[]): Array<{ readonly address: string; readonly port: number }> {
  return points.map((raw) => {
    const p = raw.trim();
    const m = /^\[(.+)\](?::(\d+))?$/.exec(p) ?? (p.split(':').length === 2 ? /^(.+):(\d+)$/.exec(p) : null);
    const host = m ? (m[1] as string) : p;
    const port = m?.[2] === undefined ? DEFAULT_PORT : Number(m[2]);
    return { address: `${host.includes(':') ? `[${host}]` : host}:${port}`, port };
  });
}

/**
 * Cassandra through cassandra-driver: one Client per session, prepared statements, each row of a
 * batch written by its own statement (rows are different partitions), {@link CONCURRENCY} at a time.
 * The Client gets no `keyspace`: statements name `"keyspace"."table"` as resolved from
 * system_schema, so a missing keyspace reads as a missing table (a schema problem the writer
 * reports and retries) rather than as a failed connect.
 */
export class CassandraDriver implements ConnectorDriver {
  private readonly spec: CassandraConnector;

  constructor(spec: CassandraConnector) {
    this.spec = spec;
  }

  describe(): string {
    return this.spec.describe();
  }

  classify(err: unknown): FailureKind {
    return classifyCassandraError(err);
  }

  columnOf(err: unknown): string | undefined {
    return cassandraErrorColumn(err);
  }

  async connect(table: string, timeouts: DbTimeouts = DEFAULT_DB_TIMEOUTS): Promise<ConnectorSession> {
    const c = this.spec.connection;
    const credentials = c.user !== undefined && c.password !== undefined
      ? { username: await resolveCredential(c.user, 'CassandraConnection user'), password: await resolveCredential(c.password, 'CassandraConnection password') }
      : undefined;
    const points = contactPoints(c.contactPoints);
    const client = new cassandra.Client({
      contactPoints: points.map((p) => p.address),
      localDataCenter: c.localDataCenter,
      ...(credentials ? { credentials } : {}),
      // Explicit ports win for the contact points; this one is for the peers the driver discovers.
      protocolOptions: { port: points[0]?.port ?? DEFAULT_PORT },
      // The driver's own limits: per socket connect, and per request (a request that times out is
      // retried on another host when there is one); the deadlines below bound the whole call.
      socketOptions: { connectTimeout: timeouts.connectTimeoutMs, readTimeout: timeouts.queryTimeoutMs },
      queryOptions: { consistency: CONSISTENCY, prepare: true },
      // Maps bind (and read) as Map, so their keys keep their types; sets read as Set.
      encoding: { map: Map, set: Set },
    });
    const stop = guardHosts(client);
    let stopped: Promise<void> | undefined;
    const expire = (): void => void (stopped = stop());
    try {
      await withDeadline(timeouts.connectTimeoutMs, () => client.connect(), { expire });
      const wanted = splitTableName(table, c.keyspace);
      const { name, info } = await withDeadline(timeouts.queryTimeoutMs, () => describeTable(client, wanted.keyspace, wanted.table), { expire });
      return new CassandraSession(client, stop, name, info, timeouts.queryTimeoutMs);
    } catch (err) {
      // A Client stopped on expiry is not waited for: its shutdown may wait on the silent host.
      if (stopped === undefined) await stop();
      throw cleanError(err);
    }
  }
}

type DriverHost = { shutdown?: (waitForPending: boolean) => Promise<void> };

function shutDownHost(host: unknown): void {
  const h = host as DriverHost;
  if (typeof h.shutdown === 'function') h.shutdown(false).catch(() => undefined);
}

/**
 * Returns the function that stops the Client for good. cassandra-driver 4.10 leaks
 * hosts when its control connection reconnects from scratch (all contact points were down, e.g. a
 * single node dropped its connections): a new Host replaces the old one, whose pool keeps
 * reconnecting (1 s up to 10 min) unstopped; and when that happens during `shutdown()`, the new
 * Host is added after the pools were shut down. Either would hold timers and sockets for ever, one
 * per lost session: removed hosts are stopped at once, and hosts added once stopping are too.
 */
function guardHosts(client: cassandra.Client): () => Promise<void> {
  let stopping = false;
  client.on('hostRemove', shutDownHost);
  client.on('hostAdd', (host: unknown) => {
    if (stopping) shutDownHost(host);
  });
  return async () => {
    stopping = true;
    await client.shutdown().catch(() => undefined);
    for (const host of client.hosts?.values() ?? []) shutDownHost(host);
  };
}

/**
 * Reads the table from system_schema. The keyspace and the table are resolved like CQL does for
 * unquoted names (case-insensitively), so `Persons` finds `persons`; statements then quote the
 * real names.
 */
async function describeTable(client: cassandra.Client, keyspace: string, table: string): Promise<{ name: { keyspace: string; table: string }; info: TableInfo }> {
  const keyspaces = (await client.execute('SELECT keyspace_name FROM system_schema.keyspaces', [], READ_OPTIONS)).rows.map((r) => String(r.get('keyspace_name')));
  const ks = resolveName(keyspace, keyspaces);
  if (ks === undefined) return { name: { keyspace, table }, info: cassandraTable([]) };
  const tables = (await client.execute('SELECT table_name FROM system_schema.tables WHERE keyspace_name = ?', [ks], READ_OPTIONS)).rows.map((r) => String(r.get('table_name')));
  const t = resolveName(table, tables);
  if (t === undefined) return { name: { keyspace: ks, table }, info: cassandraTable([]) };
  const rows = await client.execute('SELECT column_name, kind, position, type FROM system_schema.columns WHERE keyspace_name = ? AND table_name = ?', [ks, t], READ_OPTIONS);
  const columns: CassandraColumnRow[] = rows.rows.map((r) => ({
    column_name: String(r.get('column_name')), kind: String(r.get('kind')), position: Number(r.get('position')), type: String(r.get('type')),
  }));
  return { name: { keyspace: ks, table: t }, info: cassandraTable(columns) };
}

/** Runs `task(0..count-1)`, `limit` at a time; after a failure starts no more, waits for those in flight, throws the first error. */
async function runAll(count: number, limit: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { err: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < count) {
      const i = next++;
      try {
        await task(i);
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
  if (failure) throw failure.err;
}

/** The recipe's table shape with Cassandra's names and column types. */
interface Target {
  readonly cql: CqlTable;
  readonly pk: ColumnInfo;
  readonly columns: readonly ColumnInfo[];
}

class CassandraSession implements ConnectorSession {
  private readonly client: cassandra.Client;
  private readonly stop: () => Promise<void>;
  private readonly name: { readonly keyspace: string; readonly table: string };
  readonly table: TableInfo;
  private readonly queryTimeoutMs: number;
  broken = false;
  /** Set once a call got no answer in time: the Client is being shut down already. */
  private destroyed = false;
  // Cassandra checks little (text has no length limit, a bound value is already typed): the
  // writer converts values by family first, and this session binds them as the driver's types.

  constructor(
    client: cassandra.Client,
    stop: () => Promise<void>,
    name: { readonly keyspace: string; readonly table: string },
    table: TableInfo,
    queryTimeoutMs: number,
  ) {
    this.client = client;
    this.stop = stop;
    this.name = name;
    this.table = table;
    this.queryTimeoutMs = queryTimeoutMs;
  }

  /**
   * Writes every row, {@link CONCURRENCY} statements at a time, and waits for all of them. Not
   * atomic: when one row fails the others may be written already, which is harmless because
   * upserts and deletes are idempotent and the writer retries (or bisects) the batch.
   */
  async write(batch: WriteBatch): Promise<void> {
    const target = this.target(batch);
    const statements = cassandraStatements(target.cql, target.columns.map((c) => c.name), batch.rows);
    // Every value is converted before anything is sent: a row that cannot be bound fails alone.
    const bound = statements.map((s) => ({
      query: s.query,
      params: s.params.map((v, i) => (i === 0 ? toCassandra(v, target.pk, true) : toCassandra(v, target.columns[i - 1] as ColumnInfo))),
    }));
    try {
      // The whole batch within the query timeout (each request also has the driver's readTimeout).
      await this.bounded(() => runAll(bound.length, CONCURRENCY, async (i) => {
        const s = bound[i] as { query: string; params: unknown[] };
        await this.client.execute(s.query, s.params, WRITE_OPTIONS);
      }), batch.timeoutMs);
    } catch (err) {
      throw this.failed(err);
    }
  }

  async readRows(t: TableShape, ids: readonly string[]): Promise<Map<string, Record<string, string | null>>> {
    const out = new Map<string, Record<string, string | null>>();
    if (ids.length === 0) return out;
    const target = this.target(t);
    const query = cassandraReadRow(target.cql, target.columns.map((c) => c.name));
    try {
      await this.bounded(() => runAll(ids.length, CONCURRENCY, async (i) => {
        const id = ids[i] as string;
        let key: unknown;
        try {
          key = toCassandra(id, target.pk, true);
        } catch (err) {
          if (err instanceof CassandraValueError) return; // no row can have this key
          throw err;
        }
        const row = (await this.client.execute(query, [key], READ_OPTIONS)).first();
        if (!row) return;
        const record: Record<string, string | null> = { [t.pkColumn]: toText(row.get(target.pk.name), target.pk) };
        t.columns.forEach((c, j) => {
          const col = target.columns[j] as ColumnInfo;
          record[c] = toText(row.get(col.name), col);
        });
        out.set(id, record);
      }));
    } catch (err) {
      throw this.failed(err);
    }
    return out;
  }

  /**
   * Keys in token order (the partitioner's order, the only one Cassandra can page by): `after` is
   * the last key of the previous page, and the next page starts at the partition after its token.
   * Keys are returned as text, the form `readRows` and `after` take.
   */
  async scanIds(t: TableShape, after: string | undefined, limit: number): Promise<string[]> {
    const target = this.target(t);
    const s = cassandraScanIds(target.cql, after, limit);
    try {
      const params = s.params.map((v) => toCassandra(v, target.pk, true));
      const res = await this.bounded(() => this.client.execute(s.query, params, { ...READ_OPTIONS, fetchSize: Math.max(1, Math.floor(limit)) }));
      return res.rows.map((r) => toText(r.get(target.pk.name), target.pk) ?? '');
    } catch (err) {
      throw this.failed(err);
    }
  }

  async close(): Promise<void> {
    this.broken = true;
    if (!this.destroyed) await this.stop();
  }

  /**
   * Runs calls within the query timeout. On expiry the Client is shut down (not waited for) and
   * the session is never used again.
   */
  private bounded<T>(work: () => Promise<T>, ms = this.queryTimeoutMs): Promise<T> {
    return withDeadline(ms, work, {
      expire: () => {
        this.broken = true;
        this.destroyed = true;
        void this.stop();
      },
    });
  }

  /** Cassandra's names and types for the recipe's columns; a column gone since connect is a schema problem. */
  private target(shape: TableShape): Target {
    const find = (c: string): ColumnInfo => {
      const col = this.table.columns.get(c.toLowerCase());
      if (col === undefined) throw new CassandraSchemaError(`table ${shape.table} has no column ${c}; add it, or fix the recipe's mappings`);
      return col;
    };
    const pk = find(shape.pkColumn);
    return { cql: { keyspace: this.name.keyspace, table: this.name.table, pkColumn: pk.name }, pk, columns: shape.columns.map(find) };
  }

  /** The error to throw, marking the session broken when the connection is in doubt. */
  private failed(err: unknown): unknown {
    const e = cleanError(err);
    if (classifyCassandraError(e) === 'connection') this.broken = true;
    return e;
  }
}
