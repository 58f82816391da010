import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { ReadReply } from '../../runtime/backlog/backlog.ts';
import { CaptureQueue, leftBehind, loadScript, runPerKey, snapshotKeys, type CaptureResult, type CaptureTarget, type FollowRead } from '../../runtime/capture/capture-queue.ts';

/** As captureTarget lays them out for two partitions: the echo and status hashes, then the partition streams. */
const FIXED_KEYS = ['e', 'st', 's0', 's1'];
/** capture.lua's arguments before the items: the bound, the expiry rule, the partition count. */
const FIXED_ARGS = ['0', '0', '2'];

/** The changed keys of a capture call: its arguments after the fixed ones, `width` per item (key, partner?, why). */
function changedKeys(numKeys: number, args: readonly string[], width = 2): string[] {
  const items = args.slice(numKeys + FIXED_ARGS.length);
  return items.filter((_, i) => i % width === 0);
}

/**
 * A Redis stand-in that records the keys of every capture call (sent in a pipeline) and every
 * read behind one, answering the read with `reply`.
 */
function fakeRedis(opts: { failures?: number; reply?: ReadReply } = {}): { redis: Redis; calls: string[][]; reads: unknown[][]; whys: string[][] } {
  const calls: string[][] = [];
  const whys: string[][] = [];
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
          expect(args.slice(0, numKeys)).toStrictEqual(FIXED_KEYS); // the changed keys are arguments
          const keys = changedKeys(numKeys, args);
          calls.push(keys);
          whys.push(args.slice(numKeys + FIXED_ARGS.length).filter((_, i) => i % 2 === 1));
          replies.push(failures-- > 0 ? [new Error('OOM'), null] : [null, keys.length]);
        },
        xreadgroup: (...args: unknown[]) => {
          reads.push(args);
          replies.push([null, 'reply' in opts ? opts.reply : [['s1', [['1-0', ['p:1', 'u:1:', 'a', '1']]]]]]);
        },
        exec: async () => replies,
      };
    },
  };
  return { redis: fake as unknown as Redis, calls, reads, whys };
}

const target: CaptureTarget = { script: loadScript('capture'), keys: FIXED_KEYS, args: FIXED_ARGS, accepts: () => true };
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

  it('tells the script how many of a key\'s events may be echoes (del, hdel), kept across a failed call', async () => {
    const { redis, whys } = fakeRedis({ failures: 1 });
    const q = new CaptureQueue(redis, target, silent);
    q.push('p:1', 'c');
    q.push('p:1', 'c', true);
    q.push('p:2', 'c');
    await q.flushed();
    expect(whys).toEqual([['c2/1', 'c1'], ['c2/1', 'c1']]);
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
    const read: FollowRead = { ticket: 7, streams: ['s0', 's1'], consumer: 'rt', count: 4 };
    const q = new CaptureQueue(redis, target, silent, undefined, undefined, { begin: () => read, end: (r, res) => ended.push([r, res]) });
    q.push('p:1', 'c');
    await q.flushed();
    expect(calls).toEqual([['p:1']]);
    expect(reads).toEqual([['GROUP', 'writers', 'rt', 'COUNT', 4, 'STREAMS', 's0', 's1', '>', '>']]);
    expect(ended).toEqual([[read, { added: 1, entries: [['s1', [['1-0', ['p:1', 'u:1:', 'a', '1']]]]], delivered: 1, full: false }]]);
  });

  it('counts the entries the read delivered over every stream, and says whether a stream filled its count', async () => {
    const entry = (i: number): [string, string[]] => [`${i}-0`, ['p:1', 'd:0:']];
    const read: FollowRead = { ticket: 1, streams: ['s0', 's1'], consumer: 'rt', count: 3 };
    const some = fakeRedis({ reply: [['s0', [entry(1), entry(2)]], ['s1', [entry(1), entry(2)]]] });
    // Four entries, more than the count, yet no stream filled it: nothing more waits.
    expect(await runPerKey(some.redis, target, ['p:1'], ['c1'], read)).toMatchObject({ added: 1, delivered: 4, full: false });
    const filled = fakeRedis({ reply: [['s0', [entry(1)]], ['s1', [entry(1), entry(2), entry(3)]]] });
    expect(await runPerKey(filled.redis, target, ['p:1'], ['c1'], read)).toMatchObject({ added: 1, delivered: 4, full: true });
    const none = fakeRedis({ reply: null as unknown as ReadReply });
    expect(await runPerKey(none.redis, target, ['p:1'], ['c1'], read)).toStrictEqual({ added: 1, entries: [], delivered: 0, full: false });
  });

  it('sends no read when begin() declines, and still reports the call', async () => {
    const { redis, reads } = fakeRedis();
    const ended: Array<[FollowRead | undefined, CaptureResult | undefined]> = [];
    const q = new CaptureQueue(redis, target, silent, undefined, undefined, { begin: () => undefined, end: (r, res) => ended.push([r, res]) });
    q.push('p:1', 'c');
    await q.flushed();
    expect(reads).toEqual([]);
    expect(ended).toEqual([[undefined, { added: 1, entries: undefined, delivered: 0, full: false }]]);
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
function boundedRedis(room: { left: number }, width = 2): { redis: Redis; calls: string[][] } {
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
          const keys = changedKeys(numKeys, args, width);
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
    expect(res).toStrictEqual({ added: 1500, entries: undefined, delivered: 0, full: false, refusedAt: 1500 });
  });

  it('runPerKey counts items, not keys, when each key has a partner', async () => {
    const { redis } = boundedRedis({ left: 3 }, 3); // key, partner, why per item
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
  const read: FollowRead = { ticket: 0, streams: ['s0', 's1'], consumer: 'c', count: 4 };
  /** A capture's result whose follow read returned `lengths[i]` entries from stream i (no read: undefined), as runPerKey reports it. */
  const result = (added: number, lengths?: number[], error?: Error): CaptureResult => ({
    added,
    entries: lengths?.map((n, s): [string, Array<[string, string[]]>] => [`s${s}`, Array.from({ length: n }, (_, i) => [`${i}-0`, []])]),
    delivered: (lengths ?? []).reduce((a, b) => a + b, 0),
    full: (lengths ?? []).some((n) => n >= read.count),
    ...(error ? { error } : {}),
  });

  it('is false when the read took what the call added', () => {
    expect(leftBehind(read, result(3, [1]))).toBe(false);
    expect(leftBehind(read, result(3, [1, 2]))).toBe(false);
    expect(leftBehind(read, result(0, []))).toBe(false); // echoes only
    expect(leftBehind(undefined, result(0))).toBe(false);
  });

  it('is false when the streams together delivered more than the count but none filled it', () => {
    expect(leftBehind(read, result(6, [3, 3]))).toBe(false);
  });

  it('is true when entries may wait unread', () => {
    expect(leftBehind(read, undefined)).toBe(true); // the call failed
    expect(leftBehind(read, result(1, [1], new Error('x')))).toBe(true);
    expect(leftBehind(undefined, result(2))).toBe(true); // no read went along
    expect(leftBehind(read, result(2, undefined))).toBe(true); // the read failed
    expect(leftBehind(read, result(2, [4]))).toBe(true); // filled its count
    expect(leftBehind(read, result(5, [1, 4]))).toBe(true); // one stream filled its count
    expect(leftBehind(read, result(2, [0]))).toBe(true); // ran before the script
    expect(leftBehind(read, result(2, []))).toBe(true); // ran before the script
  });

  it('leaves records added to partitions held by other runtimes to them, but not a failure or a full read', () => {
    expect(leftBehind(undefined, result(2), false)).toBe(false);
    expect(leftBehind(read, result(2, []), false)).toBe(false);
    expect(leftBehind(read, undefined, false)).toBe(true);
    expect(leftBehind(read, result(1, [1], new Error('x')), false)).toBe(true);
    expect(leftBehind(read, result(2, undefined), false)).toBe(true);
    expect(leftBehind(read, result(2, [0, 4]), false)).toBe(true);
  });
});
