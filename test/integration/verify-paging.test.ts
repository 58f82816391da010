import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { createPool, type RowDataPacket } from 'mysql2/promise';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { backlogLength } from '../helpers/backlog.ts';
import { MYSQL, TestEnv } from '../helpers/env.ts';
import { startRuntime, type RuntimeProcess } from '../helpers/processes.ts';
import { waitFor } from '../helpers/wait.ts';
import { needServer } from '../helpers/required.ts';

/**
 * `wb-cli verify` sweeps the table by keyset pagination, 500 ids a page. The page order and the
 * cursor comparison must both be the key column's own: an INT key (numeric order, not the order
 * of its text) and text keys with mixed case and punctuation (the column's collation, not the
 * connection's). Each case writes its keys through a runtime, plants orphan rows by SQL spread
 * through the key order, and checks that verify counts every row once, finds exactly the
 * orphans, and that --fix --delete-extra leaves the table equal to Redis.
 */

const PG = {
  host: process.env['WB_TEST_PG_HOST'] ?? '127.0.0.1',
  port: Number(process.env['WB_TEST_PG_PORT'] ?? 5432),
  database: process.env['WB_TEST_PG_DATABASE'] ?? 'test',
  user: process.env['WB_TEST_PG_USER'] ?? 'postgres',
};

type KeyKind = 'int' | 'text';

/** One database's side of a case: the table, its recipe, and direct SQL. */
interface Target {
  create(kind: KeyKind): Promise<void>;
  /** Sets the recipe's credential parameters and returns the recipe file. */
  recipe(): Promise<string>;
  /** Inserts rows directly, behind the runtime's back. */
  insert(ids: readonly string[]): Promise<void>;
  /** Every id in the table, as text. */
  ids(): Promise<string[]>;
  drop(): Promise<void>;
}

interface Dialect {
  readonly name: 'mysql' | 'postgres';
  unavailable(): Promise<string | undefined>;
  target(env: TestEnv): Promise<Target>;
}

const mysql: Dialect = {
  name: 'mysql',
  async unavailable() {
    const pool = createPool({ ...MYSQL, connectionLimit: 1 });
    try {
      await pool.query('SELECT 1');
      return undefined;
    } catch (err) {
      return `MariaDB not reachable: ${String(err)}`;
    } finally {
      await pool.end();
    }
  },
  async target(env) {
    const q = `\`${env.table}\``;
    return {
      async create(kind) {
        // nopad_bin: ids that differ only in case (or in trailing characters) are distinct rows.
        const key = kind === 'int' ? 'INT' : 'VARCHAR(191) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin';
        await env.db.query(`DROP TABLE IF EXISTS ${q}`);
        await env.db.query(`CREATE TABLE ${q} (id ${key} NOT NULL PRIMARY KEY, first VARCHAR(64))`);
      },
      async recipe() {
        await env.tuneCredentials();
        return env.writeRecipe({ version: '1', mappings: { first_name: 'first' } });
      },
      async insert(ids) {
        await env.db.query(`INSERT INTO ${q} (id, first) VALUES ${ids.map(() => '(?, ?)').join(',')}`, ids.flatMap((id) => [id, 'orphan']));
      },
      async ids() {
        const [rows] = await env.db.query<RowDataPacket[]>(`SELECT CAST(id AS CHAR) AS v FROM ${q}`);
        return rows.map((r) => String(r['v']));
      },
      async drop() {
        await env.db.query(`DROP TABLE IF EXISTS ${q}`);
      },
    };
  },
};

async function pgClient(): Promise<Client> {
  const c = new Client({ ...PG, password: 'x', connectionTimeoutMillis: 5_000 });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

const postgres: Dialect = {
  name: 'postgres',
  async unavailable() {
    try {
      await (await pgClient()).end();
      return undefined;
    } catch (err) {
      return `PostgreSQL at ${PG.host}:${PG.port}/${PG.database}: ${err instanceof Error ? err.message : String(err)}`;
    }
  },
  async target(env) {
    const c = await pgClient();
    const q = `"${env.table}"`;
    let cast = 'text';
    return {
      async create(kind) {
        cast = kind === 'int' ? 'integer' : 'text';
        // A linguistic collation when the server has ICU: its order is neither byte order nor the
        // order of a JavaScript sort, so only the column's own order pages correctly.
        const icu = (await c.query(`SELECT 1 FROM pg_collation WHERE collname = 'und-x-icu'`)).rowCount ?? 0;
        const key = kind === 'int' ? 'INTEGER' : `TEXT${icu > 0 ? ' COLLATE "und-x-icu"' : ''}`;
        await c.query(`DROP TABLE IF EXISTS ${q}`);
        await c.query(`CREATE TABLE ${q} (id ${key} PRIMARY KEY, first TEXT)`);
      },
      async recipe() {
        await env.redis.hset(`${env.ns}:params`, 'PgUser', PG.user, 'PgPassword', 'x');
        const file = join(env.dir, `recipe-${env.id}.ts`);
        writeFileSync(file, `import { configGet, PostgresConnection, PostgresConnector, writeBehind } from 'wbsync';
const connection = new PostgresConnection(() => configGet('PgUser'), () => configGet('PgPassword'), '${PG.host}:${PG.port}/${PG.database}');
export default writeBehind({
  name: '${env.name}',
  version: '1',
  connector: new PostgresConnector(connection, '${env.table}', 'id'),
  keysPrefix: '${env.prefix}',
  mappings: { first_name: 'first' },
});
`);
        return file;
      },
      async insert(ids) {
        // Through the column's type: '-5' becomes the integer -5 for an INTEGER key.
        await c.query(`INSERT INTO ${q} (id, first) SELECT u::${cast}, 'orphan' FROM unnest($1::text[]) AS u`, [ids]);
      },
      async ids() {
        const { rows } = await c.query<{ v: string }>(`SELECT id::text AS v FROM ${q}`);
        return rows.map((r) => r.v);
      },
      async drop() {
        try {
          await c.query(`DROP TABLE IF EXISTS ${q}`);
        } finally {
          await c.end().catch(() => undefined);
        }
      },
    };
  },
};

/** -40..1299: 1,340 integer ids over three pages, negatives and zero included. */
function intIds(): string[] {
  return Array.from({ length: 1340 }, (_, i) => String(i - 40));
}

/**
 * 1,100 text ids: mixed case (`User_1`, `user_1`, `USER.1` are three rows), `_`, `.`, `@`, `-`
 * and inner spaces, so collation order, byte order and the order of a cast all differ.
 */
function textIds(): string[] {
  const forms = [
    (i: number) => `User_${i}`, (i: number) => `user_${i}`, (i: number) => `USER.${i}`, (i: number) => `a.b@c-${i}`,
    (i: number) => `x y ${i}`, (i: number) => `X-Y_${i}`, (i: number) => `${i}@Mail.example`, (i: number) => `_${i}.z`,
    (i: number) => `-${i} z`, (i: number) => `z.${i}`, (i: number) => `Zz@${i}`,
  ];
  return Array.from({ length: 100 }, (_, i) => forms.map((f) => f(i))).flat();
}

/** 40 ids taken out of `all`, spread through it: they become the orphan rows. */
function split(all: readonly string[], every: number): { keys: string[]; orphans: string[] } {
  const orphans = all.filter((_, i) => i % every === 5).slice(0, 40);
  const gone = new Set(orphans);
  return { keys: all.filter((id) => !gone.has(id)), orphans };
}

const sorted = (ids: readonly string[]): string[] => [...ids].sort();

interface Report {
  keys: number;
  rows: number;
  missing: { count: number; sample: string[] };
  differing: { count: number };
  extra: { count: number; sample: string[] };
  deleteEnqueued: number;
  clean: boolean;
}

for (const dialect of [mysql, postgres]) {
  describe(`verify pages through the whole table in the key column's own order: ${dialect.name}`, () => {
    let skip: string | undefined;
    let env: TestEnv | undefined;
    let target: Target | undefined;
    let rt: RuntimeProcess | undefined;

    beforeAll(async () => {
      skip = await dialect.unavailable();
    });

    afterEach(async () => {
      await rt?.stop();
      await target?.drop().catch(() => undefined);
      await env?.close();
      rt = undefined;
      target = undefined;
      env = undefined;
    });

    const run = async (kind: KeyKind, all: readonly string[], every: number): Promise<void> => {
      const e = (env = new TestEnv());
      const t = (target = await dialect.target(e));
      const { keys, orphans } = split(all, every);
      expect(orphans).toHaveLength(40);
      await t.create(kind);
      const file = await t.recipe();
      rt = await startRuntime(e.runtimeArgs());
      await e.upload(file, rt);

      // The keys, through the runtime.
      for (let i = 0; i < keys.length; i += 500) {
        const p = e.redis.pipeline();
        for (const id of keys.slice(i, i + 500)) p.hset(`${e.prefix}:${id}`, 'first_name', `n ${id}`);
        await p.exec();
      }
      await waitFor(`${keys.length} rows written`, async () => (await t.ids()).length === keys.length && (await backlogLength(e)) === 0, 60_000, 250);
      expect(sorted(await t.ids())).toEqual(sorted(keys));

      // The orphans, behind its back.
      await t.insert(orphans);
      const total = keys.length + orphans.length;
      expect(await t.ids()).toHaveLength(total);

      const json = await e.cli(['verify', e.name, '--json']);
      expect(json.code, json.stderr).toBe(1);
      const report = JSON.parse(json.stdout) as Report;
      expect({ keys: report.keys, rows: report.rows, missing: report.missing.count, differing: report.differing.count, extra: report.extra.count })
        .toEqual({ keys: keys.length, rows: total, missing: 0, differing: 0, extra: orphans.length });
      expect(report.extra.sample).toHaveLength(10);
      expect(new Set(report.extra.sample).size).toBe(10);
      for (const id of report.extra.sample) expect(orphans).toContain(id);

      const plain = await e.cli(['verify', e.name]);
      expect(plain.code).toBe(1);
      expect(plain.stdout).not.toContain('clean');
      expect(plain.stdout).toContain(`${keys.length} keys in Redis, ${total} rows in the table`);

      const fix = await e.cli(['verify', e.name, '--fix', '--delete-extra', '--json']);
      expect(fix.code, fix.stderr).toBe(0);
      const fixed = JSON.parse(fix.stdout) as Report;
      expect({ rows: fixed.rows, extra: fixed.extra.count, deleteEnqueued: fixed.deleteEnqueued }).toEqual({ rows: total, extra: 40, deleteEnqueued: 40 });
      await waitFor('the backlog drained', async () => (await backlogLength(e)) === 0, 60_000, 250);
      await waitFor('the orphans deleted', async () => (await t.ids()).length === keys.length, 30_000, 250).catch(() => undefined);

      const left = await t.ids();
      expect(left.filter((id) => orphans.includes(id))).toEqual([]);
      expect(sorted(left)).toEqual(sorted(keys));

      const clean = await e.cli(['verify', e.name]);
      expect(clean.stdout).toContain(`${keys.length} keys in Redis, ${keys.length} rows in the table`);
      expect(clean.stdout).toContain('clean: the table equals Redis');
      expect(clean.code).toBe(0);
    };

    it('an INT key over three pages, with 40 orphan rows', async (ctx) => {
      if (skip) return needServer(ctx, skip);
      await run('int', intIds(), 33);
    });

    it('text keys with mixed case and punctuation, with 40 orphan rows', async (ctx) => {
      if (skip) return needServer(ctx, skip);
      await run('text', textIds(), 27);
    });
  });
}
