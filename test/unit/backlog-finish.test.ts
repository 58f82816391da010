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
      ids: ['1-0', '2-0'],
      synced: 3,
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
      ['xadd', 'wb:dlq:Persons', '*', 'key', 'person:7', 'op', 't', 'error', 'bad', 'version', '1.2', 'fields', '{}', 'at', at],
      ['xadd', 'wb:dlq:Persons', '*', 'key', 'person:8', 'op', 'upsert', 'error', 'too long', 'version', '1.2', 'fields', '{"first_name":"x"}', 'at', at],
      ['xadd', '{person:1}a1', '*', 'status', 'done'],
      ['expire', '{person:1}a1', 3600],
      ['xadd', '{person:7}a7', '*', 'status', 'failed', 'error', 'bad'],
      ['expire', '{person:7}a7', 3600],
      ['xack', 'wb:backlog:Persons', 'writers', '1-0', '2-0'],
      ['xdel', 'wb:backlog:Persons', '1-0', '2-0'],
      ['hincrby', 'wb:status:Persons', 'synced', 3],
      ['hincrby', 'wb:status:Persons', 'deadLetters', 2],
      ['exec'],
    ]);
  });

  it('queues only what there is', async () => {
    const { redis, calls } = fakeRedis();
    await new Backlog(redis, new Keys('ns'), 'R').finish({ ids: [], synced: 0, dead: [], acks: [{ key: 'p:1', ack: 'z' }], version: '1' });
    expect(calls).toStrictEqual([
      ['xadd', '{p:1}z', '*', 'status', 'done'],
      ['expire', '{p:1}z', 3600],
      ['exec'],
    ]);
  });
});
