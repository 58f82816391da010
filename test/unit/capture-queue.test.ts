import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { CaptureQueue, loadScript, type CaptureTarget } from '../../runtime/capture/capture-queue.ts';

/** A Redis stand-in that records the keys of every capture call. */
function fakeRedis(): { redis: Redis; calls: string[][] } {
  const calls: string[][] = [];
  const fake: Record<string, unknown> = {
    defineCommand(name: string) {
      fake[name] = async (numKeys: number, ...args: string[]) => {
        const keys = args.slice(3, numKeys); // after the stream, echoes and status keys
        calls.push(keys);
        return keys.length;
      };
    },
  };
  return { redis: fake as unknown as Redis, calls };
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
