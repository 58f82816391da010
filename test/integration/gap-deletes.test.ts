import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { diffTable } from '../helpers/compare.ts';
import { TestEnv } from '../helpers/env.ts';
import { startRuntime, type RuntimeProcess } from '../helpers/processes.ts';
import { freePort, TestRedis } from '../helpers/redis-server.ts';
import { waitFor } from '../helpers/wait.ts';

// Keyspace events lost in a gap (no runtime, a cut subscription) hide deletes from the reconcile,
// which only sees keys that exist: the sweep after the gap finds the rows whose key is gone.
const MAPPINGS = { first_name: 'first', last_name: 'last', age: 'age' };
const N = 1200; // more than one page of the sweep (500 ids)

/** Sets N keys and waits until they are rows and the recipe's first reconcile is done. */
async function syncKeys(env: TestEnv): Promise<void> {
  const tx = env.redis.multi();
  for (let i = 0; i < N; i++) tx.hset(`${env.prefix}:${i}`, 'first_name', `f${i}`, 'age', String(i));
  await tx.exec();
  await waitFor(`${N} rows`, async () => (await env.count()) === N, 20_000);
  await waitFor('first reconcile done', () => env.redis.hget(`${env.ns}:status:${env.name}`, 'reconciledAt'));
}

/**
 * Stops the runtime and changes Redis while nothing listens: every 7th key deleted, the next one
 * changed, the next deleted and created again. Returns the ids deleted; the runtime is started again.
 */
async function gapWhileStopped(env: TestEnv, rt: RuntimeProcess): Promise<{ deleted: string[]; rt: RuntimeProcess }> {
  expect(await rt.stop()).toBe(0);
  const deleted: string[] = [];
  for (let i = 0; i < N; i += 7) {
    deleted.push(String(i));
    await env.redis.del(`${env.prefix}:${i}`);
    await env.redis.hset(`${env.prefix}:${i + 1}`, 'first_name', 'changed');
    await env.redis.del(`${env.prefix}:${i + 2}`);
    await env.redis.hset(`${env.prefix}:${i + 2}`, 'first_name', 'reborn');
  }
  return { deleted, rt: await startRuntime(env.runtimeArgs()) };
}

async function status(env: TestEnv): Promise<Record<string, unknown>> {
  return JSON.parse((await env.cli(['status', env.name, '--json'])).stdout).recipes[0];
}

async function expectTableEqualsRedis(env: TestEnv): Promise<void> {
  let diffs: string[] = [];
  await waitFor('table equals Redis', async () => (diffs = await diffTable(env, MAPPINGS)).length === 0, 20_000).catch((err: unknown) => {
    throw new Error(`${String(err)}\n${diffs.length} differences, e.g.\n${diffs.slice(0, 10).join('\n')}`);
  });
}

const swept = (reason: string) => (r: Record<string, unknown>) => r['msg'] === 'swept' && r['reason'] === reason;

describe("a gap with onExpire: 'delete'", () => {
  const env = new TestEnv();
  let rt: RuntimeProcess;

  beforeAll(async () => {
    rt = await env.startWithRecipe({ version: '1', extra: "onExpire: 'delete'," });
  });

  afterAll(async () => {
    await rt.stop();
    await env.close();
  });

  it('rows of keys deleted while no runtime ran are deleted at the next start; the others follow Redis', async () => {
    await syncKeys(env);
    const gap = await gapWhileStopped(env, rt);
    rt = gap.rt;
    await waitFor('rows of deleted keys gone', async () => (await env.count()) === N - gap.deleted.length, 20_000);
    await expectTableEqualsRedis(env);
    expect(await env.row('2')).toMatchObject({ first: 'reborn', age: null });
    expect(await env.row('1')).toMatchObject({ first: 'changed', age: 1 });
    await waitFor('sweep logged', () => rt.hasLog(swept('start-up')));
    expect(await status(env)).toMatchObject({ sweeping: null, goneRows: 0 });
  });
});

describe("a gap with the default onExpire: 'keep'", () => {
  const env = new TestEnv();
  let rt: RuntimeProcess;

  beforeAll(async () => {
    rt = await env.startWithRecipe({ version: '1' });
  });

  afterAll(async () => {
    await rt.stop();
    await env.close();
  });

  it('keeps the rows, counts them in status and logs the command that deletes them', async () => {
    await syncKeys(env);
    const gap = await gapWhileStopped(env, rt);
    rt = gap.rt;
    const s = await waitFor('goneRows in status', async () => {
      const st = await status(env);
      return st['goneRows'] !== null && st['sweeping'] === null ? st : undefined;
    }, 20_000);
    expect(s['goneRows']).toBe(gap.deleted.length);
    expect(Date.parse(String(s['goneRowsAt']))).toBeGreaterThan(Date.now() - 60_000);
    expect(await env.count()).toBe(N);
    expect(await env.row('2')).toMatchObject({ first: 'reborn', age: null });
    const command = `wb-cli verify ${env.name} --fix --delete-extra --namespace ${env.ns}`;
    expect(rt.lines.some((l) => l.includes(command))).toBe(true);
    expect((await env.cli(['status', env.name])).stdout).toContain(`${gap.deleted.length} rows whose key is gone`);

    // The command does what the log says, and status stops counting them.
    expect((await env.cli(['verify', env.name, '--fix', '--delete-extra'])).code).toBe(0);
    await expectTableEqualsRedis(env);
    expect(await status(env)).toMatchObject({ goneRows: 0 });
  });
});

describe('a new recipe over a table with rows Redis never held', () => {
  const envs: TestEnv[] = [];
  const runtimes: RuntimeProcess[] = [];

  afterAll(async () => {
    for (const rt of runtimes) await rt.stop();
    for (const env of envs) await env.close();
  });

  /** A table with two rows of its own and one key in Redis. */
  async function tableWithForeignRows(): Promise<TestEnv> {
    const env = new TestEnv();
    envs.push(env);
    await env.createTable();
    await env.db.query(`INSERT INTO \`${env.table}\` (id, first) VALUES ('foreign1', 'a'), ('foreign2', 'b')`);
    await env.tuneCredentials();
    await env.redis.hset(`${env.prefix}:k1`, 'first_name', 'k');
    return env;
  }

  async function expectForeignRowsKept(env: TestEnv, rt: RuntimeProcess, reason: string): Promise<void> {
    await waitFor('row k1', () => env.row('k1'));
    await waitFor('reconciled', () => rt.hasLog((r) => r['msg'] === 'reconciled' && r['reason'] === reason));
    await new Promise((r) => setTimeout(r, 1500)); // a sweep, if one wrongly ran, has had its time
    expect((await env.rows()).map((r) => r['id'])).toEqual(['foreign1', 'foreign2', 'k1']);
    expect(rt.hasLog((r) => String(r['msg']).startsWith('sweep'))).toBe(false);
  }

  it("keeps them when it is uploaded to a running runtime, even with onExpire: 'delete'", async () => {
    const env = await tableWithForeignRows();
    const rt = await startRuntime(env.runtimeArgs());
    runtimes.push(rt);
    await env.upload(env.writeRecipe({ version: '1', extra: "onExpire: 'delete'," }), rt);
    await expectForeignRowsKept(env, rt, 'new recipe');
  });

  it("keeps them when it is first loaded at a runtime's start, even with onExpire: 'delete'", async () => {
    const env = await tableWithForeignRows();
    const up = await env.cli(['upload', env.writeRecipe({ version: '1', extra: "onExpire: 'delete'," })]);
    expect(up.stdout).toContain('no runtime is connected');
    const rt = await startRuntime(env.runtimeArgs());
    runtimes.push(rt);
    await expectForeignRowsKept(env, rt, 'start-up');
  });
});

describe('a cut change subscription (a private redis-server)', () => {
  const server = new TestRedis(freePort());
  let env: TestEnv;
  let rt: RuntimeProcess;
  const key = (id: string) => `${env.prefix}:${id}`;

  beforeAll(async () => {
    await server.start();
    env = new TestEnv(server.url);
    rt = await env.startWithRecipe({ version: '1', extra: "onExpire: 'delete'," });
  });

  afterAll(async () => {
    await rt.stop();
    await env.close();
    await server.stop();
  });

  it('a key deleted while the subscription is cut loses its row once the subscription is restored', async () => {
    await env.redis.hset(key('gone'), 'first_name', 'g');
    await env.redis.hset(key('stays'), 'first_name', 's');
    await waitFor('2 rows', async () => (await env.count()) === 2);
    await waitFor('first reconcile done', () => env.redis.hget(`${env.ns}:status:${env.name}`, 'reconciledAt'));
    // Stopped, the runtime cannot resubscribe before the DEL: its event is certainly lost.
    process.kill(rt.pid as number, 'SIGSTOP');
    try {
      await env.redis.client('KILL', 'TYPE', 'pubsub');
      await env.redis.del(key('gone'));
      await env.redis.hset(key('new'), 'first_name', 'n');
    } finally {
      process.kill(rt.pid as number, 'SIGCONT');
    }
    await waitFor('cut logged', () => rt.hasLog((r) => String(r['msg']).includes('subscription was cut')));
    await waitFor('row of the deleted key gone', async () => (await env.row('gone')) === undefined, 20_000);
    await expectTableEqualsRedis(env);
    expect(rt.hasLog(swept('subscription restored'))).toBe(true);
  });

  it("after Redis restarted without persistence the rows stay (onFlush: 'keep'), and later gaps only count them", async () => {
    const rows = await env.count();
    await server.kill9();
    await server.start(); // empty: no AOF, no RDB
    await waitFor('flush handled', () => rt.hasLog((r) => String(r['msg']).includes('rows are kept (onFlush: keep)')), 20_000);
    await env.tuneCredentials(); // the parameters went with the keys
    const restored = () => rt.logs().filter((r) => r['msg'] === 'reconciled' && r['reason'] === 'subscription restored').length;
    await waitFor('reconciled after the restart', () => restored() >= 2);
    await env.redis.client('KILL', 'TYPE', 'pubsub'); // a gap after the flush: this one is swept
    await waitFor('swept after the next cut', () => rt.logs().filter(swept('subscription restored')).length >= 2, 20_000);
    expect(await env.count()).toBe(rows);
    expect(await status(env)).toMatchObject({ goneRows: rows, flushKeptAt: expect.any(String) });
  });
});
