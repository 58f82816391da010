import { Client } from 'pg';
import { configGet, PostgresConnection, PostgresConnector } from '../../../recipes/index.ts';
import { uid } from '../../helpers/wait.ts';
import type { ConnectorHarness, HarnessTable } from './types.ts';

const HOST = process.env['WB_TEST_PG_HOST'] ?? '127.0.0.1';
const PORT = Number(process.env['WB_TEST_PG_PORT'] ?? 5432);
const DATABASE = process.env['WB_TEST_PG_DATABASE'] ?? 'test';
/** The role the connector writes as (and whose sessions dropConnections kills). */
const USER = process.env['WB_TEST_PG_USER'] ?? 'postgres';
/**
 * The harness's own role, distinct from the connector's so that killing the connector's
 * sessions never kills the harness's. The server uses trust auth: any password is accepted,
 * and a role that does not exist is what gets refused.
 */
const ADMIN = process.env['WB_TEST_PG_ADMIN'] ?? 'root';

async function adminClient(): Promise<Client> {
  const c = new Client({ host: HOST, port: PORT, database: DATABASE, user: ADMIN, password: 'x', connectionTimeoutMillis: 5_000 });
  c.on('error', () => undefined); // a harness client dropped by the server must not crash the suite
  await c.connect();
  return c;
}

/** PostgreSQL on 127.0.0.1:5432, database `test`. */
export const postgresHarness: ConnectorHarness = {
  name: 'postgres',

  async unavailable() {
    try {
      const c = await adminClient();
      await c.end();
      return undefined;
    } catch (err) {
      return `PostgreSQL at ${HOST}:${PORT}/${DATABASE} as ${ADMIN}: ${err instanceof Error ? err.message : String(err)}`;
    }
  },

  async setup(): Promise<HarnessTable> {
    const admin = await adminClient();
    const table = `conf_${uid()}`;
    const q = `"${table}"`;
    try {
      await admin.query(`CREATE TABLE ${q} (id TEXT PRIMARY KEY, first VARCHAR(20), last TEXT, age INTEGER, extra TEXT)`);
      // The admin role owns the table; the connector's role must be able to write it.
      await admin.query(`GRANT ALL ON ${q} TO "${USER}"`);
    } catch (err) {
      await admin.end().catch(() => undefined);
      throw err;
    }
    const connection = new PostgresConnection(() => configGet('PgUser'), () => configGet('PgPassword'), `${HOST}:${PORT}/${DATABASE}`);
    return {
      connector: new PostgresConnector(connection, table, 'id'),
      params: { PgUser: USER, PgPassword: 'x' },
      // Trust auth accepts any password, so a role that does not exist is what gets refused. The
      // server's message names the role (`role "norole" does not exist`) and the suite checks that
      // no bad value longer than 6 characters shows in its reports: the role name stays short, and
      // the long password is what that check actually guards.
      badParams: { PgUser: 'norole', PgPassword: 'wrong-password-1' },
      async rows() {
        // COLLATE "C": byte order, as a JavaScript sort of ASCII ids gives.
        const { rows } = await admin.query<{ id: string; first: string | null; last: string | null; age: string | null; extra: string | null }>(
          `SELECT id, first, last, age::text AS age, extra FROM ${q} ORDER BY id COLLATE "C"`,
        );
        return rows;
      },
      async setExtra(id, value) {
        await admin.query(`UPDATE ${q} SET extra = $1 WHERE id = $2`, [value, id]);
      },
      async dropConnections() {
        // Every session of the connector's role in this database, never the harness's own.
        await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1 AND datname = current_database() AND pid <> pg_backend_pid()', [USER]);
      },
      async teardown() {
        try {
          await admin.query(`DROP TABLE IF EXISTS ${q}`);
        } finally {
          await admin.end().catch(() => undefined);
        }
      },
    };
  },
};
