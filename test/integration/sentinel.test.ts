// Redis Sentinel: the bins follow the master by its name at the sentinels. The seed journey runs
// through them, then the master is killed with kill -9 under load (each write waits until the
// replica has it: WAIT 1 100) and the replica is promoted: capture and writes follow the new
// master, and the table ends equal to it, key by key, without a row ever going back below a value
// the new master holds.
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { diffTable } from '../helpers/compare.ts';
import { TestEnv } from '../helpers/env.ts';
import { cli, startRuntime, type RuntimeProcess } from '../helpers/processes.ts';
import { TestSentinel } from '../helpers/redis-sentinel.ts';
import { RegressionPoller } from '../helpers/regression.ts';
import { expectVerifyClean } from '../helpers/verify.ts';
import { waitFor } from '../helpers/wait.ts';

const MAPPINGS = { first_name: 'first', age: 'age' };

/**
 * Raises one key's `age` at a time and waits until a replica has the write (WAIT 1 100):
 * `acked` holds, per key, the last value a replica confirmed, which the promoted master holds.
 * A write that fails while the master is down is tried again on the next key.
 */
class AckedCounterLoad {
  readonly acked = new Map<string, number>();
  writes = 0;
  failed = 0;
  /** The last error a write met, for a failure's message. */
  lastError = '';
  private stopped = false;
  private readonly done: Promise<void>;

  /** `clients` writers in parallel (WAIT holds its connection), each with keys of its own. */
  constructor(clients: readonly Redis[], prefix: string, keys: number) {
    this.done = Promise.all(clients.map(async (redis, c) => {
      for (let n = c; !this.stopped; n += clients.length) {
        const id = String(n % keys);
        const k = `${prefix}:${id}`;
        try {
          const res = await redis.multi().hincrby(k, 'age', 1).hset(k, 'first_name', `w${n}`).exec();
          const age = Number(res?.[0]?.[1]);
          if (Number(await redis.call('WAIT', 1, 100)) >= 1) this.acked.set(id, Math.max(age, this.acked.get(id) ?? 0));
          this.writes++;
        } catch (err) {
          this.failed++;
          this.lastError = String(err);
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    })).then(() => undefined);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }
}

describe('Redis Sentinel', () => {
  const sentinel = new TestSentinel();
  let env: TestEnv;
  let rt: RuntimeProcess | undefined;
  let rt2: RuntimeProcess | undefined;

  beforeAll(async () => {
    await sentinel.start();
    env = new TestEnv(sentinel.master.url, { connection: sentinel.flags, client: sentinel.client() });
  }, 60_000);

  afterAll(async () => {
    await rt?.stop();
    await rt2?.stop();
    await env?.db.query(`DROP TABLE IF EXISTS \`${env.table}\``);
    env?.redis.disconnect();
    await env?.db.end();
    await sentinel.stop();
  });

  it('the seed journey through --sentinel: tune, upload, rows arrive, verify clean', async () => {
    await env.createTable('first VARCHAR(20), age INT');
    expect((await env.cli(['tune', 'param', 'MySqlUser', 'root'])).code).toBe(0);
    expect((await env.cli(['tune', 'param', 'MySqlPassword', '--stdin'], '\n')).code).toBe(0);
    // With the default claim idle time (30 s): what the promoted master holds is re-read and
    // written at once, never left to a claim.
    rt = await startRuntime(env.runtimeArgs());
    await env.upload(env.writeRecipe({ version: '1', mappings: MAPPINGS }), rt);
    await env.reconciled();
    for (let i = 0; i < 100; i++) await env.redis.hset(`${env.prefix}:${i}`, 'first_name', `n${i}`, 'age', '0');
    await waitFor('100 rows', async () => (await env.count()) === 100, 20_000);
    const status = await env.cli(['status']);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain(env.name);
    await expectVerifyClean(env);
    // A usage mistake gets a clear message.
    const bad = await cli(['status', '--sentinel', sentinel.addresses, '--sentinel-master', 'nope', '--namespace', env.ns]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/nope|sentinel/i);
  }, 90_000);

  it('the master killed under load with two runtimes sharing the recipe: capture and writes follow the promoted replica; the table ends equal to it, nothing confirmed regresses', async () => {
    // A second runtime: the partitions spread over both, and both must follow the new master.
    rt2 = await startRuntime([...env.flags, '--id', `rt2-${env.id}`]);
    await waitFor('partitions on both runtimes', async () => {
      const res = await env.cli(['status', '--json']);
      const runtimes = (JSON.parse(res.stdout) as { runtimes: Array<{ partitions?: Record<string, number[]> }> }).runtimes;
      return runtimes.length === 2 && runtimes.every((r) => (r.partitions?.[env.name]?.length ?? 0) > 0);
    }, 40_000, 500);
    const before = await sentinel.masterPort();
    expect(before).toBe(sentinel.master.port);
    const clients = Array.from({ length: 4 }, () => sentinel.client());
    const load = new AckedCounterLoad(clients, env.prefix, 500);
    const poller = new RegressionPoller(env, (id) => load.acked.get(id) ?? 0);
    try {
      await waitFor('load under way', async () => load.writes > 1500, 30_000);
      await sentinel.master.kill9();
      await waitFor('the replica promoted', async () => (await sentinel.masterPort()) === sentinel.replica.port, 30_000, 200);
      // The old master comes back, and the sentinels make it a replica of the new one (WAIT then
      // has a replica to wait for again).
      await sentinel.master.start();
      const promotedWrites = load.writes;
      await waitFor('writes go on on the promoted master', async () => load.writes > promotedWrites + 1000, 60_000).catch((err: unknown) => {
        throw new Error(`${String(err)}: ${load.writes - promotedWrites} writes since, ${load.failed} failed, the last with ${load.lastError}`);
      });
      for (const r of [rt, rt2]) expect(r?.hasLog((l) => String(l['msg']).includes('another server than before'))).toBe(true);
    } finally {
      await load.stop();
      for (const c of clients) c.disconnect();
    }
    try {
      await expectVerifyClean(env, 90_000);
      // The table equals the promoted master, key by key.
      await waitFor('table equals the promoted master', async () => (await diffTable(env, MAPPINGS)).length === 0, 30_000, 500).catch(async () => {
        throw new Error((await diffTable(env, MAPPINGS)).slice(0, 20).join('\n'));
      });
    } finally {
      await poller.stop();
    }
    // Both runtimes still serve the namespace, each holding partitions of the recipe.
    const after = JSON.parse((await env.cli(['status', '--json'])).stdout) as { runtimes: Array<{ partitions?: Record<string, number[]> }>; redis: { address: string; role: string } };
    expect(after.runtimes.map((r) => r.partitions?.[env.name]?.length ?? 0).sort()).toStrictEqual([4, 4]);
    // status says which server it read: the promoted replica, reached through the sentinels.
    expect(after.redis).toMatchObject({ address: `127.0.0.1:${sentinel.replica.port}`, role: 'master' });
    expect((await env.cli(['status'])).stdout).toContain(`redis: 127.0.0.1:${sentinel.replica.port} (master), reached as master 'wbmaster' via sentinel ${sentinel.addresses}`);
    expect(poller.polls).toBeGreaterThan(10);
    expect(poller.regressions).toEqual([]);
    expect(load.acked.size).toBeGreaterThan(100);
  }, 180_000);
});
