import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, it, expect, vi } from 'vitest';
import { Backlog } from '../../runtime/backlog/backlog.ts';
import { Keys } from '../../runtime/keys.ts';

/** A Redis whose MULTI records every queued command, and exec() the end of the transaction. */
function fakeRedis(replies: Array<[Error | null, unknown]> = []) {
  const calls: unknown[][] = [];
  const tx = new Proxy({} as Record<string, (...a: unknown[]) => unknown>, {
    get: (_, name: string) => (...args: unknown[]) => {
      calls.push([name, ...args]);
      return name === 'exec' ? Promise.resolve(replies) : tx;
    },
  });
  const redis = { multi: () => tx } as unknown as Redis;
  return { redis, calls };
}

describe('Backlog.finish', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date('2024-05-06T07:08:09.010Z'));
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('dead-letters, writes acks, acknowledges and counts in one transaction', async () => {
    const { redis, calls } = fakeRedis();
    const backlog = new Backlog(redis, new Keys('wb'), 'Persons', 1);
    expect(backlog.streams).toStrictEqual(['wb:backlog:{Persons/0}']);
    await backlog.finish({
      entries: [{ id: '1-0', partition: 0, records: 2, synced: 1, deadLetters: 1 }, { id: '2-0', partition: 0, records: 3, synced: 2, deadLetters: 1 }],
      dead: [
        { key: 'person:7', op: 't', error: 'bad', acks: ['a7'] },
        { key: 'person:8', op: 'upsert', error: 'too long', fields: { first_name: 'x' }, acks: [] },
      ],
      acks: [
        { key: 'person:1', ack: 'a1' },
        { key: 'person:7', ack: 'a7', error: 'bad' },
      ],
      version: '1.2',
    });
    const at = '2024-05-06T07:08:09.010Z';
    expect(calls).toStrictEqual([
      ['eval', expect.stringContaining("'XACK'"), 3, 'wb:backlog:{Persons/0}', 'wb:status:Persons', 'wb:lease:{Persons/0}', 'writers', '', '1-0', 2, 1, 1, '2-0', 3, 2, 1],
      ['eval', expect.any(String), 2, 'wb:dlq:Persons', 'wb:dlqidx:Persons', 'person:7', 'key', 'person:7', 'op', 'not a hash', 'error', 'bad', 'version', '1.2', 'fields', '{}', 'at', at],
      ['eval', expect.any(String), 2, 'wb:dlq:Persons', 'wb:dlqidx:Persons', 'person:8', 'key', 'person:8', 'op', 'upsert', 'error', 'too long', 'version', '1.2', 'fields', '{"first_name":"x"}', 'at', at],
      ['xadd', '{person:1}a1', '*', 'status', 'done'],
      ['expire', '{person:1}a1', 3600],
      ['xadd', '{person:7}a7', '*', 'status', 'failed', 'error', 'bad'],
      ['expire', '{person:7}a7', 3600],
      ['exec'],
    ]);
  });

  it('acknowledges each partition with its own eval, in partition order and first, fenced by its lease', async () => {
    const { redis, calls } = fakeRedis();
    const fences = new Map([[1, '7 rt-a'], [5, '9 rt-a']]);
    const backlog = new Backlog(redis, new Keys('wb'), 'R', 8, (p) => fences.get(p) ?? '');
    expect(backlog.streams).toStrictEqual(Array.from({ length: 8 }, (_, p) => `wb:backlog:{R/${p}}`));
    const res = await backlog.finish({
      entries: [
        { id: '3-0', partition: 5, records: 1, synced: 1, deadLetters: 0 },
        { id: '1-0', partition: 1, records: 2, synced: 2, deadLetters: 0 },
        { id: '4-0', partition: 5, records: 2, synced: 1, deadLetters: 1 },
        { id: '3-0', partition: 1, records: 1, synced: 1, deadLetters: 0 },
      ],
      dead: [{ key: 'p:1', op: 'p', error: 'e', acks: [] }],
      acks: [{ key: 'p:2', ack: 'z' }],
      version: '1',
    });
    expect(res).toStrictEqual({ lost: [] });
    expect(calls.map((c) => c[0])).toStrictEqual(['eval', 'eval', 'eval', 'xadd', 'expire', 'exec']);
    expect(calls[0]).toStrictEqual(['eval', expect.stringContaining("'XACK'"), 3, 'wb:backlog:{R/1}', 'wb:status:R', 'wb:lease:{R/1}', 'writers', '7 rt-a', '1-0', 2, 2, 0, '3-0', 1, 1, 0]);
    expect(calls[1]).toStrictEqual(['eval', expect.stringContaining("'XACK'"), 3, 'wb:backlog:{R/5}', 'wb:status:R', 'wb:lease:{R/5}', 'writers', '9 rt-a', '3-0', 1, 1, 0, '4-0', 2, 1, 1]);
    expect(calls[2]?.slice(0, 6)).toStrictEqual(['eval', expect.any(String), 2, 'wb:dlq:R', 'wb:dlqidx:R', 'p:1']);
  });

  it('reports the partitions whose lease was gone (their eval answered -1)', async () => {
    const { redis } = fakeRedis([[null, -1], [null, 2], [null, -1], [null, 'id'], [null, 1]]);
    const res = await new Backlog(redis, new Keys('wb'), 'R', 8, () => '1 rt').finish({
      entries: [
        { id: '1-0', partition: 0, records: 1, synced: 1, deadLetters: 0 },
        { id: '2-0', partition: 3, records: 1, synced: 1, deadLetters: 0 },
        { id: '3-0', partition: 3, records: 1, synced: 1, deadLetters: 0 },
        { id: '4-0', partition: 6, records: 1, synced: 1, deadLetters: 0 },
      ],
      dead: [], acks: [{ key: 'p:2', ack: 'z' }], version: '1',
    });
    expect(res).toStrictEqual({ lost: [0, 6] });
  });

  it('writes the dead letters and acks of a partition with settle.lua, after its finish and under the same lease check', async () => {
    const { redis, calls } = fakeRedis([[null, 1], [null, -1]]);
    const backlog = new Backlog(redis, new Keys('wb'), 'R', 8, (p) => (p === 2 ? '4 rt-b' : ''));
    const res = await backlog.finish({
      entries: [{ id: '5-0', partition: 2, records: 2, synced: 0, deadLetters: 1 }],
      dead: [{ key: 'p:9', op: 'upsert', error: 'too long', fields: { a: 'x' }, acks: [], partition: 2 }],
      acks: [{ key: 'p:9', ack: 'k1', error: 'too long', partition: 2 }, { key: 'p:8', ack: 'k2', partition: 2 }],
      version: '4',
    });
    const at = '2024-05-06T07:08:09.010Z';
    expect(calls).toStrictEqual([
      ['eval', expect.stringContaining("'XACK'"), 3, 'wb:backlog:{R/2}', 'wb:status:R', 'wb:lease:{R/2}', 'writers', '4 rt-b', '5-0', 2, 0, 1],
      ['eval', expect.stringContaining("'HSET', KEYS[3]"), 3, 'wb:lease:{R/2}', 'wb:dlq:R', 'wb:dlqidx:R', '4 rt-b', 1,
        'p:9', 6, 'key', 'p:9', 'op', 'upsert', 'error', 'too long', 'version', '4', 'fields', '{"a":"x"}', 'at', at,
        '{p:9}k1', 'failed', 'too long', '{p:8}k2', 'done', ''],
      ['exec'],
    ]);
    // Its settle answered -1: the partition's lease was gone.
    expect(res).toStrictEqual({ lost: [2] });
  });

  it('queues only what there is', async () => {
    const { redis, calls } = fakeRedis();
    await new Backlog(redis, new Keys('ns'), 'R', 8).finish({ entries: [], dead: [], acks: [{ key: 'p:1', ack: 'z' }], version: '1' });
    expect(calls).toStrictEqual([
      ['xadd', '{p:1}z', '*', 'status', 'done'],
      ['expire', '{p:1}z', 3600],
      ['exec'],
    ]);
  });
});

describe('Backlog.finish: counts', () => {
  it('acknowledges entries without records, counting nothing', async () => {
    const { redis, calls } = fakeRedis();
    await new Backlog(redis, new Keys('wb'), 'R', 1).finish({ entries: [{ id: '7-0', partition: 0, records: 0, synced: 0, deadLetters: 0 }], dead: [], acks: [], version: '1' });
    expect(calls).toStrictEqual([
      ['eval', expect.any(String), 3, 'wb:backlog:{R/0}', 'wb:status:R', 'wb:lease:{R/0}', 'writers', '', '7-0', 0, 0, 0],
      ['exec'],
    ]);
  });

  it('takes every record off the queued count, dead-lettered ones too', async () => {
    const { redis, calls } = fakeRedis();
    await new Backlog(redis, new Keys('wb'), 'R', 1).finish({
      entries: [{ id: '8-0', partition: 0, records: 4, synced: 0, deadLetters: 1 }], dead: [{ key: 'p:1', op: 'p', error: 'e', acks: [] }], acks: [], version: '3',
    });
    expect(calls[0]).toStrictEqual(['eval', expect.any(String), 3, 'wb:backlog:{R/0}', 'wb:status:R', 'wb:lease:{R/0}', 'writers', '', '8-0', 4, 0, 1]);
    expect(calls.slice(2)).toStrictEqual([['exec']]);
    expect(calls[1]?.slice(0, 16)).toStrictEqual(['eval', expect.any(String), 2, 'wb:dlq:R', 'wb:dlqidx:R', 'p:1', 'key', 'p:1', 'op', 'malformed', 'error', 'e', 'version', '3', 'fields', '{}']);
  });
});

describe('Backlog.finish: dead-letter fields', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date('2024-05-06T07:08:09.010Z'));
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('writes fields kept as a Map (straight from the backlog) as a JSON object, in their order', async () => {
    const { redis, calls } = fakeRedis();
    await new Backlog(redis, new Keys('wb'), 'R', 1).finish({
      entries: [], version: '2', acks: [],
      dead: [{ key: 'person:1', op: 'upsert', error: 'e', fields: new Map([['b', '2'], ['a', '"1"']]), acks: [] }],
    });
    expect(calls).toStrictEqual([
      ['eval', expect.any(String), 2, 'wb:dlq:R', 'wb:dlqidx:R', 'person:1', 'key', 'person:1', 'op', 'upsert', 'error', 'e', 'version', '2', 'fields', '{"b":"2","a":"\\"1\\""}', 'at', '2024-05-06T07:08:09.010Z'],
      ['exec'],
    ]);
  });
});

describe('Backlog reads', () => {
  /** A Redis answering XREADGROUP (either way it is sent) and XAUTOCLAIM with the given replies, recording the calls. */
  function readingRedis(replies: { xreadgroup?: unknown; xautoclaim?: unknown }) {
    const calls: unknown[][] = [];
    const redis = {
      call: async (...args: unknown[]) => {
        calls.push(['call', ...args]);
        return replies.xreadgroup;
      },
      xreadgroup: async (...args: unknown[]) => {
        calls.push(['xreadgroup', ...args]);
        return replies.xreadgroup;
      },
      xautoclaim: async (...args: unknown[]) => {
        calls.push(['xautoclaim', ...args]);
        return replies.xautoclaim;
      },
    } as unknown as Redis;
    return { redis, calls };
  }

  it('read decodes each stream entry into its records, deleted ones into none, malformed ones with the reason', async () => {
    const { redis, calls } = readingRedis({
      xreadgroup: [['wb:backlog:{R/0}', [
        ['1-0', ['person:1', 'u:1:a', 'age', '3', 'person:2', 'd:0:']],
        ['2-0', null],
        ['3-0', ['bad']],
      ]]],
    });
    const res = await new Backlog(redis, new Keys('wb'), 'R', 1).read('c1', 10, [0]);
    expect(calls).toStrictEqual([['call', 'XREADGROUP', 'GROUP', 'writers', 'c1', 'COUNT', 10, 'STREAMS', 'wb:backlog:{R/0}', '>']]);
    expect(res).toStrictEqual({
      entries: [
        { id: '1-0', partition: 0, records: [
          { id: '1-0', key: 'person:1', ack: 'a', op: 'u', fields: new Map([['age', '3']]) },
          { id: '1-0', key: 'person:2', ack: '', op: 'd' },
        ] },
        { id: '2-0', partition: 0, records: [] },
        { id: '3-0', partition: 0, records: [], malformed: 'backlog entry 3-0 of partition 0, value 1 of 1: key "bad" has no record header; 1 values not synced' },
      ],
    });
  });

  it('read names the streams of the partitions asked for, waits when told, and tags each entry with its partition', async () => {
    const { redis, calls } = readingRedis({
      xreadgroup: [
        ['wb:backlog:{R/2}', [['1-0', ['person:1', 'd:0:']]]],
        ['wb:backlog:{R/7}', [['1-0', ['person:9', 'd:0:']], ['2-0', null]]],
      ],
    });
    const res = await new Backlog(redis, new Keys('wb'), 'R', 8).read('c1', 4, [2, 7], 500);
    expect(calls).toStrictEqual([['call', 'XREADGROUP', 'GROUP', 'writers', 'c1', 'COUNT', 4, 'BLOCK', 500, 'STREAMS', 'wb:backlog:{R/2}', 'wb:backlog:{R/7}', '>', '>']]);
    expect(res).toStrictEqual({
      entries: [
        { id: '1-0', partition: 2, records: [{ id: '1-0', key: 'person:1', ack: '', op: 'd' }] },
        { id: '1-0', partition: 7, records: [{ id: '1-0', key: 'person:9', ack: '', op: 'd' }] },
        { id: '2-0', partition: 7, records: [] },
      ],
    });
  });

  it('read of no partition asks Redis nothing', async () => {
    const { redis, calls } = readingRedis({ xreadgroup: null });
    expect(await new Backlog(redis, new Keys('wb'), 'R', 8).read('c1', 5, [])).toStrictEqual({ entries: [] });
    expect(calls).toStrictEqual([]);
  });

  it('read and readPending return no entries when there is nothing', async () => {
    const { redis, calls } = readingRedis({ xreadgroup: null });
    const backlog = new Backlog(redis, new Keys('wb'), 'R', 8);
    expect(await backlog.read('c1', 5, [0, 1])).toStrictEqual({ entries: [] });
    expect(await backlog.readPending('c1', 5, 3, '4-0')).toStrictEqual({ entries: [] });
    expect(calls[1]).toStrictEqual(['xreadgroup', 'GROUP', 'writers', 'c1', 'COUNT', 5, 'STREAMS', 'wb:backlog:{R/3}', '4-0']);
  });

  it('readPending tags the entries with the partition read', async () => {
    const { redis } = readingRedis({ xreadgroup: [['wb:backlog:{R/3}', [['4-0', ['person:4', 'd:0:']]]]] });
    expect(await new Backlog(redis, new Keys('wb'), 'R', 8).readPending('c1', 5, 3)).toStrictEqual({
      entries: [{ id: '4-0', partition: 3, records: [{ id: '4-0', key: 'person:4', ack: '', op: 'd' }] }],
    });
  });

  it('claim turns the ids of entries deleted meanwhile into entries without records, after the others', async () => {
    const { redis, calls } = readingRedis({
      xautoclaim: ['0-0', [['5-0', ['person:5', 'x:0:k']], ['6-0', null]], ['4-0', '7-0']],
    });
    const res = await new Backlog(redis, new Keys('wb'), 'R', 8).claim('c2', 30_000, 50, 6);
    expect(calls).toStrictEqual([['xautoclaim', 'wb:backlog:{R/6}', 'writers', 'c2', 30_000, '0-0', 'COUNT', 50]]);
    expect(res).toStrictEqual({
      entries: [
        { id: '5-0', partition: 6, records: [{ id: '5-0', key: 'person:5', ack: 'k', op: 'x' }] },
        { id: '6-0', partition: 6, records: [] },
        { id: '4-0', partition: 6, records: [] },
        { id: '7-0', partition: 6, records: [] },
      ],
      next: '0-0',
    });
  });

  it('claim copes with a server that lists no deleted ids', async () => {
    const { redis } = readingRedis({ xautoclaim: ['0-0', [['5-0', ['person:5', 'd:0:']]]] });
    expect(await new Backlog(redis, new Keys('wb'), 'R', 1).claim('c2', 1, 1, 0)).toStrictEqual({
      entries: [{ id: '5-0', partition: 0, records: [{ id: '5-0', key: 'person:5', ack: '', op: 'd' }] }],
      next: '0-0',
    });
  });
});

describe('Backlog.claimAll', () => {
  it("follows XAUTOCLAIM's cursor past empty pages until it comes back to 0-0", async () => {
    const replies: unknown[] = [['9-0', [], []], ['12-0', [['10-0', ['person:1', 'd:0:']]], []], ['0-0', [['13-0', ['person:2', 'd:0:']]], []]];
    const starts: unknown[] = [];
    const streams: unknown[] = [];
    const redis = {
      xautoclaim: async (...args: unknown[]) => {
        streams.push(args[0]);
        starts.push(args[4]);
        return replies.shift();
      },
    } as unknown as Redis;
    const pages: string[][] = [];
    await new Backlog(redis, new Keys('wb'), 'R', 4).claimAll('c2', 1000, 2, 2, async (entries) => {
      pages.push(entries.map((e) => `${e.partition}/${e.id}`));
    }, () => false);
    // The first page claimed nothing (its scan met only busy entries), yet the rest is claimed.
    expect(starts).toStrictEqual(['0-0', '9-0', '12-0']);
    expect(streams).toStrictEqual(['wb:backlog:{R/2}', 'wb:backlog:{R/2}', 'wb:backlog:{R/2}']);
    expect(pages).toStrictEqual([['2/10-0'], ['2/13-0']]);
  });

  it('ends early on a stop', async () => {
    const starts: unknown[] = [];
    const redis = {
      xautoclaim: async (...args: unknown[]) => {
        starts.push(args[4]);
        return ['5-0', [], []];
      },
    } as unknown as Redis;
    await new Backlog(redis, new Keys('wb'), 'R', 1).claimAll('c2', 1000, 2, 0, async () => undefined, () => true);
    expect(starts).toStrictEqual(['0-0']);
  });
});
