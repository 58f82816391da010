import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, it, expect, vi } from 'vitest';
import { Backlog } from '../../runtime/backlog/backlog.ts';
import { Keys } from '../../runtime/keys.ts';

/** A Redis whose MULTI records every queued command, and exec() the end of the transaction. */
function fakeRedis() {
  const calls: unknown[][] = [];
  const tx = new Proxy({} as Record<string, (...a: unknown[]) => unknown>, {
    get: (_, name: string) => (...args: unknown[]) => {
      calls.push([name, ...args]);
      return name === 'exec' ? Promise.resolve([]) : tx;
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
    const backlog = new Backlog(redis, new Keys('wb'), 'Persons');
    expect(backlog.stream).toBe('wb:backlog:Persons');
    await backlog.finish({
      entries: [{ id: '1-0', records: 2, synced: 1, deadLetters: 1 }, { id: '2-0', records: 3, synced: 2, deadLetters: 1 }],
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
      ['eval', expect.any(String), 2, 'wb:dlq:Persons', 'wb:dlqidx:Persons', 'person:7', 'key', 'person:7', 'op', 't', 'error', 'bad', 'version', '1.2', 'fields', '{}', 'at', at],
      ['eval', expect.any(String), 2, 'wb:dlq:Persons', 'wb:dlqidx:Persons', 'person:8', 'key', 'person:8', 'op', 'upsert', 'error', 'too long', 'version', '1.2', 'fields', '{"first_name":"x"}', 'at', at],
      ['xadd', '{person:1}a1', '*', 'status', 'done'],
      ['expire', '{person:1}a1', 3600],
      ['xadd', '{person:7}a7', '*', 'status', 'failed', 'error', 'bad'],
      ['expire', '{person:7}a7', 3600],
      ['eval', expect.stringContaining("'XACK'"), 2, 'wb:backlog:Persons', 'wb:status:Persons', 'writers', '1-0', 2, 1, 1, '2-0', 3, 2, 1],
      ['exec'],
    ]);
  });

  it('queues only what there is', async () => {
    const { redis, calls } = fakeRedis();
    await new Backlog(redis, new Keys('ns'), 'R').finish({ entries: [], dead: [], acks: [{ key: 'p:1', ack: 'z' }], version: '1' });
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
    await new Backlog(redis, new Keys('wb'), 'R').finish({ entries: [{ id: '7-0', records: 0, synced: 0, deadLetters: 0 }], dead: [], acks: [], version: '1' });
    expect(calls).toStrictEqual([
      ['eval', expect.any(String), 2, 'wb:backlog:R', 'wb:status:R', 'writers', '7-0', 0, 0, 0],
      ['exec'],
    ]);
  });

  it('takes every record off the queued count, dead-lettered ones too', async () => {
    const { redis, calls } = fakeRedis();
    await new Backlog(redis, new Keys('wb'), 'R').finish({
      entries: [{ id: '8-0', records: 4, synced: 0, deadLetters: 1 }], dead: [{ key: 'p:1', op: 'p', error: 'e', acks: [] }], acks: [], version: '3',
    });
    expect(calls.slice(1)).toStrictEqual([
      ['eval', expect.any(String), 2, 'wb:backlog:R', 'wb:status:R', 'writers', '8-0', 4, 0, 1],
      ['exec'],
    ]);
    expect(calls[0]?.slice(0, 16)).toStrictEqual(['eval', expect.any(String), 2, 'wb:dlq:R', 'wb:dlqidx:R', 'p:1', 'key', 'p:1', 'op', 'p', 'error', 'e', 'version', '3', 'fields', '{}']);
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
    await new Backlog(redis, new Keys('wb'), 'R').finish({
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
  /** A Redis answering XREADGROUP and XAUTOCLAIM with the given replies, recording the calls. */
  function readingRedis(replies: { xreadgroup?: unknown; xautoclaim?: unknown }) {
    const calls: unknown[][] = [];
    const redis = {
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
      xreadgroup: [['wb:backlog:R', [
        ['1-0', ['person:1', 'u:1:a', 'age', '3', 'person:2', 'd:0:']],
        ['2-0', null],
        ['3-0', ['bad']],
      ]]],
    });
    const res = await new Backlog(redis, new Keys('wb'), 'R').read('c1', 10);
    expect(calls).toStrictEqual([['xreadgroup', 'GROUP', 'writers', 'c1', 'COUNT', 10, 'STREAMS', 'wb:backlog:R', '>']]);
    expect(res).toStrictEqual({
      entries: [
        { id: '1-0', records: [
          { id: '1-0', key: 'person:1', ack: 'a', op: 'u', fields: new Map([['age', '3']]) },
          { id: '1-0', key: 'person:2', ack: '', op: 'd' },
        ] },
        { id: '2-0', records: [] },
        { id: '3-0', records: [], malformed: 'backlog entry 3-0, value 1 of 1: key "bad" has no record header; 1 values not synced' },
      ],
    });
  });

  it('read and readPending return no entries when there is nothing', async () => {
    const { redis, calls } = readingRedis({ xreadgroup: null });
    const backlog = new Backlog(redis, new Keys('wb'), 'R');
    expect(await backlog.read('c1', 5)).toStrictEqual({ entries: [] });
    expect(await backlog.readPending('c1', 5, '4-0')).toStrictEqual({ entries: [] });
    expect(calls[1]).toStrictEqual(['xreadgroup', 'GROUP', 'writers', 'c1', 'COUNT', 5, 'STREAMS', 'wb:backlog:R', '4-0']);
  });

  it('claim turns the ids of entries deleted meanwhile into entries without records, after the others', async () => {
    const { redis, calls } = readingRedis({
      xautoclaim: ['0-0', [['5-0', ['person:5', 'x:0:k']], ['6-0', null]], ['4-0', '7-0']],
    });
    const res = await new Backlog(redis, new Keys('wb'), 'R').claim('c2', 30_000, 50);
    expect(calls).toStrictEqual([['xautoclaim', 'wb:backlog:R', 'writers', 'c2', 30_000, '0-0', 'COUNT', 50]]);
    expect(res).toStrictEqual({
      entries: [
        { id: '5-0', records: [{ id: '5-0', key: 'person:5', ack: 'k', op: 'x' }] },
        { id: '6-0', records: [] },
        { id: '4-0', records: [] },
        { id: '7-0', records: [] },
      ],
      next: '0-0',
    });
  });

  it('claim copes with a server that lists no deleted ids', async () => {
    const { redis } = readingRedis({ xautoclaim: ['0-0', [['5-0', ['person:5', 'd:0:']]]] });
    expect(await new Backlog(redis, new Keys('wb'), 'R').claim('c2', 1, 1)).toStrictEqual({
      entries: [{ id: '5-0', records: [{ id: '5-0', key: 'person:5', ack: '', op: 'd' }] }],
      next: '0-0',
    });
  });
});

describe('Backlog.claimAll', () => {
  it("follows XAUTOCLAIM's cursor past empty pages until it comes back to 0-0", async () => {
    const replies: unknown[] = [['9-0', [], []], ['12-0', [['10-0', ['person:1', 'd:0:']]], []], ['0-0', [['13-0', ['person:2', 'd:0:']]], []]];
    const starts: unknown[] = [];
    const redis = {
      xautoclaim: async (...args: unknown[]) => {
        starts.push(args[4]);
        return replies.shift();
      },
    } as unknown as Redis;
    const pages: string[][] = [];
    await new Backlog(redis, new Keys('wb'), 'R').claimAll('c2', 1000, 2, async (entries) => {
      pages.push(entries.map((e) => e.id));
    }, () => false);
    // The first page claimed nothing (its scan met only busy entries), yet the rest is claimed.
    expect(starts).toStrictEqual(['0-0', '9-0', '12-0']);
    expect(pages).toStrictEqual([['10-0'], ['13-0']]);
  });

  it('ends early on a stop', async () => {
    const starts: unknown[] = [];
    const redis = {
      xautoclaim: async (...args: unknown[]) => {
        starts.push(args[4]);
        return ['5-0', [], []];
      },
    } as unknown as Redis;
    await new Backlog(redis, new Keys('wb'), 'R').claimAll('c2', 1000, 2, async () => undefined, () => true);
    expect(starts).toStrictEqual(['0-0']);
  });
});
