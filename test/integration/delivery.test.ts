import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { Backlog } from '../../runtime/backlog/backlog.ts';
import { entryRef, type StreamEntry } from '../../runtime/backlog/entry.ts';
import { InOrder } from '../../runtime/backlog/in-order.ts';
import { CaptureQueue, leftBehind, type FollowRead } from '../../runtime/capture/capture-queue.ts';
import { captureTarget } from '../../runtime/capture/targets.ts';
import { GROUP, Keys } from '../../runtime/keys.ts';
import { MySqlConnection, MySqlConnector, writeBehind } from '../../recipes/index.ts';
import { REDIS_URL } from '../helpers/env.ts';
import { uid } from '../helpers/wait.ts';

const redis = new Redis(REDIS_URL);
afterAll(() => redis.disconnect());

describe('captures that read their own entries (real Redis)', () => {
  it('hand every new entry on exactly once and in stream order per partition, mixed with plain reads on the same connection', async () => {
    const id = uid();
    const keys = new Keys(`wbd${id}`);
    const reg = writeBehind({
      name: `D${id}`, version: '1', keysPrefix: `d${id}`, mappings: { a: 'a' },
      connector: new MySqlConnector(new MySqlConnection('u', 'p', 'localhost:3306/test'), 't', 'id'),
    });
    expect(reg.partitions).toBe(8);
    const backlog = new Backlog(redis, keys, reg.name, reg.partitions);
    const parts = Array.from({ length: reg.partitions }, (_, p) => p);
    await backlog.ensureGroup();
    const handed: string[] = [];
    const order = new InOrder<StreamEntry[]>((entries) => handed.push(...entries.map(entryRef)));
    let nudges = 0;
    let every = 0;
    const q = new CaptureQueue(redis, captureTarget(reg, keys), pino({ level: 'silent' }), undefined, undefined, {
      // Every third call goes without a read, so the plain reads below have entries to take.
      begin: () => (every++ % 3 === 2 ? undefined : { ticket: order.take(), streams: backlog.streams, consumer: 'c1', count: 2 }),
      end: (read: FollowRead | undefined, res) => {
        if (read) order.complete(read.ticket, res?.entries === undefined ? undefined : backlog.decodeReply(res.entries));
        if (leftBehind(read, res)) nudges++;
      },
    });
    for (let round = 0; round < 200; round++) {
      for (let k = 0; k < 1 + (round % 4); k++) await redis.hset(`d${id}:${round}:${k}`, 'a', String(round));
      for (let k = 0; k < 1 + (round % 4); k++) q.push(`d${id}:${round}:${k}`, 'c');
      if (round % 5 === 0) {
        // Sent right behind a capture call, so both replies come in together: the order of
        // their handlers is then up to ioredis's promise chains, and InOrder must not care.
        await new Promise((r) => setImmediate(r));
        const ticket = order.take();
        void backlog.read('c1', 1, parts).then((r) => order.complete(ticket, r.entries));
      }
      if (round % 7 === 0) await new Promise((r) => setImmediate(r));
    }
    await q.flushed();
    // Whatever is still undelivered: what a nudged read loop would take.
    for (;;) {
      const ticket = order.take();
      const { entries } = await backlog.read('c1', 10, parts);
      order.complete(ticket, entries);
      if (entries.length === 0) break;
    }
    const perPartition = await Promise.all(backlog.streams.map(async (s, p) => ((await redis.xrange(s, '-', '+')) as Array<[string, string[]]>).map(([entryId]) => entryRef({ id: entryId, partition: p }))));
    const all = perPartition.flat();
    expect(all.length).toBeGreaterThan(50);
    expect(perPartition.filter((refs) => refs.length > 0).length).toBeGreaterThan(1); // the keys spread over partitions
    expect([...handed].sort()).toEqual([...all].sort()); // each once
    expect(new Set(handed).size).toBe(handed.length);
    // In stream order within each partition (partitions are independent streams).
    perPartition.forEach((refs, p) => expect(handed.filter((r) => r.startsWith(`${p}/`))).toEqual(refs));
    expect(nudges).toBeGreaterThan(0); // the calls without a read asked for one
    let pendingTotal = 0;
    for (const [p, s] of backlog.streams.entries()) {
      const pending = (await redis.xpending(s, GROUP)) as [number, string, string, Array<[string, string]> | null];
      const n = perPartition[p]?.length ?? 0;
      expect(pending[0]).toBe(n);
      if (n > 0) expect(pending[3]).toEqual([['c1', String(n)]]);
      pendingTotal += Number(pending[0]);
    }
    expect(pendingTotal).toBe(all.length);
    await redis.del(...backlog.streams, keys.status(reg.name), keys.echoes(reg.name), ...Array.from({ length: 200 }, (_, r) => Array.from({ length: 4 }, (_, k) => `d${id}:${r}:${k}`)).flat());
  });
});
