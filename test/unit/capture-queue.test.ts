import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { CaptureQueue, leftBehind, loadScript, runPerKey, snapshotKeys, type CaptureResult, type CaptureTarget, type FollowRead } from '../../runtime/capture/capture-queue.ts';

/** A Redis stand-in that records the keys of every capture call (sent in a pipeline) and every read behind one. */
function fakeRedis(opts: { failures?: number } = {}): { redis: Redis; calls: string[][]; reads: unknown[][] } {
  const calls: string[][] = [];
  const reads: unknown[][] = [];
  let script = '';
  let failures = opts.failures ?? 0;
  const fake: Record<string, unknown> = {
    defineCommand(name: string) {
      script = name;
      fake[name] = () => undefined;
    },
    pipeline() {
      const replies: Array<[Error | null, unknown]> = [];
      return {
        [script]: (numKeys: number, ...args: string[]) => {
          const keys = args.slice(3, numKeys); // after the stream, echoes and status keys
          calls.push(keys);
          replies.push(failures-- > 0 ? [new Error('OOM'), null] : [null, keys.length]);
        },
        xreadgroup: (...args: unknown[]) => {
          reads.push(args);
          replies.push([null, [['s', [['1-0', ['p:1', 'u:1:', 'a', '1']]]]]]);
        },
        exec: async () => replies,
      };
    },
  };
  return { redis: fake as unknown as Redis, calls, reads };
}

const target: CaptureTarget = { script: loadScript('capture'), keys: ['s', 'e', 'st'], args: ['0'], accepts: () => true };
const silent = pino({ level: 'silent' });

describe('CaptureQueue', () => {
  it('coalesces repeated events of a key into one snapshot with their count', async () => {
    const { redis, calls } = fakeRedis();
    const q = new CaptureQueue(redis, target, silent);
    q.push('p:1', 'c');
    q.push('p:1', 'c');
    q.push('p:2', 'x');
    await q.flushed();
    expect(calls).toEqual([['p:1', 'p:2']]);
  });

  it('drops events beyond maxPending distinct keys and asks for a reconcile once drained', async () => {
    const { redis, calls } = fakeRedis();
    let overflows = 0;
    const q = new CaptureQueue(redis, target, silent, () => overflows++, 3);
    for (const k of ['a', 'b', 'c', 'd', 'e']) q.push(`p:${k}`, 'c');
    q.push('p:a', 'c'); // a key already waiting is still coalesced
    await q.flushed();
    expect(calls.flat()).toEqual(['p:a', 'p:b', 'p:c']);
    expect(overflows).toBe(1);
    q.push('p:f', 'c');
    await q.flushed();
    expect(calls.flat()).toEqual(['p:a', 'p:b', 'p:c', 'p:f']);
    expect(overflows).toBe(1);
  });
});

describe('CaptureQueue delivery', () => {
  it('sends the read behind the call and hands its entries to end()', async () => {
    const { redis, calls, reads } = fakeRedis();
    const ended: Array<[FollowRead | undefined, CaptureResult | undefined]> = [];
    const read: FollowRead = { ticket: 7, stream: 's', consumer: 'rt', count: 4 };
    const q = new CaptureQueue(redis, target, silent, undefined, undefined, { begin: () => read, end: (r, res) => ended.push([r, res]) });
    q.push('p:1', 'c');
    await q.flushed();
    expect(calls).toEqual([['p:1']]);
    expect(reads).toEqual([['GROUP', 'writers', 'rt', 'COUNT', 4, 'STREAMS', 's', '>']]);
    expect(ended).toEqual([[read, { added: 1, entries: [['1-0', ['p:1', 'u:1:', 'a', '1']]] }]]);
  });

  it('sends no read when begin() declines, and still reports the call', async () => {
    const { redis, reads } = fakeRedis();
    const ended: Array<[FollowRead | undefined, CaptureResult | undefined]> = [];
    const q = new CaptureQueue(redis, target, silent, undefined, undefined, { begin: () => undefined, end: (r, res) => ended.push([r, res]) });
    q.push('p:1', 'c');
    await q.flushed();
    expect(reads).toEqual([]);
    expect(ended).toEqual([[undefined, { added: 1, entries: undefined }]]);
  });

  it('reports a failed call with its error, and retries the key', async () => {
    const { redis, calls } = fakeRedis({ failures: 1 });
    const ended: Array<CaptureResult | undefined> = [];
    const q = new CaptureQueue(redis, target, silent, undefined, undefined, { begin: () => undefined, end: (_r, res) => ended.push(res) });
    q.push('p:1', 'c');
    await q.flushed();
    expect(calls).toEqual([['p:1'], ['p:1']]);
    expect(ended.map((r) => r?.error?.message ?? r?.added)).toEqual(['OOM', 1]);
  });
});

/**
 * A Redis stand-in whose capture script takes keys while the backlog has room (one record each)
 * and then stops, answering {added, handled} as capture.lua does at its bound.
 */
function boundedRedis(room: { left: number }): { redis: Redis; calls: string[][] } {
  const calls: string[][] = [];
  let script = '';
  const fake: Record<string, unknown> = {
    defineCommand(name: string) {
      script = name;
      fake[name] = () => undefined;
    },
    pipeline() {
      const replies: Array<[null, unknown]> = [];
      return {
        [script]: (numKeys: number, ...args: string[]) => {
          const keys = args.slice(3, numKeys);
          calls.push(keys);
          const took = Math.max(0, Math.min(room.left, keys.length));
          room.left -= took;
          replies.push([null, took < keys.length ? [took, took] : took]);
        },
        exec: async () => replies,
      };
    },
  };
  return { redis: fake as unknown as Redis, calls };
}

describe('the backlog bound', () => {
  const keys = Array.from({ length: 2500 }, (_, i) => `p:${i}`);

  it('runPerKey reports where the first call stopped, across chunks', async () => {
    const { redis, calls } = boundedRedis({ left: 1500 });
    const res = await runPerKey(redis, target, keys, keys.map(() => 'c1'));
    expect(calls.map((c) => c.length)).toEqual([1000, 1000, 500]); // one pipeline, three calls
    expect(res).toEqual({ added: 1500, entries: undefined, refusedAt: 1500 });
  });

  it('runPerKey counts items, not keys, when each key has a partner', async () => {
    const { redis } = boundedRedis({ left: 6 }); // the fake counts keys: 3 pairs
    const res = await runPerKey(redis, { ...target, partner: (k) => `t${k}` }, ['a', 'b', 'c', 'd'], ['c', 'c', 'c', 'c']);
    expect(res.refusedAt).toBe(3);
  });

  it('snapshotKeys waits for room and goes on from the first key left', async () => {
    const room = { left: 700 };
    const { redis, calls } = boundedRedis(room);
    let waits = 0;
    const paced: CaptureTarget = { ...target, room: async () => {
      waits++;
      room.left += 1000;
    } };
    expect(await snapshotKeys(redis, paced, keys, keys.map(() => 'r0'))).toBe(2500);
    expect(waits).toBe(2);
    expect(calls[0]?.[0]).toBe('p:0');
    expect(calls.find((c) => c[0] === 'p:700')).toBeDefined(); // resumed where it stopped
  });

  it('snapshotKeys throws at the bound when the target cannot wait', async () => {
    const { redis } = boundedRedis({ left: 1 });
    await expect(snapshotKeys(redis, target, ['p:1', 'p:2'], ['c0', 'c0'])).rejects.toThrow(/backlog is full: 1 keys/);
  });
});

describe('leftBehind', () => {
  const read: FollowRead = { ticket: 0, stream: 's', consumer: 'c', count: 4 };
  const entries = (n: number): CaptureResult['entries'] => Array.from({ length: n }, (_, i) => [`${i}-0`, []]);

  it('is false when the read took what the call added', () => {
    expect(leftBehind(read, { added: 3, entries: entries(1) })).toBe(false);
    expect(leftBehind(read, { added: 0, entries: entries(0) })).toBe(false); // echoes only
    expect(leftBehind(undefined, { added: 0, entries: undefined })).toBe(false);
  });

  it('is true when entries may wait unread', () => {
    expect(leftBehind(read, undefined)).toBe(true); // the call failed
    expect(leftBehind(read, { added: 1, entries: entries(1), error: new Error('x') })).toBe(true);
    expect(leftBehind(undefined, { added: 2, entries: undefined })).toBe(true); // no read went along
    expect(leftBehind(read, { added: 2, entries: undefined })).toBe(true); // the read failed
    expect(leftBehind(read, { added: 2, entries: entries(4) })).toBe(true); // filled its count
    expect(leftBehind(read, { added: 2, entries: entries(0) })).toBe(true); // ran before the script
  });
});
