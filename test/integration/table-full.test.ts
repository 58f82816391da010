import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { diffTable } from '../helpers/compare.ts';
import { TestEnv } from '../helpers/env.ts';
import { startRuntime, type RuntimeProcess } from '../helpers/processes.ts';
import { waitFor } from '../helpers/wait.ts';

const MAPPINGS = { first_name: 'first', last_name: 'last', age: 'age' };
const KEYS = 2000;
// A MEMORY table is bounded by max_heap_table_size as it was when the table was created (or
// altered): 128 KiB holds about 230 of these rows. Set for this test's own session only.
const SMALL_HEAP = 128 * 1024;
const BIG_HEAP = 64 * 1024 * 1024;

interface Status {
  readonly error: string | null;
  readonly lastError: string | null;
  readonly deadLetters: number;
  readonly deadLettered: number;
  readonly backlog: number;
}

// "The table is full" (errno 1114) is about the table, not about any row: the writer must retry
// it with backoff and show it in `status`, never dead-letter the rows it could not write.
describe('a MariaDB table that is full', () => {
  const env = new TestEnv();
  let rt: RuntimeProcess | undefined;

  /** Runs statements on one pooled connection, so that SET SESSION applies to the ones after it. */
  const onOneConnection = async (statements: readonly string[]): Promise<void> => {
    const conn = await env.db.getConnection();
    try {
      for (const sql of statements) await conn.query(sql);
    } finally {
      await conn.query('SET SESSION max_heap_table_size = DEFAULT').catch(() => undefined);
      conn.release();
    }
  };
  const status = async (): Promise<Status> => JSON.parse((await env.cli(['status', env.name, '--json'])).stdout).recipes[0] as Status;
  const deadLetters = async (): Promise<unknown[]> => (JSON.parse((await env.cli(['dlq', env.name, '--json'])).stdout) as { deadLetters: never[] }).deadLetters as unknown[];

  beforeAll(async () => {
    await onOneConnection([
      `SET SESSION max_heap_table_size = ${SMALL_HEAP}`,
      `DROP TABLE IF EXISTS \`${env.table}\``,
      `CREATE TABLE \`${env.table}\` (id VARCHAR(64) COLLATE utf8mb4_nopad_bin PRIMARY KEY, first VARCHAR(20), last VARCHAR(40), age INT) ENGINE=MEMORY MAX_ROWS=${KEYS}`,
    ]);
    await env.tuneCredentials();
    rt = await startRuntime(env.runtimeArgs());
    await env.upload(env.writeRecipe({ version: '1', mappings: MAPPINGS }), rt);
  });

  afterAll(async () => {
    await rt?.stop();
    await env.close();
  });

  it('retries and shows the error, dead-letters nothing, and writes every row once the table is enlarged', async () => {
    for (let from = 0; from < KEYS; from += 500) {
      const p = env.redis.pipeline();
      for (let i = from; i < Math.min(KEYS, from + 500); i++) p.hset(`${env.prefix}:${i}`, 'first_name', `f${i}`, 'last_name', `l${i}`, 'age', String(i));
      await p.exec();
    }

    // Either outcome ends the wait: the old rule dead-lettered the rows, the right one reports the error.
    const full = await waitFor('the table to fill up', async () => {
      const s = await status();
      return s.deadLetters > 0 || /is full/.test(s.error ?? '') ? s : undefined;
    }, 60_000);
    expect(full.deadLetters).toBe(0);
    expect(full.error).toMatch(/The table '.*' is full/);

    // Still so after several retries: the rows wait in the backlog, none is given up on.
    await new Promise((r) => setTimeout(r, 4000));
    const later = await status();
    expect(later).toMatchObject({ deadLetters: 0, deadLettered: 0 });
    expect(later.error).toMatch(/is full/);
    expect(later.backlog).toBeGreaterThan(0);
    expect(await deadLetters()).toEqual([]);
    const held = await env.count();
    expect(held).toBeGreaterThan(0);
    expect(held).toBeLessThan(KEYS);

    await onOneConnection([`SET SESSION max_heap_table_size = ${BIG_HEAP}`, `ALTER TABLE \`${env.table}\` MAX_ROWS=100000`]);

    await waitFor(`all ${KEYS} rows`, async () => (await env.count()) === KEYS, 60_000);
    const done = await waitFor('the error to clear and the backlog to drain', async () => {
      const s = await status();
      return s.error === null && s.backlog === 0 ? s : undefined;
    }, 30_000);
    expect(done).toMatchObject({ deadLetters: 0, deadLettered: 0 });
    expect(done.lastError).toMatch(/is full/);
    expect(await deadLetters()).toEqual([]);
    // Key by key against Redis itself.
    expect(await diffTable(env, MAPPINGS)).toEqual([]);
  });
});
