import cassandra from 'cassandra-driver';
import net from 'node:net';
import { CassandraConnection, CassandraConnector, configGet } from '../../../recipes/index.ts';
import type { ConnectorHarness, HarnessTable } from './types.ts';

const HOST = '127.0.0.1';
const PORT = 9142;
const DATACENTER = 'datacenter1';
const KEYSPACE = 'wbconf';
const USER = 'wbconf';
const PASSWORD = 'conf-pass-1';

const admin = (connectTimeout = 10_000): cassandra.Client => new cassandra.Client({
  contactPoints: [`${HOST}:${PORT}`], localDataCenter: DATACENTER,
  credentials: { username: 'cassandra', password: 'cassandra' },
  socketOptions: { connectTimeout, readTimeout: 30_000 },
});

/**
 * A TCP relay in front of the node, used by the connector only. Cassandra has no KILL for client
 * connections (and no JMX/nodetool here for `disablebinary`), so `drop()` resets every relayed
 * socket: to the driver that is exactly a server dropping its connections.
 */
async function startRelay(): Promise<{ port: number; drop(): void; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(PORT, HOST);
    sockets.add(client);
    sockets.add(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    for (const s of [client, upstream]) {
      s.on('error', end);
      s.on('close', end);
    }
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, HOST, resolve));
  const drop = (): void => {
    for (const s of [...sockets]) s.resetAndDestroy();
  };
  return {
    port: (server.address() as net.AddressInfo).port,
    drop,
    close: async () => {
      drop();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

type Row = { id: string; first: string | null; last: string | null; age: string | null; extra: string | null };

/**
 * Cassandra 5 on 127.0.0.1:9142 (scripts/cassandra.sh). The connector logs in as its own role and
 * reaches the node through a relay, so its connections can be dropped. Note: Cassandra text has no
 * length limit, so `first` cannot refuse a 21-character value (see the suite's "does not fit" case).
 */
export const cassandraHarness: ConnectorHarness = {
  name: 'cassandra',
  // Cassandra text has no length limit: the suite's over-long value is written, not refused.
  limitsText: false,
  async unavailable() {
    const client = admin(2_000);
    try {
      await client.connect();
      await client.execute('SELECT release_version FROM system.local');
      return undefined;
    } catch (err) {
      return `Cassandra not reachable on ${HOST}:${PORT} (scripts/cassandra.sh start): ${String(err).split('\n')[0]}`;
    } finally {
      await client.shutdown().catch(() => undefined);
    }
  },
  async setup(): Promise<HarnessTable> {
    const client = admin();
    await client.connect();
    const table = `conf_${Math.random().toString(36).slice(2, 8)}`;
    const relay = await startRelay();
    try {
      await client.execute(`CREATE KEYSPACE IF NOT EXISTS ${KEYSPACE} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`);
      // Not re-set when it exists: Cassandra 5 lets a password change only every 5 s.
      await client.execute(`CREATE ROLE IF NOT EXISTS ${USER} WITH PASSWORD = '${PASSWORD}' AND LOGIN = true`);
      await client.execute(`GRANT ALL ON KEYSPACE ${KEYSPACE} TO ${USER}`);
      await client.execute(`CREATE TABLE ${KEYSPACE}.${table} (id text PRIMARY KEY, first varchar, last text, age int, extra text)`);
    } catch (err) {
      await relay.close();
      await client.shutdown();
      throw err;
    }
    const qualified = `${KEYSPACE}.${table}`;
    return {
      connector: new CassandraConnector(
        new CassandraConnection(() => configGet('CassUser'), () => configGet('CassPassword'), `${HOST}:${relay.port}`, { localDataCenter: DATACENTER, keyspace: KEYSPACE }),
        table,
        'id',
      ),
      params: { CassUser: USER, CassPassword: PASSWORD },
      badParams: { CassUser: USER, CassPassword: 'wrong-password' },
      async rows() {
        const res = await client.execute(`SELECT id, first, last, age, extra FROM ${qualified}`, [], { fetchSize: 100_000 });
        const text = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));
        return res.rows
          .map((r): Row => ({ id: String(r.get('id')), first: text(r.get('first')), last: text(r.get('last')), age: text(r.get('age')), extra: text(r.get('extra')) }))
          .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      },
      async setExtra(id, value) {
        await client.execute(`UPDATE ${qualified} SET extra = ? WHERE id = ?`, [value, id], { prepare: true });
      },
      async dropConnections() {
        relay.drop();
      },
      async teardown() {
        await client.execute(`DROP TABLE IF EXISTS ${qualified}`).catch(() => undefined);
        await relay.close();
        await client.shutdown();
      },
    };
  },
};
