// The conversion table's cases (runtime/connectors/conversions.ts) through every live
// database (MariaDB, PostgreSQL, SQLite, Cassandra): each value written by the real driver into a column of its family's case type, then
// read back by SQL. A refused value must be dead-lettered and its row never written; a written
// one must be what the table says. WB_CONNECTORS=mysql,postgres filters, as in connectors.test.ts.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import cassandra from 'cassandra-driver';
import { createPool } from 'mysql2/promise';
import { Client } from 'pg';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { setParamSource } from '../../recipes/config-get.ts';
import { CassandraConnection, CassandraConnector, MySqlConnection, MySqlConnector, PostgresConnection, PostgresConnector, SqliteConnection, SqliteConnector, writeBehind } from '../../recipes/index.ts';
import type { Connector } from '../../recipes/options.ts';
import type { BacklogEntry } from '../../runtime/backlog/entry.ts';
import { CASE_COLUMN_TYPES, CONVERSION_CASES, type LiveDialect } from '../../runtime/connectors/conversions.ts';
import { driverFor } from '../../runtime/connectors/drivers.ts';
import { sameValue } from '../../runtime/verify/compare.ts';
import { planBatch } from '../../runtime/writer/plan.ts';
import { TableWriter } from '../../runtime/writer/table-writer.ts';
import { uid } from '../helpers/wait.ts';
import { needServer } from '../helpers/required.ts';

type Family = keyof typeof CASE_COLUMN_TYPES;
const FAMILIES = Object.keys(CASE_COLUMN_TYPES) as Family[];
const MAPPINGS = Object.fromEntries(FAMILIES.map((f) => [`f_${f}`, `c_${f}`]));

/** A live database: a fresh table with one column per family, read back as text; undefined: not reachable. */
interface Live {
  readonly connector: Connector;
  rows(): Promise<Map<string, Record<string, string | null>>>;
  close(): Promise<void>;
}

const table = `conv_${uid()}`;
const columnsSql = (dialect: LiveDialect): string => FAMILIES.map((f) => `c_${f} ${CASE_COLUMN_TYPES[f][dialect]}`).join(', ');

const DATABASES: Record<LiveDialect, () => Promise<Live | string>> = {
  async mysql() {
    const pool = createPool({ host: '127.0.0.1', port: 3306, user: 'root', password: '', database: 'test', connectionLimit: 1 });
    await pool.query(`CREATE TABLE ${table} (id VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin PRIMARY KEY, ${columnsSql('mysql')}) CHARACTER SET utf8mb4`);
    return {
      connector: new MySqlConnector(new MySqlConnection('root', '', '127.0.0.1:3306/test'), table, 'id'),
      async rows() {
        const [rows] = await pool.query(`SELECT id, ${FAMILIES.map((f) => `CAST(c_${f} AS CHAR) AS c_${f}`).join(', ')} FROM ${table}`);
        return new Map((rows as Array<Record<string, string | null>>).map((r) => [String(r['id']), r]));
      },
      async close() {
        await pool.query(`DROP TABLE IF EXISTS ${table}`);
        await pool.end();
      },
    };
  },
  async postgres() {
    const client = new Client({ host: '127.0.0.1', port: 5432, database: 'test', user: 'postgres' });
    await client.connect();
    await client.query(`CREATE TABLE ${table} (id text PRIMARY KEY, ${columnsSql('postgres')})`);
    return {
      connector: new PostgresConnector(new PostgresConnection('postgres', '', '127.0.0.1:5432/test'), table, 'id'),
      async rows() {
        const { rows } = await client.query(`SELECT id, ${FAMILIES.map((f) => `c_${f}::text AS c_${f}`).join(', ')} FROM ${table}`);
        return new Map((rows as Array<Record<string, string | null>>).map((r) => [String(r['id']), r]));
      },
      async close() {
        await client.query(`DROP TABLE IF EXISTS ${table}`);
        await client.end();
      },
    };
  },
  async sqlite() {
    const dir = mkdtempSync(join(tmpdir(), 'wbsync-conv-'));
    const path = join(dir, 'conv.db');
    const db = new Database(path);
    db.exec(`CREATE TABLE ${table} (id TEXT PRIMARY KEY, ${columnsSql('sqlite')})`);
    return {
      connector: new SqliteConnector(new SqliteConnection(path), table, 'id'),
      async rows() {
        const rows = db.prepare(`SELECT id, ${FAMILIES.map((f) => `CAST(c_${f} AS TEXT) AS c_${f}`).join(', ')} FROM ${table}`).all();
        return new Map((rows as Array<Record<string, string | null>>).map((r) => [String(r['id']), r]));
      },
      async close() {
        db.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
  async cassandra() {
    // scripts/cassandra.sh's node (.ci/run starts it); skipped with the reason when it does not answer.
    const client = new cassandra.Client({ contactPoints: ['127.0.0.1:9142'], localDataCenter: 'datacenter1', credentials: { username: 'cassandra', password: 'cassandra' } });
    try {
      await client.connect();
    } catch (err) {
      await client.shutdown().catch(() => undefined);
      return `Cassandra not reachable on 127.0.0.1:9142 (scripts/cassandra.sh start): ${String(err).split('\n')[0]}`;
    }
    await client.execute("CREATE KEYSPACE IF NOT EXISTS wbconf WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}");
    await client.execute(`CREATE TABLE wbconf.${table} (id text PRIMARY KEY, ${columnsSql('cassandra')})`);
    const text = (v: unknown): string | null => (v === null || v === undefined ? null : v instanceof Date ? v.toISOString() : String(v));
    return {
      connector: new CassandraConnector(new CassandraConnection('cassandra', 'cassandra', '127.0.0.1:9142', { localDataCenter: 'datacenter1', keyspace: 'wbconf' }), table, 'id'),
      async rows() {
        const res = await client.execute(`SELECT * FROM wbconf.${table}`, [], { fetchSize: 10_000 });
        return new Map(res.rows.map((r) => [String(r.get('id')), Object.fromEntries(FAMILIES.map((f) => [`c_${f}`, text(r.get(`c_${f}`))]))]));
      },
      async close() {
        await client.execute(`DROP TABLE IF EXISTS wbconf.${table}`).catch(() => undefined);
        await client.shutdown();
      },
    };
  },
};

const only = process.env['WB_CONNECTORS']?.split(',').map((s) => s.trim());
setParamSource(async () => undefined);

for (const dialect of (['mysql', 'postgres', 'sqlite', 'cassandra'] as const).filter((d) => !only || only.includes(d))) {
  describe(`conversion table, live: ${dialect}`, () => {
    const cases = CONVERSION_CASES.map((k, i) => ({ ...k, id: `k${i}` })).filter((k) => !k.only || k.only.includes(dialect));
    let live: Live | undefined;
    afterAll(async () => live?.close());

    it(`writes or refuses each of the ${cases.length} cases as the table says`, async (ctx) => {
      const opened = await DATABASES[dialect]();
      if (typeof opened === 'string') return needServer(ctx, opened);
      live = opened;
      const reg = writeBehind({ name: `Conv_${dialect}`, version: '1', connector: live.connector, keysPrefix: 'k', mappings: MAPPINGS });
      const writer = new TableWriter(driverFor(reg.connector), Object.values(MAPPINGS), Object.keys(MAPPINGS), pino({ level: 'silent' }), () => undefined, new AbortController().signal, { minMs: 50, maxMs: 200 });
      const entries: BacklogEntry[] = cases.map((k, i) => ({ id: `${i + 1}-0`, key: `k:${k.id}`, ack: '', op: 'u', fields: new Map([[`f_${k.family}`, k.input]]) }));
      const plan = planBatch(entries, reg);
      const dead = await writer.write({ table: reg.connector.table, pkColumn: reg.connector.pkColumn, columns: plan.columns }, plan.rows);
      await writer.close();
      const deadKeys = new Map(dead.map((d) => [d.key, d.error]));
      const rows = await live.rows();
      const wrong: string[] = [];
      for (const k of cases) {
        const row = rows.get(k.id);
        const what = `${k.family} ${JSON.stringify(k.input)}`;
        if (k.stored === null) {
          if (row !== undefined) wrong.push(`${what}: should be refused, the table holds ${JSON.stringify(row[`c_${k.family}`])}`);
          else if (!deadKeys.has(`k:${k.id}`)) wrong.push(`${what}: refused but not dead-lettered`);
          else expect(deadKeys.get(`k:${k.id}`)).toMatch(new RegExp(`^key 'k:${k.id}': field 'f_${k.family}' = .* column c_${k.family} \\(`, 'i'));
          continue;
        }
        if (row === undefined) {
          wrong.push(`${what}: should be written as ${JSON.stringify(k.stored)}, was refused: ${deadKeys.get(`k:${k.id}`) ?? '(no dead letter either)'}`);
          continue;
        }
        const got = row[`c_${k.family}`] ?? null;
        if (!sameValue(k.stored, got, k.family)) wrong.push(`${what}: the table holds ${JSON.stringify(got)}, the spec says ${JSON.stringify(k.stored)}`);
      }
      expect(wrong).toEqual([]);
      expect(dead).toHaveLength(cases.filter((k) => k.stored === null).length);
    }, 60_000);
  });
}
