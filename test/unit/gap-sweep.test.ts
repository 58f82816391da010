import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { MySqlConnection, MySqlConnector, writeBehind, writeThrough, type Registration } from '../../recipes/index.ts';
import { GapSweep } from '../../runtime/capture/gap-sweep.ts';
import type { ConnectorSession } from '../../runtime/connectors/types.ts';
import { Keys } from '../../runtime/keys.ts';

const connector = new MySqlConnector(new MySqlConnection('u', 'p', 'localhost:3306/test'), 'persons', 'id');
const options = { version: '1', connector, keysPrefix: 'person', mappings: { first_name: 'first' } };
const log = pino({ level: 'silent' });
const ids = Array.from({ length: 1200 }, (_, i) => `id${String(i).padStart(4, '0')}`);
const key = (id: string): string => `person:${id}`;

/**
 * Redis as the sweep sees it: EXISTS answers from `present`; the capture script (sent in a
 * pipeline) reads the keys again, and `back` holds keys that came back in between. The sentinel
 * is there unless `flushed`.
 */
function fakeRedis(present: Set<string>, back = new Set<string>(), opts: { flushed?: boolean; status?: Record<string, string> } = {}) {
  const status = new Map<string, string>(Object.entries(opts.status ?? {}));
  const scripts: Array<{ keys: string[]; expiryDeletes: string; why: string[] }> = [];
  let script = '';
  const fake: Record<string, unknown> = {
    defineCommand(name: string) {
      script = name;
      fake[name] = () => undefined;
    },
    async exists(k: string) {
      expect(k).toBe('wb:sentinel');
      return opts.flushed ? 0 : 1;
    },
    async hget(_key: string, field: string) {
      return status.get(field) ?? null;
    },
    async hset(_key: string, ...kv: Array<string | number>) {
      for (let i = 0; i < kv.length; i += 2) status.set(String(kv[i]), String(kv[i + 1]));
      return 1;
    },
    pipeline() {
      const replies: Array<[null, number]> = [];
      const p: Record<string, unknown> = {
        exists: (k: string) => replies.push([null, present.has(k) ? 1 : 0]),
        [script]: (numKeys: number, ...args: string[]) => {
          // The echoes and status keys and the P streams are the declared keys; then the bound,
          // the expiry flag and P, then per changed key: the key and why.
          const expiryDeletes = args[numKeys + 1] as string;
          const partitions = Number(args[numKeys + 2]);
          expect(numKeys).toBe(2 + partitions);
          expect(args.slice(2, 2 + partitions)).toStrictEqual(Array.from({ length: partitions }, (_, p) => `wb:backlog:{P/${p}}`));
          const items = args.slice(numKeys + 3);
          const keys = items.filter((_, i) => i % 2 === 0);
          scripts.push({ keys, expiryDeletes, why: items.filter((_, i) => i % 2 === 1) });
          replies.push([null, keys.filter((k) => back.has(k) || present.has(k) || expiryDeletes === '1').length]);
        },
        exec: async () => replies,
      };
      return p;
    },
  };
  return { redis: fake as unknown as Redis, status, scripts };
}

/** A table of `ids` paged like scanIds; `fail(call)` makes that call (1-based) throw. */
function fakeSession(fail: (call: number) => boolean = () => false, gate?: Promise<void>) {
  const afters: Array<string | undefined> = [];
  const session = {
    async scanIds(_t: unknown, after: string | undefined, limit: number) {
      afters.push(after);
      await gate;
      if (fail(afters.length)) throw new Error('connection lost');
      return ids.filter((id) => after === undefined || id > after).slice(0, limit);
    },
    async close() {},
  } as unknown as ConnectorSession;
  return { session, afters };
}

function sweepOf(reg: Registration, redis: Redis, connect: () => Promise<ConnectorSession>, abort = new AbortController(), sharedWith?: () => readonly string[]) {
  let queued = 0;
  const sweep = new GapSweep({ reg, redis, keys: new Keys('wb'), log, signal: abort.signal, retry: { minMs: 1, maxMs: 5 }, connect, queued: () => queued++, room: async () => undefined, ...(sharedWith ? { sharedWith } : {}) });
  return { sweep, abort, queued: () => queued };
}

const goneEvery7th = (): Set<string> => new Set(ids.filter((_, i) => i % 7 !== 0).map(key));

describe('GapSweep', () => {
  it('sweeps after a reconcile of a scope mirrored before, never after the first reconcile of a scope', async () => {
    const reg = writeBehind({ name: 'P', ...options });
    const cases: Array<[string, (s: GapSweep) => string | null, boolean]> = [
      ['new recipe', () => null, false],
      ['start-up', () => null, false],
      ['start-up', () => 'other:* -> elsewhere', false],
      ['start-up', (s) => s.scope, true],
      ['new recipe', (s) => s.scope, true],
      ['subscription restored', (s) => s.scope, true],
      ['capture overflow', (s) => s.scope, true],
      // Redis restarted without persistence: the status (and the scope in it) went with the keys.
      ['subscription restored', () => null, false],
    ];
    for (const [reason, previous, sweeps] of cases) {
      const { redis } = fakeRedis(new Set(ids.map(key)));
      let connects = 0;
      const { sweep } = sweepOf(reg, redis, async () => (connects++, fakeSession().session));
      sweep.afterReconcile(reason, previous(sweep), performance.now());
      await sweep.settled();
      expect([reason, connects]).toEqual([reason, sweeps ? 1 : 0]);
    }
    const through = writeThrough({ name: 'WT', ...options });
    let connects = 0;
    const { sweep } = sweepOf(through, fakeRedis(new Set()).redis, async () => (connects++, fakeSession().session));
    sweep.afterReconcile('subscription restored', sweep.scope, performance.now());
    await sweep.settled();
    expect(connects).toBe(0);
  });

  it('sweeps again for a gap while it ran (notifications off, capture taken over) after a sweep at start-up', async () => {
    // Found from the outside: keys deleted while notifications were off kept their rows.
    for (const reason of ['keyspace notifications restored', 'capture taken over', 'subscription restored']) {
      const { redis } = fakeRedis(new Set(ids.map(key)));
      let connects = 0;
      const { sweep } = sweepOf(writeBehind({ name: 'P', ...options }), redis, async () => (connects++, fakeSession().session));
      sweep.afterReconcile('start-up', sweep.scope, performance.now());
      await sweep.settled();
      await new Promise((r) => setTimeout(r, 2));
      sweep.afterReconcile(reason, sweep.scope, performance.now());
      await sweep.settled();
      expect([reason, connects]).toEqual([reason, 2]);
    }
  });

  it("with onExpire: 'delete' hands every row whose key is gone to the capture script as an expiry", async () => {
    const { redis, status, scripts } = fakeRedis(goneEvery7th());
    const { sweep, queued } = sweepOf(writeBehind({ name: 'P', ...options, onExpire: 'delete' }), redis, async () => fakeSession().session);
    sweep.request('start-up');
    await sweep.settled();
    const gone = ids.filter((_, i) => i % 7 === 0).map(key);
    expect(scripts.flatMap((s) => s.keys)).toEqual(gone);
    expect(scripts.every((s) => s.expiryDeletes === '1' && s.why.every((w) => w === 'x0'))).toBe(true);
    expect(queued()).toBe(scripts.length);
    expect(Object.fromEntries(status)).toMatchObject({ sweeping: '', goneRows: '0' });
  });

  it("with onExpire: 'delete' on a table another recipe writes too, deletes nothing: it counts the rows whose key is gone", async () => {
    // Found from the outside: the other recipe's rows are not this recipe's keys gone.
    const { redis, status, scripts } = fakeRedis(goneEvery7th());
    const { sweep } = sweepOf(writeBehind({ name: 'P', ...options, onExpire: 'delete' }), redis, async () => fakeSession().session, undefined, () => ['Other']);
    sweep.request('start-up');
    await sweep.settled();
    expect(scripts.length).toBeGreaterThan(0);
    expect(scripts.every((s) => s.expiryDeletes === '0')).toBe(true);
    expect(status.get('goneRows')).toBe(String(Math.ceil(1200 / 7)));
  });

  it("with onExpire: 'keep' counts the keys still gone, not those that came back", async () => {
    const { redis, status, scripts } = fakeRedis(goneEvery7th(), new Set([key('id0000'), key('id0007')]));
    const { sweep } = sweepOf(writeBehind({ name: 'P', ...options }), redis, async () => fakeSession().session);
    sweep.request('start-up');
    await sweep.settled();
    expect(scripts.every((s) => s.expiryDeletes === '0')).toBe(true);
    expect(status.get('goneRows')).toBe(String(Math.ceil(1200 / 7) - 2));
    expect(status.get('goneRowsAt')).toMatch(/^\d{4}-/);
  });

  it("only counts, even with onExpire: 'delete', while the rows a flush left are kept (flushKeptAt)", async () => {
    const { redis, status, scripts } = fakeRedis(goneEvery7th(), new Set(), { status: { flushKeptAt: '2026-01-01T00:00:00.000Z' } });
    const { sweep } = sweepOf(writeBehind({ name: 'P', ...options, onExpire: 'delete' }), redis, async () => fakeSession().session);
    sweep.request('start-up');
    await sweep.settled();
    expect(scripts.every((s) => s.expiryDeletes === '0')).toBe(true);
    expect(status.get('goneRows')).toBe(String(Math.ceil(1200 / 7)));
  });

  it('stops without touching a key once the sentinel is gone (Redis lost its keys: onFlush decides)', async () => {
    const { redis, status, scripts } = fakeRedis(goneEvery7th(), new Set(), { flushed: true });
    const { sweep } = sweepOf(writeBehind({ name: 'P', ...options, onExpire: 'delete' }), redis, async () => fakeSession().session);
    sweep.request('subscription restored');
    await sweep.settled();
    expect(scripts).toEqual([]);
    expect(status.get('sweeping')).toBe('');
    expect(status.has('goneRows')).toBe(false);
  });

  it('waits for a database that is away, and goes on from the page it reached', async () => {
    const { redis, status, scripts } = fakeRedis(goneEvery7th());
    let connects = 0;
    const table = fakeSession((call) => call === 2); // the second page's query fails once
    const { sweep } = sweepOf(writeBehind({ name: 'P', ...options }), redis, async () => {
      if (++connects <= 2) throw new Error('ECONNREFUSED');
      return table.session;
    });
    sweep.request('start-up');
    await sweep.settled();
    expect(connects).toBe(4);
    expect(table.afters).toEqual([undefined, 'id0499', 'id0499', 'id0999', 'id1199']);
    expect(scripts.flatMap((s) => s.keys)).toHaveLength(Math.ceil(1200 / 7)); // no page twice
    expect(status.get('goneRows')).toBe(String(Math.ceil(1200 / 7)));
  });

  it('ends at a stop and leaves `sweeping` set, so that the next start takes it up again', async () => {
    const { redis, status } = fakeRedis(new Set());
    const { sweep, abort } = sweepOf(writeBehind({ name: 'P', ...options }), redis, async () => {
      throw new Error('ECONNREFUSED');
    });
    sweep.request('subscription restored', performance.now());
    await new Promise((r) => setTimeout(r, 20));
    abort.abort();
    await sweep.settled();
    expect(status.get('sweeping')).toBe('subscription restored');
    expect(status.has('goneRows')).toBe(false);
  });

  it('sweeps again after a gap that ended while it ran, not for one that ended before it began', async () => {
    const { redis } = fakeRedis(new Set(ids.map(key)));
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    let connects = 0;
    const { sweep } = sweepOf(writeBehind({ name: 'P', ...options }), redis, async () => (connects++, fakeSession(() => false, gate).session));
    sweep.afterReconcile('start-up', sweep.scope, performance.now());
    await new Promise((r) => setTimeout(r, 5));
    sweep.afterReconcile('new recipe', sweep.scope, performance.now()); // capture was live before this worker swept
    sweep.afterReconcile('subscription restored', sweep.scope, performance.now() + 1);
    sweep.afterReconcile('capture overflow', sweep.scope, performance.now() + 1); // coalesced with the one above
    open();
    await sweep.settled();
    await sweep.settled();
    expect(connects).toBe(2);
  });
});
