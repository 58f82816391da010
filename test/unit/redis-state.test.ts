import type { Redis } from 'ioredis';
import { describe, it, expect } from 'vitest';
import { decodeEntry, type BacklogEntry } from '../../runtime/backlog/entry.ts';
import { applyThrough, readTargets, refreshEntries } from '../../runtime/writer/redis-state.ts';
import type { RowWrite } from '../../runtime/writer/plan.ts';

type Reply = [Error | null, unknown];

/** A Redis whose pipelines record commands and answer them from `answer`. */
function fakeRedis(answer: (cmd: string, key: string) => Reply) {
  const calls: string[][] = [];
  const redis = {
    pipeline() {
      const queued: Array<[string, string]> = [];
      const p: Record<string, unknown> = {
        exec: async () => {
          calls.push(queued.map(([c, k]) => `${c} ${k}`));
          return queued.map(([c, k]) => answer(c, k));
        },
      };
      for (const cmd of ['type', 'hgetall']) {
        p[cmd] = (key: string) => {
          queued.push([cmd, key]);
          return p;
        };
      }
      return p;
    },
  } as unknown as Redis;
  return { redis, calls };
}

const e = (id: string, key: string, ack: string, op: 'u' | 'd' | 'w' | 'x' | 'p', fields: Record<string, string> = {}): BacklogEntry => {
  if (op === 'u' || op === 'w') return { id, key, ack, op, fields: new Map(Object.entries(fields)) };
  if (op === 'p') return { id, key, ack, op, message: 'bad' };
  return { id, key, ack, op };
};

describe('refreshEntries', () => {
  const state: Record<string, { type: string; hash: Record<string, string> }> = {
    'person:1': { type: 'hash', hash: { age: '40' } },
    'person:2': { type: 'none', hash: {} },
    'person:3': { type: 'none', hash: {} },
    'person:4': { type: 'string', hash: {} },
  };
  const answer = (cmd: string, key: string): Reply => {
    const s = state[key];
    if (s === undefined) return [null, cmd === 'type' ? 'none' : {}];
    if (cmd === 'type') return [null, s.type];
    return s.type === 'string' ? [new Error('WRONGTYPE'), undefined] : [null, s.hash];
  };

  it('reads nothing for no entries', async () => {
    const { redis, calls } = fakeRedis(answer);
    expect(await refreshEntries(redis, [])).toStrictEqual([]);
    expect(calls).toStrictEqual([]);
  });

  it('replaces each entry by the current state of its key, keeping ids and acks', async () => {
    const { redis, calls } = fakeRedis(answer);
    const out = await refreshEntries(redis, [
      e('1-0', 'person:1', 'a1', 'u', { age: '30' }),
      e('2-0', 'person:1', '', 'd'),
      e('3-0', 'person:2', 'a2', 'u', { age: '1' }),
      e('4-0', 'person:3', 'a3', 'u', { age: '1' }),
      e('5-0', 'person:3', '', 'd'),
      e('6-0', 'person:4', 'a4', 'u', { age: '1' }),
      e('7-0', 'person:2', '', 'p'),
    ]);
    expect(calls).toStrictEqual([['type person:1', 'hgetall person:1', 'type person:2', 'hgetall person:2', 'type person:3', 'hgetall person:3', 'type person:4', 'hgetall person:4']]);
    expect(out).toStrictEqual([
      { id: '1-0', key: 'person:1', ack: 'a1', op: 'u', fields: new Map([['age', '40']]) },
      { id: '2-0', key: 'person:1', ack: '', op: 'u', fields: new Map([['age', '40']]) },
      { id: '3-0', key: 'person:2', ack: 'a2', op: 'n' },
      { id: '4-0', key: 'person:3', ack: 'a3', op: 'd' },
      { id: '5-0', key: 'person:3', ack: '', op: 'd' },
      { id: '6-0', key: 'person:4', ack: 'a4', op: 't', type: 'string' },
      { id: '7-0', key: 'person:2', ack: '', op: 'p', message: 'bad' },
    ]);
  });

  it('refreshes the records of one stream entry, which share its id, reading each key once', async () => {
    const { redis, calls } = fakeRedis(answer);
    const { records } = decodeEntry(['9-0', ['person:1', 'u:1:a', 'age', '1', 'person:3', 'u:0:', 'person:1', 'd:0:', 'person:2', 'p:1:', 'm', 'bad']]);
    expect(await refreshEntries(redis, records)).toStrictEqual([
      { id: '9-0', key: 'person:1', ack: 'a', op: 'u', fields: new Map([['age', '40']]) },
      { id: '9-0', key: 'person:3', ack: '', op: 'n' },
      { id: '9-0', key: 'person:1', ack: '', op: 'u', fields: new Map([['age', '40']]) },
      { id: '9-0', key: 'person:2', ack: '', op: 'p', message: 'bad' },
    ]);
    expect(calls).toStrictEqual([['type person:1', 'hgetall person:1', 'type person:3', 'hgetall person:3', 'type person:2', 'hgetall person:2']]);
  });

  it('reports a hash of more than 3500 fields, like capture.lua, and keeps one of exactly 3500', async () => {
    const hash = (n: number): Record<string, string> => Object.fromEntries(Array.from({ length: n }, (_, i) => [`f${i}`, String(i)]));
    const big: Record<string, Reply> = { 'person:1': [null, 'hash'], 'person:2': [null, 'hash'] };
    const hashes: Record<string, Reply> = { 'person:1': [null, hash(3501)], 'person:2': [null, hash(3500)] };
    const { redis } = fakeRedis((cmd, key) => (cmd === 'type' ? big[key] : hashes[key]) ?? [null, 'none']);
    const out = await refreshEntries(redis, [e('1-0', 'person:1', 'a', 'u'), e('1-0', 'person:2', '', 'd')]);
    expect(out[0]).toStrictEqual({ id: '1-0', key: 'person:1', ack: 'a', op: 't', type: 'hash' });
    expect(out[1]?.op === 'u' && out[1].fields.size).toBe(3500);
  });

  it('leaves write-through entries as they are', async () => {
    const { redis } = fakeRedis(answer);
    const staged = e('1-0', 'person:2', 'w', 'w', { age: '5' });
    const dropped = e('2-0', 'person:1', 'x', 'x');
    const out = await refreshEntries(redis, [staged, dropped]);
    expect(out[0]).toBe(staged);
    expect(out[1]).toBe(dropped);
  });
});

describe('readTargets', () => {
  it('reads the current hash of each staged key once, null when absent, leaving out other types', async () => {
    const hashes: Record<string, Reply> = {
      'person:1': [null, { first_name: 'Ann' }],
      'person:2': [null, {}],
      'person:3': [new Error('WRONGTYPE Operation against a key holding the wrong kind of value'), undefined],
    };
    const { redis, calls } = fakeRedis((_, key) => hashes[key] ?? [null, {}]);
    const targets = await readTargets(redis, [
      e('1-0', 'person:1', '', 'w', { a: '1' }),
      e('2-0', 'person:2', '', 'w'),
      e('3-0', 'person:1', '', 'w'),
      e('4-0', 'person:3', '', 'w'),
      e('5-0', 'person:4', '', 'x'),
    ]);
    expect(calls).toStrictEqual([['hgetall person:1', 'hgetall person:2', 'hgetall person:3']]);
    expect(targets).toStrictEqual(new Map<string, Record<string, string> | null>([['person:1', { first_name: 'Ann' }], ['person:2', null]]));
  });

  it('reads nothing without staged writes', async () => {
    const { redis, calls } = fakeRedis(() => [null, {}]);
    expect(await readTargets(redis, [e('1-0', 'person:1', '', 'x')])).toStrictEqual(new Map());
    expect(calls).toStrictEqual([]);
  });
});

describe('applyThrough', () => {
  function scriptRedis() {
    const defined: Array<{ name: string; lua: string }> = [];
    const runs: unknown[][] = [];
    const redis: Record<string, unknown> = {
      defineCommand(name: string, def: { lua: string }) {
        defined.push({ name, lua: def.lua });
        redis[name] = async (...args: unknown[]) => {
          runs.push(args);
          return 0;
        };
      },
    };
    return { redis: redis as unknown as Redis, defined, runs };
  }

  it('merges and deletes in order, only for rows with write-through ops', async () => {
    const { redis, defined, runs } = scriptRedis();
    const rows: RowWrite[] = [
      { op: 'upsert', key: 'person:0', id: '0', acks: [], values: [], fields: {} },
      { op: 'upsert', key: 'person:1', id: '1', acks: ['a'], values: [], fields: {}, through: [{ op: 'merge', id: '1-0', fields: { f: '1', g: '2' } }] },
      { op: 'delete', key: 'person:2', id: '2', acks: [], through: [{ op: 'merge', id: '1-0', fields: { f: 'x' } }, { op: 'delete', id: '1-0' }] },
      { op: 'delete', key: 'person:3', id: '3', acks: [], through: [] },
    ];
    const dlq = { stream: 'wb:dlq:P', index: 'wb:dlqidx:P' };
    await applyThrough(redis, rows, 'wb:wtmarks:P', dlq);
    await applyThrough(redis, rows, 'wb:wtmarks:P', dlq);
    expect(defined.map((d) => d.name)).toStrictEqual(['wbApply']);
    expect(defined[0]?.lua).toContain("redis.call('HSET', key, unpack(set))");
    const expected = [5, 'person:1', 'person:2', 'wb:wtmarks:P', 'wb:dlq:P', 'wb:dlqidx:P', '[["m","1-0","f","1","g","2"]]', '[["m","1-0","f","x"],["d","1-0"]]'];
    expect(runs).toStrictEqual([expected, expected]);
  });

  it('runs nothing when no row has write-through ops', async () => {
    const { redis, defined, runs } = scriptRedis();
    await applyThrough(redis, [{ op: 'delete', key: 'person:1', id: '1', acks: ['a'] }], 'wb:wtmarks:P', { stream: 'wb:dlq:P', index: 'wb:dlqidx:P' });
    expect(defined).toStrictEqual([]);
    expect(runs).toStrictEqual([]);
  });
});
