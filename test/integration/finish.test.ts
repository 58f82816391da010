import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { Backlog, type Completion } from '../../runtime/backlog/backlog.ts';
import { GROUP, Keys } from '../../runtime/keys.ts';
import { REDIS_URL } from '../helpers/env.ts';
import { uid } from '../helpers/wait.ts';

// Backlog.finish against a real Redis: its counting lives in finish.lua.
describe('Backlog.finish counts each entry once', () => {
  const redis = new Redis(REDIS_URL);
  const keys = new Keys(`wbt${uid()}`);
  const cleanup: string[] = [];
  afterAll(async () => {
    if (cleanup.length) await redis.del(...cleanup);
    redis.disconnect();
  });

  /** A recipe whose backlog holds `n` entries delivered to consumer c1, and `queued` records counted. */
  async function delivered(n: number, queued: number): Promise<{ backlog: Backlog; status: string; ids: string[] }> {
    const recipe = `R${uid()}`;
    const backlog = new Backlog(redis, keys, recipe);
    const status = keys.status(recipe);
    cleanup.push(backlog.stream, status, keys.deadLetters(recipe), keys.deadLetterIndex(recipe));
    await backlog.ensureGroup();
    const ids: string[] = [];
    for (let i = 0; i < n; i++) ids.push((await redis.xadd(backlog.stream, '*', `k:${i}`, 'u:1:')) as string);
    await redis.hset(status, 'queued', queued);
    await redis.xreadgroup('GROUP', GROUP, 'c1', 'COUNT', n, 'STREAMS', backlog.stream, '>');
    return { backlog, status, ids };
  }

  const completion = (ids: readonly string[], dead = false): Completion => ({
    entries: ids.map((id) => ({ id, records: 2, synced: dead ? 1 : 2, deadLetters: dead ? 1 : 0 })),
    dead: dead ? ids.map((id) => ({ key: `k:${id}`, op: 'upsert', error: 'refused', acks: [] })) : [],
    acks: [],
    version: '1',
  });

  it('a retried finish (its reply lost after EXEC) counts nothing again', async () => {
    const { backlog, status, ids } = await delivered(2, 4);
    await backlog.finish(completion(ids, true));
    expect(await redis.hgetall(status)).toStrictEqual({ queued: '0', synced: '2', deadLetters: '2' });
    await backlog.finish(completion(ids, true)); // the retry of a MULTI Redis already applied
    expect(await redis.hgetall(status)).toStrictEqual({ queued: '0', synced: '2', deadLetters: '2' });
    expect(await redis.xlen(backlog.stream)).toBe(0);
    expect(await redis.xlen(keys.deadLetters(backlog.stream.split(':').pop() as string))).toBe(2);
  });

  it('counts only the entries this finish acknowledges (others finished them before)', async () => {
    const { backlog, status, ids } = await delivered(3, 6);
    await backlog.finish(completion(ids.slice(0, 1)));
    await backlog.finish(completion(ids));
    expect(await redis.hgetall(status)).toStrictEqual({ queued: '0', synced: '6' });
  });

  it('never takes queued below zero', async () => {
    const { backlog, status, ids } = await delivered(2, 1); // the count was reset meanwhile
    await backlog.finish(completion(ids));
    expect(await redis.hget(status, 'queued')).toBe('0');
    expect(await redis.hget(status, 'synced')).toBe('4');
  });
});

describe('Backlog.claimAll against Redis', () => {
  const redis = new Redis(REDIS_URL);
  const keys = new Keys(`wbt${uid()}`);
  const backlog = new Backlog(redis, keys, 'Claims');
  afterAll(async () => {
    await redis.del(backlog.stream);
    redis.disconnect();
  });

  it('claims idle entries that lie behind a long run of busy ones', async () => {
    await backlog.ensureGroup();
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) ids.push((await redis.xadd(backlog.stream, '*', `k:${i}`, 'd:0:')) as string);
    await redis.xreadgroup('GROUP', GROUP, 'c1', 'COUNT', 40, 'STREAMS', backlog.stream, '>');
    // The last ten have been idle for a long time (a crashed consumer); the first thirty are busy.
    const idle = ids.slice(30);
    await redis.xclaim(backlog.stream, GROUP, 'c1', 0, ...idle, 'IDLE', 600_000);
    // One XAUTOCLAIM from 0-0 looks at 10 × COUNT entries: it finds none idle but says where to go on.
    const first = await backlog.claim('c2', 60_000, 2);
    expect(first.entries).toStrictEqual([]);
    expect(first.next).not.toBe('0-0');
    const claimed: string[] = [];
    await backlog.claimAll('c2', 60_000, 2, async (entries) => {
      claimed.push(...entries.map((e) => e.id));
    }, () => false);
    expect(claimed).toStrictEqual(idle);
  });
});
