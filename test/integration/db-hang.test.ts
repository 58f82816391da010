// Issue #11, "a database that hangs": the database's side of the connection goes silent (a proxy
// stopped with SIGSTOP) without any error. The runtime must give up on the call after its query
// or connect timeout, say so in `wb-cli status` and the log, drop the session and retry; when the
// database answers again every row arrives and nothing is dead-lettered.
//
// The silence is made by a proxy this test owns (TcpProxy.freeze/thaw) between the runtime and
// the database: the machine's MariaDB and PostgreSQL keep running for everyone else.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backlogLength } from '../helpers/backlog.ts';
import { diffRows, expectedRows } from '../helpers/compare.ts';
import { MYSQL, TestEnv } from '../helpers/env.ts';
import { startRuntime, type RuntimeProcess } from '../helpers/processes.ts';
import { TcpProxy } from '../helpers/tcp-proxy.ts';
import { BackgroundWriter } from '../helpers/verify.ts';
import { waitFor } from '../helpers/wait.ts';

const MAPPINGS = { first_name: 'first', last_name: 'last', age: 'age' };
const LIMIT_MS = 2000;
// Short limits, so a hang shows within seconds (the defaults are 10 s and 30 s).
const TIMEOUT_FLAGS = ['--db-connect-timeout-ms', String(LIMIT_MS), '--db-query-timeout-ms', String(LIMIT_MS)];
const NO_ANSWER = /no answer within 2 s/;

interface Database {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  /** The recipe's connector, through the proxy. */
  connector(port: number): string;
  createTable(): Promise<void>;
  /** The table's rows: `id` plus the mapped columns. */
  rows(): Promise<Array<Record<string, unknown>>>;
  close(): Promise<void>;
}

function mariadb(env: TestEnv): Database {
  return {
    name: 'MariaDB', host: MYSQL.host, port: MYSQL.port,
    connector: (port) => `new MySqlConnector(new MySqlConnection('${MYSQL.user}', '${MYSQL.password}', '127.0.0.1:${port}/${MYSQL.database}'), '${env.table}', 'id')`,
    createTable: () => env.createTable(),
    rows: async () => (await env.rows()) as Array<Record<string, unknown>>,
    close: async () => undefined, // env.close() drops the table
  };
}

function postgres(env: TestEnv): Database {
  const pg = new Client({ host: '127.0.0.1', port: 5432, database: 'test', user: 'postgres' });
  const connected = pg.connect();
  return {
    name: 'PostgreSQL', host: '127.0.0.1', port: 5432,
    connector: (port) => `new PostgresConnector(new PostgresConnection('postgres', '', '127.0.0.1:${port}/test'), '${env.table}', 'id')`,
    createTable: async () => {
      await connected;
      await pg.query(`DROP TABLE IF EXISTS ${env.table}`);
      await pg.query(`CREATE TABLE ${env.table} (id VARCHAR(255) PRIMARY KEY, first VARCHAR(20), last VARCHAR(255), age INT)`);
    },
    rows: async () => (await pg.query(`SELECT id, first, last, age FROM ${env.table}`)).rows as Array<Record<string, unknown>>,
    close: async () => {
      await pg.query(`DROP TABLE IF EXISTS ${env.table}`).catch(() => undefined);
      await pg.end();
    },
  };
}

for (const make of [mariadb, postgres]) {
  describe(`${make.name} stops answering (a frozen proxy)`, () => {
    const env = new TestEnv();
    const db = make(env);
    let proxy: TcpProxy;
    let rt: RuntimeProcess;

    const status = async (): Promise<{ error: string | null; lastError: string | null; deadLetters: number; backlogEntries: number }> =>
      JSON.parse((await env.cli(['status', env.name, '--json'])).stdout).recipes[0];
    /** Waits until every key is in the table as in Redis, the backlog is empty and the error cleared. */
    const converged = async (): Promise<void> => {
      let last: string[] = [];
      await waitFor('the table to equal Redis', async () => {
        if ((await backlogLength(env)) > 0) return false;
        last = diffRows(await expectedRows(env.redis, env.prefix, MAPPINGS), await db.rows());
        return last.length === 0;
      }, 20_000, 250).catch((err: unknown) => {
        throw new Error(`${String(err)}\nfirst differences: ${last.slice(0, 5).join('; ')}`);
      });
      const s = await waitFor('the error to clear', async () => {
        const st = await status();
        return st.error === null ? st : undefined;
      }, 10_000, 250);
      expect(s).toMatchObject({ error: null, deadLetters: 0 });
    };
    const logged = (pattern: RegExp): boolean => rt.hasLog((r) => r['level'] === 50 && pattern.test(String(r['msg'])));

    beforeAll(async () => {
      proxy = await TcpProxy.start(db.host, db.port);
      await db.createTable();
      await env.tuneCredentials();
      rt = await startRuntime(env.runtimeArgs(TIMEOUT_FLAGS));
      const file = join(env.dir, 'hang.ts');
      writeFileSync(file, `import { MySqlConnection, MySqlConnector, PostgresConnection, PostgresConnector, writeBehind } from 'wbsync';
export default writeBehind({ name: '${env.name}', version: '1', keysPrefix: '${env.prefix}', mappings: ${JSON.stringify(MAPPINGS)}, connector: ${db.connector(proxy.port)} });
`);
      // The upload's own key-column check connects through the proxy too: it is not frozen yet.
      await env.upload(file, rt);
    });

    afterAll(async () => {
      proxy?.thaw();
      await rt?.stop();
      await proxy?.close();
      await db.close();
      await env.close();
    });

    it('a connect that gets no answer fails after the connect timeout, is retried, and connects once thawed', async () => {
      // The writer connects lazily, at its first batch: nothing has connected yet.
      proxy.freeze();
      try {
        const frozenAt = Date.now();
        const p = env.redis.pipeline();
        for (let i = 0; i < 50; i++) p.hset(`${env.prefix}:c${i}`, 'first_name', `c${i}`, 'last_name', 'connect', 'age', String(i));
        await p.exec();
        const s = await waitFor('status to show the connect timeout', async () => {
          const st = await status();
          return st.error !== null && NO_ANSWER.test(st.error) ? st : undefined;
        }, 10_000, 200);
        expect(s.error).toMatch(/connect failed: no answer within 2 s/);
        expect(Date.now() - frozenAt).toBeLessThan(8_000);
        expect(logged(/connect failed: no answer within 2 s/)).toBe(true);
      } finally {
        proxy.thaw();
      }
      await converged();
    });

    it('a batch that gets no answer fails after the query timeout, is retried, and every row arrives once thawed', async () => {
      const writer = new BackgroundWriter(env, 500, 50, 50);
      try {
        await waitFor('rows arriving', async () => (await db.rows()).length > 100, 20_000);
        proxy.freeze();
        try {
          const frozenAt = Date.now();
          const s = await waitFor('status to show the timeout', async () => {
            const st = await status();
            return st.error !== null && NO_ANSWER.test(st.error) ? st : undefined;
          }, 10_000, 200);
          expect(Date.now() - frozenAt).toBeLessThan(8_000);
          expect(s.backlogEntries).toBeGreaterThan(0);
          // The batch in flight when the answers stopped: its session is destroyed and it is retried.
          await waitFor('the log to name the write timeout', () => logged(/write failed: no answer within 2 s/), 5_000);
          // Long enough for reconnects to time out too, while the writer keeps writing into the backlog.
          await new Promise((r) => setTimeout(r, 3_000));
        } finally {
          proxy.thaw();
        }
        await new Promise((r) => setTimeout(r, 1_000));
      } finally {
        await writer.stop();
      }
      console.log(`${make.name} hang: ${writer.acknowledged} acknowledged HSETs`);
      await converged();
      expect((JSON.parse((await env.cli(['dlq', env.name, '--json'])).stdout) as { deadLetters: never[] }).deadLetters).toEqual([]);
    });
  });
}
