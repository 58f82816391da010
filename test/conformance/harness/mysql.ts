import { createPool, type RowDataPacket } from 'mysql2/promise';
import { configGet, MySqlConnection, MySqlConnector } from '../../../recipes/index.ts';
import type { ConnectorHarness, HarnessTable } from './types.ts';

const ADMIN = { host: '127.0.0.1', port: 3306, user: 'root', password: '', database: 'test' };
const USER = 'wbconf';
const PASSWORD = 'conf-pass-1';

/** MariaDB on 127.0.0.1:3306; the connector logs in as its own user so its sessions can be killed. */
export const mysqlHarness: ConnectorHarness = {
  name: 'mysql',
  async unavailable() {
    const pool = createPool({ ...ADMIN, connectionLimit: 1 });
    try {
      await pool.query('SELECT 1');
      return undefined;
    } catch (err) {
      return `MariaDB not reachable: ${String(err)}`;
    } finally {
      await pool.end();
    }
  },
  async setup(): Promise<HarnessTable> {
    const admin = createPool({ ...ADMIN, connectionLimit: 2 });
    const table = `conf_${Math.random().toString(36).slice(2, 8)}`;
    await admin.query(`CREATE USER IF NOT EXISTS '${USER}'@'%' IDENTIFIED BY '${PASSWORD}'`);
    await admin.query(`CREATE USER IF NOT EXISTS '${USER}'@'localhost' IDENTIFIED BY '${PASSWORD}'`);
    await admin.query(`GRANT ALL ON test.* TO '${USER}'@'%'`);
    await admin.query(`GRANT ALL ON test.* TO '${USER}'@'localhost'`);
    await admin.query(`CREATE TABLE ${table} (id VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin PRIMARY KEY, first VARCHAR(20), last TEXT, age INT, extra TEXT)`);
    return {
      connector: new MySqlConnector(new MySqlConnection(() => configGet('MyUser'), () => configGet('MyPassword'), '127.0.0.1:3306/test'), table, 'id'),
      params: { MyUser: USER, MyPassword: PASSWORD },
      badParams: { MyUser: USER, MyPassword: 'wrong-password' },
      async rows() {
        const [rows] = await admin.query<RowDataPacket[]>(
          `SELECT id, first, last, CAST(age AS CHAR) AS age, extra FROM ${table} ORDER BY id`);
        return rows as Array<{ id: string; first: string | null; last: string | null; age: string | null; extra: string | null }>;
      },
      async setExtra(id, value) {
        await admin.query(`UPDATE ${table} SET extra = ? WHERE id = ?`, [value, id]);
      },
      async dropConnections() {
        const [procs] = await admin.query<RowDataPacket[]>('SELECT id FROM information_schema.PROCESSLIST WHERE user = ?', [USER]);
        for (const p of procs) await admin.query(`KILL ${Number(p['id'])}`).catch(() => undefined);
      },
      async teardown() {
        await admin.query(`DROP TABLE IF EXISTS ${table}`);
        await admin.end();
      },
    };
  },
};
