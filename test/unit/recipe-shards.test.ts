import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { Registration } from '../../recipes/options.ts';
import type { RecipeWorker } from '../../runtime/recipe-worker.ts';
import { RecipeShards } from '../../runtime/recipe-shards.ts';

/** A worker whose start fails with `failures` in turn before it succeeds. */
function fakeWorker(failures: Error[]): RecipeWorker & { starts: number } {
  const w = {
    starts: 0,
    state: 'created',
    async setPaused() {},
    async start() {
      w.starts++;
      const err = failures.shift();
      if (err) throw err;
      w.state = 'running';
    },
    async stop() {
      w.state = 'stopped';
    },
  };
  return w as unknown as RecipeWorker & { starts: number };
}

const reg = { name: 'R' } as Registration;
const log = pino({ level: 'silent' });

describe('RecipeShards', () => {
  it('starts again a shard whose master does not answer yet (a failover under way), then hands it its partitions', async () => {
    const worker = fakeWorker([new Error('Too many Cluster redirections. Last error: ReplyError: CLUSTERDOWN The cluster is down'), new Error('Connection is closed.')]);
    const started: string[] = [];
    const shards = new RecipeShards(reg, () => worker, (tag) => started.push(tag), log);
    shards.shard('s1');
    shards.open();
    // An install waits for the first try only: a sync must not wait for a master to come back.
    await shards.started();
    expect(worker.starts).toBe(1);
    expect(started).toStrictEqual([]);
    for (let i = 0; i < 50 && started.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(worker.starts).toBe(3);
    expect(worker.state).toBe('running');
    expect(started).toStrictEqual(['s1']);
  });

  it('fails at once on any other error, and hands nothing over', async () => {
    const worker = fakeWorker([new Error("NOPERM this user has no permissions to run the 'xgroup' command")]);
    const started: string[] = [];
    const shards = new RecipeShards(reg, () => worker, (tag) => started.push(tag), log);
    shards.shard('s1');
    shards.open();
    await expect(shards.started()).rejects.toThrow(/NOPERM/);
    expect(worker.starts).toBe(1);
    expect(started).toStrictEqual([]);
  });

  it('gives a retried start up once stopped, handing nothing over', async () => {
    const worker = fakeWorker(Array.from({ length: 100 }, () => new Error('CLUSTERDOWN The cluster is down')));
    const started: string[] = [];
    const shards = new RecipeShards(reg, () => worker, (tag) => started.push(tag), log);
    shards.shard('s1');
    shards.open();
    await new Promise((r) => setTimeout(r, 250));
    await shards.stop();
    const tries = worker.starts;
    expect(tries).toBeGreaterThan(1);
    await new Promise((r) => setTimeout(r, 500));
    expect(worker.starts).toBe(tries);
    expect(started).toStrictEqual([]);
  });
});
