import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { Backlog, type Completion } from '../../runtime/backlog/backlog.ts';
import { GROUP, Keys } from '../../runtime/keys.ts';
import { REDIS_URL } from '../helpers/env.ts';
import { freePort, TestRedis } from '../helpers/redis-server.ts';
import { uid } from '../helpers/wait.ts';

/** An entry of a backlog partition. */
interface Ref {
  readonly id: string;
  readonly partition: number;
}

// Backlog.finish against a real Redis: its counting lives in finish.lua.
describe('Backlog.finish counts each entry once', () => {
  const redis = new Redis(REDIS_URL);
  const keys = new Keys(`wbt${uid()}`);
  const cleanup: string[] = [];
  afterAll(async () => {
    if (cleanup.length) await redis.del(...cleanup);
    redis.disconnect();
  });

  /**
   * A recipe whose backlog of `partitions` partitions holds `n` entries (spread over the
   * partitions in turn) delivered to consumer c1, and `queued` records counted. `fence` gives
   * the lease value each partition's finish checks ('' for none).
   */
  async function delivered(n: number, queued: number, partitions = 3, fence: (p: number) => string = () => ''): Promise<{ backlog: Backlog; recipe: string; status: string; refs: Ref[] }> {
    const recipe = `R${uid()}`;
    const backlog = new Backlog(redis, keys, recipe, partitions, fence);
    const status = keys.status(recipe);
    cleanup.push(...backlog.streams, status, keys.deadLetters(recipe), keys.deadLetterIndex(recipe), ...Array.from({ length: partitions }, (_, p) => keys.lease(recipe, p)));
    await backlog.ensureGroup();
    const refs: Ref[] = [];
    for (let i = 0; i < n; i++) {
      const partition = i % partitions;
      refs.push({ id: (await redis.xadd(backlog.streams[partition] as string, '*', `k:${i}`, 'u:1:')) as string, partition });
    }
    await redis.hset(status, 'queued', queued);
    const read = await backlog.read('c1', n, Array.from({ length: partitions }, (_, p) => p));
    expect(read.entries.map((e) => `${e.partition}/${e.id}`).sort()).toStrictEqual(refs.map((r) => `${r.partition}/${r.id}`).sort());
    return { backlog, recipe, status, refs };
  }

  const completion = (refs: readonly Ref[], dead = false): Completion => ({
    entries: refs.map(({ id, partition }) => ({ id, partition, records: 2, synced: dead ? 1 : 2, deadLetters: dead ? 1 : 0 })),
    dead: dead ? refs.map(({ id, partition }) => ({ key: `k:${partition}/${id}`, op: 'upsert', error: 'refused', acks: [] })) : [],
    acks: [],
    version: '1',
  });

  const lengths = (backlog: Backlog): Promise<number[]> => Promise.all(backlog.streams.map((s) => redis.xlen(s)));
  const pending = (backlog: Backlog): Promise<number[]> => Promise.all(backlog.streams.map(async (s) => Number(((await redis.xpending(s, GROUP)) as [number])[0])));

  it('a retried finish (its reply lost after EXEC) counts nothing again', async () => {
    const { backlog, recipe, status, refs } = await delivered(2, 4);
    expect(await backlog.finish(completion(refs, true))).toStrictEqual({ lost: [] });
    expect(await redis.hgetall(status)).toStrictEqual({ queued: '0', synced: '2', deadLetters: '2' });
    await backlog.finish(completion(refs, true)); // the retry of a MULTI Redis already applied
    expect(await redis.hgetall(status)).toStrictEqual({ queued: '0', synced: '2', deadLetters: '2' });
    expect(await lengths(backlog)).toStrictEqual([0, 0, 0]);
    expect(await redis.xlen(keys.deadLetters(recipe))).toBe(2);
  });

  it('counts only the entries this finish acknowledges (others finished them before)', async () => {
    const { backlog, status, refs } = await delivered(3, 6);
    await backlog.finish(completion(refs.slice(0, 1)));
    await backlog.finish(completion(refs));
    expect(await redis.hgetall(status)).toStrictEqual({ queued: '0', synced: '6' });
  });

  it('never takes queued below zero', async () => {
    const { backlog, status, refs } = await delivered(2, 1); // the count was reset meanwhile
    await backlog.finish(completion(refs));
    expect(await redis.hget(status, 'queued')).toBe('0');
    expect(await redis.hget(status, 'synced')).toBe('4');
  });

  it('acknowledges and removes the entries of every partition, each from its own stream', async () => {
    const { backlog, status, refs } = await delivered(8, 16, 4);
    expect(await lengths(backlog)).toStrictEqual([2, 2, 2, 2]);
    await backlog.finish(completion(refs.filter((r) => r.partition !== 3)));
    expect(await lengths(backlog)).toStrictEqual([0, 0, 0, 2]);
    expect(await pending(backlog)).toStrictEqual([0, 0, 0, 2]);
    expect(await redis.hgetall(status)).toStrictEqual({ queued: '4', synced: '12' });
    await backlog.finish(completion(refs.filter((r) => r.partition === 3)));
    expect(await lengths(backlog)).toStrictEqual([0, 0, 0, 0]);
    expect(await redis.hgetall(status)).toStrictEqual({ queued: '0', synced: '16' });
  });

  it("acknowledges nothing of a partition whose lease is no longer the caller's, and says so", async () => {
    const mine = (p: number): string => `${p + 10} rt-a`;
    const { backlog, recipe, status, refs } = await delivered(6, 12, 3, mine);
    // Partition 0 still ours; partition 1 taken over by another runtime; partition 2's lease expired.
    await redis.set(keys.lease(recipe, 0), mine(0));
    await redis.set(keys.lease(recipe, 1), '99 rt-b');
    expect(await backlog.finish(completion(refs))).toStrictEqual({ lost: [1, 2] });
    expect(await lengths(backlog)).toStrictEqual([0, 2, 2]);
    expect(await pending(backlog)).toStrictEqual([0, 2, 2]);
    expect(await redis.hgetall(status)).toStrictEqual({ queued: '8', synced: '4' });
    // Partition 2's lease back (this runtime took it again): its entries are acknowledged, 1's still not.
    await redis.set(keys.lease(recipe, 2), mine(2));
    expect(await backlog.finish(completion(refs.filter((r) => r.partition !== 0)))).toStrictEqual({ lost: [1] });
    expect(await lengths(backlog)).toStrictEqual([0, 2, 0]);
    expect(await redis.hgetall(status)).toStrictEqual({ queued: '4', synced: '8' });
  });

  it("writes no dead letter and no # ack of a partition whose lease is no longer the caller's", async () => {
    const mine = (p: number): string => `${p + 10} rt-a`;
    const { backlog, recipe, refs } = await delivered(2, 4, 2, mine);
    await redis.set(keys.lease(recipe, 0), mine(0));
    await redis.set(keys.lease(recipe, 1), '99 rt-b');
    const acks = refs.map((r, i) => ({ key: `ack${recipe}:${i}`, ack: 'x1', partition: r.partition }));
    cleanup.push(...acks.map((a) => `{${a.key}}${a.ack}`));
    const res = await backlog.finish({
      ...completion(refs, true),
      dead: refs.map(({ id, partition }) => ({ key: `k:${partition}/${id}`, op: 'upsert', error: 'refused', acks: [], partition })),
      acks,
    });
    expect(res).toStrictEqual({ lost: [1] });
    // Partition 0's dead letter and ack are written; partition 1's are not (its next owner writes them).
    const letters = (await redis.xrange(keys.deadLetters(recipe), '-', '+')).map(([, f]) => f[1]);
    expect(letters).toStrictEqual([`k:0/${refs[0]?.id}`]);
    expect(await redis.hgetall(keys.deadLetterIndex(recipe))).toStrictEqual({ [`k:0/${refs[0]?.id}`]: expect.any(String) });
    expect(await redis.exists(`{${acks[0]?.key}}x1`)).toBe(1);
    expect(await redis.ttl(`{${acks[0]?.key}}x1`)).toBeGreaterThan(3500);
    expect(await redis.exists(`{${acks[1]?.key}}x1`)).toBe(0);
  });
});

describe('Backlog.claimAll against Redis', () => {
  const redis = new Redis(REDIS_URL);
  const keys = new Keys(`wbt${uid()}`);
  const backlog = new Backlog(redis, keys, 'Claims', 4);
  const stream = backlog.streams[2] as string;
  afterAll(async () => {
    await redis.del(...backlog.streams);
    redis.disconnect();
  });

  it('claims idle entries that lie behind a long run of busy ones, in its partition only', async () => {
    await backlog.ensureGroup();
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) ids.push((await redis.xadd(stream, '*', `k:${i}`, 'd:0:')) as string);
    // An idle entry of another partition: not this claim's.
    const other = backlog.streams[1] as string;
    const elsewhere = (await redis.xadd(other, '*', 'k:x', 'd:0:')) as string;
    await redis.xreadgroup('GROUP', GROUP, 'c1', 'COUNT', 40, 'STREAMS', stream, other, '>', '>');
    await redis.xclaim(other, GROUP, 'c1', 0, elsewhere, 'IDLE', 600_000);
    // The last ten have been idle for a long time (a crashed consumer); the first thirty are busy.
    const idle = ids.slice(30);
    await redis.xclaim(stream, GROUP, 'c1', 0, ...idle, 'IDLE', 600_000);
    // One XAUTOCLAIM from 0-0 looks at 10 × COUNT entries: it finds none idle but says where to go on.
    const first = await backlog.claim('c2', 60_000, 2, 2);
    expect(first.entries).toStrictEqual([]);
    expect(first.next).not.toBe('0-0');
    const claimed: string[] = [];
    await backlog.claimAll('c2', 60_000, 2, 2, async (entries) => {
      claimed.push(...entries.map((e) => `${e.partition}/${e.id}`));
    }, () => false);
    expect(claimed).toStrictEqual(idle.map((id) => `2/${id}`));
  });
});

// The finish scripts' text goes once per connection; then only their SHA1. On a private server:
// the test flushes its script cache, which must not touch the machine's Redis.
describe('Backlog.finish sends its scripts by SHA1 once cached', () => {
  const server = new TestRedis(freePort());
  let redis: Redis;
  afterAll(async () => {
    redis?.disconnect();
    await server.stop();
  });

  it('EVAL on a new connection, EVALSHA after it; a flushed script cache costs one failed finish, whose retry counts once', async () => {
    await server.start();
    redis = new Redis(server.url);
    const keys = new Keys('wbt');
    const backlog = new Backlog(redis, keys, 'Sha', 1);
    await backlog.ensureGroup();
    const stream = backlog.streams[0] as string;
    const finishOne = async (): Promise<void> => {
      const id = (await redis.xadd(stream, '*', 'k:1', 'u:0:')) as string;
      await backlog.read('c1', 10, [0]);
      await backlog.finish({ entries: [{ id, partition: 0, records: 1, synced: 1, deadLetters: 0 }], dead: [], acks: [], version: '1' });
    };
    const calls = async (cmd: string): Promise<number> => Number(new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(await redis.info('commandstats'))?.[1] ?? 0);
    await finishOne();
    expect([await calls('eval'), await calls('evalsha')]).toStrictEqual([1, 0]);
    await finishOne();
    await finishOne();
    expect([await calls('eval'), await calls('evalsha')]).toStrictEqual([1, 2]);
    await redis.script('FLUSH');
    const id = (await redis.xadd(stream, '*', 'k:2', 'u:0:')) as string;
    await backlog.read('c1', 10, [0]);
    const done = { entries: [{ id, partition: 0, records: 1, synced: 1, deadLetters: 0 }], dead: [], acks: [], version: '1' };
    await expect(backlog.finish(done)).rejects.toThrow(/NOSCRIPT/);
    await backlog.finish(done);
    expect(await redis.hget(keys.status('Sha'), 'synced')).toBe('4');
    expect(await redis.xlen(stream)).toBe(0);
  });
});
