import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { partitionOf } from '../../runtime/backlog/partition.ts';
import { Lease } from '../../runtime/lease/lease.ts';
import { REDIS_URL } from '../helpers/env.ts';
import { uid } from '../helpers/wait.ts';

// The machine's Redis (CI requires it): only keys of this test's own namespace are touched.
const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
afterAll(() => redis.disconnect());

const ns = `wbl${uid()}`;
const key = (r: string) => `${ns}:lease:${r}`;
const counter = (r: string) => `${ns}:lease-token:${r}`;
const OPTS = { ttlMs: 400, marginMs: 100 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Lease (fenced, on a real Redis)', () => {
  afterAll(async () => {
    const keys = await redis.keys(`${ns}:*`);
    if (keys.length) await redis.del(...keys);
  });

  it('one holder at a time; renewal and release check the token; tokens only grow', async () => {
    const a = await Lease.acquire(redis, key('p0'), counter('p0'), 'p0', 'rt-a', OPTS);
    expect(a).toBeDefined();
    expect(await Lease.acquire(redis, key('p0'), counter('p0'), 'p0', 'rt-b', OPTS)).toBeUndefined();
    expect(await a!.renew()).toBe(true);
    expect(a!.valid()).toBe(true);
    // Released: free at once for another holder, with a larger token; the old one is fenced off.
    expect(await a!.release()).toBe(true);
    const b = await Lease.acquire(redis, key('p0'), counter('p0'), 'p0', 'rt-b', OPTS);
    expect(Number(b!.token)).toBeGreaterThan(Number(a!.token));
    expect(await a!.renew()).toBe(false);
    expect(await a!.release()).toBe(false);
    expect(await redis.get(key('p0'))).toBe(b!.value);
  });

  it('the same holder re-acquiring (a restarted runtime) gets a new token: the old process is fenced off', async () => {
    const first = await Lease.acquire(redis, key('p1'), counter('p1'), 'p1', 'rt-a', OPTS);
    const again = await Lease.acquire(redis, key('p1'), counter('p1'), 'p1', 'rt-a', OPTS);
    expect(Number(again!.token)).toBeGreaterThan(Number(first!.token));
    expect(await first!.renew()).toBe(false);
    expect(first!.valid()).toBe(false);
    expect(await again!.renew()).toBe(true);
  });

  it('its deadline ends a margin before the TTL, on the local monotonic clock, and a late holder finds it lost', async () => {
    const a = await Lease.acquire(redis, key('p2'), counter('p2'), 'p2', 'rt-a', OPTS);
    expect(a!.remainingMs()).toBeLessThanOrEqual(OPTS.ttlMs - OPTS.marginMs);
    expect(a!.remainingMs()).toBeGreaterThan(OPTS.ttlMs - OPTS.marginMs - 100);
    await sleep(OPTS.ttlMs - OPTS.marginMs + 20);
    expect(a!.valid()).toBe(false); // past the deadline, though Redis may still hold the key
    await sleep(OPTS.marginMs + 50); // expired in Redis too
    const b = await Lease.acquire(redis, key('p2'), counter('p2'), 'p2', 'rt-b', OPTS);
    expect(b).toBeDefined();
    expect(await a!.renew()).toBe(false);
    expect(a!.valid()).toBe(false);
  });

  it('refuses a margin that is not below the TTL', async () => {
    await expect(Lease.acquire(redis, key('p3'), counter('p3'), 'p3', 'rt-a', { ttlMs: 100, marginMs: 100 })).rejects.toThrow(/margin/);
  });
});

describe('partitionOf', () => {
  it('is the same in TypeScript and in the Lua the capture scripts use, for any bytes', async () => {
    const lua = readFileSync(new URL('../../runtime/backlog/partition.lua', import.meta.url), 'utf8');
    const keys = ['person:1', 'person:ä€😀', '', 'x'.repeat(300), ...Array.from({ length: 200 }, (_, i) => `k:${i}:${Math.random().toString(36)}`)];
    for (const count of [1, 8, 13, 64]) {
      const script = `${lua}\nlocal out = {}\nfor i = 1, #ARGV do out[i] = partition_of(ARGV[i], ${count}) end\nreturn out`;
      const fromLua = (await redis.eval(script, 0, ...keys)) as number[];
      expect(fromLua).toStrictEqual(keys.map((k) => partitionOf(k, count)));
    }
  });

  it('spreads keys evenly enough over partitions', () => {
    const counts = new Array(16).fill(0) as number[];
    for (let i = 0; i < 16_000; i++) counts[partitionOf(`person:${i}`, 16)]!++;
    expect(Math.min(...counts)).toBeGreaterThan(800);
    expect(Math.max(...counts)).toBeLessThan(1200);
  });
});
