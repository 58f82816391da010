import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backlogLength } from '../helpers/backlog.ts';
import { diffTable } from '../helpers/compare.ts';
import { MYSQL, TestEnv } from '../helpers/env.ts';
import { startRuntime, type RuntimeProcess } from '../helpers/processes.ts';
import { TcpProxy } from '../helpers/tcp-proxy.ts';
import { waitFor } from '../helpers/wait.ts';

// A database outage must not fill the application's Redis: past `maxBacklog` records the recipe
// stops appending, says `overflowed`, and once the database writes again it catches up by a
// reconcile and a sweep (an overflow is a gap) instead of replaying what it did not keep.
const MAPPINGS = { first_name: 'first', last_name: 'last', age: 'age' };
const MAX = 500;
const SYNCED = 300; // keys written before the cut
const NEW = 5000; // keys written while the database is away

async function status(env: TestEnv): Promise<Record<string, unknown>> {
  return JSON.parse((await env.cli(['status', env.name, '--json'])).stdout).recipes[0];
}

describe('a bounded backlog while the database is away', () => {
  const env = new TestEnv();
  let proxy: TcpProxy;
  let rt: RuntimeProcess;
  const key = (i: number) => `${env.prefix}:${i}`;

  beforeAll(async () => {
    proxy = await TcpProxy.start(MYSQL.host, MYSQL.port);
    await env.createTable();
    await env.tuneCredentials();
    rt = await startRuntime(env.runtimeArgs(['--retry-max-ms', '1000']));
    const recipe = env.writeRecipe({ version: '1', mappings: MAPPINGS, dbAddress: { host: '127.0.0.1', port: proxy.port }, extra: `onExpire: 'delete', maxBacklog: ${MAX},` });
    await env.upload(recipe, rt);
  });

  afterAll(async () => {
    await rt?.stop();
    await proxy?.close();
    await env.close();
  });

  it('stays within maxBacklog, shows overflowed, and converges once the database is back', async () => {
    const first = env.redis.pipeline();
    for (let i = 0; i < SYNCED; i++) first.hset(key(i), 'first_name', `f${i}`, 'age', String(i));
    await first.exec();
    await waitFor(`${SYNCED} rows`, async () => (await env.count()) === SYNCED, 20_000);
    await waitFor('first reconcile done', () => env.redis.hget(`${env.ns}:status:${env.name}`, 'reconciledAt'));

    proxy.cut();
    let most = 0;
    const sample = async (): Promise<void> => {
      const [queued, len] = await Promise.all([env.redis.hget(`${env.ns}:status:${env.name}`, 'queued'), backlogLength(env)]);
      most = Math.max(most, Number(queued ?? 0), len);
    };
    for (let at = 0; at < NEW; at += 250) {
      const p = env.redis.pipeline();
      for (let i = SYNCED + at; i < SYNCED + at + 250; i++) p.hset(key(i), 'first_name', `n${i}`, 'last_name', 'cut', 'age', String(i));
      await p.exec();
      await sample();
    }
    // Changes and deletes of keys whose rows were written before the cut.
    const deleted: number[] = [];
    const p = env.redis.pipeline();
    for (let i = 0; i < SYNCED; i += 3) p.hset(key(i), 'first_name', 'changed');
    for (let i = 1; i < SYNCED; i += 5) {
      p.del(key(i));
      deleted.push(i);
    }
    await p.exec();

    const s = await waitFor('overflowed in status', async () => {
      const st = await status(env);
      return st['overflowedAt'] ? st : undefined;
    }, 20_000);
    expect(Date.parse(String(s['overflowedAt']))).toBeGreaterThan(Date.now() - 60_000);
    expect((await env.cli(['status', env.name])).stdout).toContain('overflowed');
    for (let i = 0; i < 10; i++) {
      await sample();
      await new Promise((r) => setTimeout(r, 100));
    }
    console.log(`backlog bound: at most ${most} records (and entries) in the backlog of ${MAX} while ${NEW} keys were written with the database cut`);
    expect(most).toBeLessThanOrEqual(MAX);
    expect(Number(s['backlog'])).toBeLessThanOrEqual(MAX);
    const overflowLogs = () => rt.logs().filter((r) => String(r['msg']).startsWith('backlog is full'));
    expect(overflowLogs()).toHaveLength(1);

    proxy.restore();
    await waitFor('overflow cleared and backlog written', async () => {
      const st = await status(env);
      return st['overflowedAt'] === null && st['backlog'] === 0 && st['sweeping'] === null && st['reconciling'] === null;
    }, 45_000, 250);
    let diffs: string[] = [];
    await waitFor('table equals Redis', async () => (diffs = await diffTable(env, MAPPINGS)).length === 0, 15_000).catch((err: unknown) => {
      throw new Error(`${String(err)}\n${diffs.length} differences, e.g.\n${diffs.slice(0, 10).join('\n')}`);
    });
    expect(await env.count()).toBe(SYNCED + NEW - deleted.length);
    expect(await env.row('0')).toMatchObject({ first: 'changed', age: 0 });
    expect(await env.row('1')).toBeUndefined();
    expect(overflowLogs()).toHaveLength(1);
    expect(rt.hasLog((r) => r['msg'] === 'swept' && r['reason'] === 'backlog overflow')).toBe(true);
  }, 60_000);
});
