import { format } from 'mysql2';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { mysqlStatementLimit, mysqlStatements } from '../../runtime/connectors/mysql/statements.ts';
import type { ConnectorDriver, ConnectorSession, FailureKind, StatementLimit, WriteBatch } from '../../runtime/connectors/types.ts';
import { fitToLimit } from '../../runtime/writer/fit.ts';
import type { RowWrite } from '../../runtime/writer/plan.ts';
import { ProblemBoard } from '../../runtime/writer/problems.ts';
import { TableWriter } from '../../runtime/writer/table-writer.ts';
import { REDIS_URL } from '../helpers/env.ts';
import { uid } from '../helpers/wait.ts';

const log = pino({ level: 'silent' });
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 5));

const real = new Redis(REDIS_URL);
const ns = `wbt${uid()}`;
afterAll(async () => {
  const keys = await real.keys(`${ns}:*`);
  if (keys.length) await real.del(...keys);
  real.disconnect();
});

/**
 * The real Redis behind a switch: while `down` is set, every script call fails as on a cut
 * connection. `hash()` reads the status hash; runtime `id`'s heartbeat is set (alive).
 */
async function statusRedis(id = 'rt-a') {
  const key = `${ns}:status:${uid()}`;
  const state = { down: false, calls: 0 };
  const redis = new Proxy(real, {
    get: (target, name, receiver) => name === 'eval'
      ? (...args: unknown[]) => {
        state.calls++;
        return state.down ? Promise.reject(new Error('Connection is closed.')) : (target.eval as (...a: unknown[]) => Promise<unknown>)(...args);
      }
      : Reflect.get(target, name, receiver) as unknown,
  }) as Redis;
  await real.set(`${ns}:runtime:${id}`, '{}', 'PX', 60_000);
  const owner = { id, heartbeats: `${ns}:runtime:` };
  return { redis, key, owner, state, hash: () => real.hgetall(key) };
}

describe('ProblemBoard: the status error of a recipe', () => {
  it("keeps one source's failure when another recovers, and clears once every source has", async () => {
    const { redis, key, owner, hash } = await statusRedis();
    const board = new ProblemBoard(redis, key, owner, log, new AbortController().signal, 1);
    const w0 = board.reporter('writer 0');
    const w1 = board.reporter('writer 1');
    w0('db: write failed: write ECONNRESET');
    w1('db: connect failed: ECONNREFUSED');
    await board.settled();
    expect((await hash())['error']).toBe('db: write failed: write ECONNRESET; db: connect failed: ECONNREFUSED');
    w1(undefined);
    await board.settled();
    expect((await hash())['error']).toBe('db: write failed: write ECONNRESET');
    w0(undefined);
    await board.settled();
    expect(await hash()).toStrictEqual({ error: '', lastError: 'db: connect failed: ECONNREFUSED', lastErrorAt: expect.any(String), failures: '2' });
  });

  it('shows the same problem of two sources once, and ignores the end of a problem never reported', async () => {
    const { redis, key, owner, hash, state } = await statusRedis();
    const board = new ProblemBoard(redis, key, owner, log, new AbortController().signal, 1);
    board.report('capture', undefined);
    await board.settled();
    expect(state.calls).toBe(0);
    board.report('writer 0', 'same');
    board.report('writer 1', 'same');
    await board.settled();
    expect((await hash())['error']).toBe('same');
  });

  it("tells a writer's problem from capture's", async () => {
    const { redis, key, owner } = await statusRedis();
    const board = new ProblemBoard(redis, key, owner, log, new AbortController().signal, 1);
    board.report('capture', 'notify-keyspace-events is off');
    expect(board.failingBesides('capture')).toBe(false);
    board.report('writer 1', 'db: connect failed');
    expect(board.failingBesides('capture')).toBe(true);
    board.report('writer 1', undefined);
    expect(board.failingBesides('capture')).toBe(false);
    await board.settled();
  });

  it('writes a recovery that failed to reach Redis again, so status does not keep a stale error', async () => {
    const { redis, key, owner, hash, state } = await statusRedis();
    const board = new ProblemBoard(redis, key, owner, log, new AbortController().signal, 1);
    board.report('writer 0', 'db: write failed: write ECONNRESET');
    await board.settled();
    state.down = true;
    board.report('writer 0', undefined);
    await settle();
    expect((await hash())['error']).toBe('db: write failed: write ECONNRESET');
    state.down = false;
    await board.settled();
    expect(await hash()).toMatchObject({ error: '', failures: '1' });
  });

  it("keeps each runtime's problems apart: one's recovery leaves another's failure; a dead runtime's goes", async () => {
    const a = await statusRedis('rt-a');
    const b = await statusRedis('rt-b');
    const boardA = new ProblemBoard(a.redis, a.key, a.owner, log, new AbortController().signal, 1);
    const boardB = new ProblemBoard(b.redis, a.key, b.owner, log, new AbortController().signal, 1);
    boardA.report('writer 0', 'db: connect failed: ECONNREFUSED');
    await boardA.settled();
    boardB.report('writer 0', 'db: write failed: timeout');
    await boardB.settled();
    expect((await a.hash())['error']).toBe('db: connect failed: ECONNREFUSED; db: write failed: timeout');
    boardB.report('writer 0', undefined);
    await boardB.settled();
    expect(await a.hash()).toMatchObject({ error: 'db: connect failed: ECONNREFUSED', 'error@rt-a': 'db: connect failed: ECONNREFUSED', failures: '2' });
    expect((await a.hash())['error@rt-b']).toBeUndefined();
    // rt-a dies (its heartbeat expires): the next write of anyone's state drops its problem.
    await real.del(`${ns}:runtime:rt-a`);
    boardB.publish();
    await boardB.settled();
    expect(await a.hash()).toMatchObject({ error: '' });
    expect((await a.hash())['error@rt-a']).toBeUndefined();
    // Same text from two runtimes: shown once.
    await real.set(`${ns}:runtime:rt-a`, '{}', 'PX', 60_000);
    boardA.report('writer 0', undefined);
    boardA.report('capture', 'notify-keyspace-events is off');
    boardB.report('capture', 'notify-keyspace-events is off');
    await Promise.all([boardA.settled(), boardB.settled()]);
    expect((await a.hash())['error']).toBe('notify-keyspace-events is off');
  });
});

const shape = { table: 't', pkColumn: 'id', columns: ['a'] };
const row = (id: string, a: string): RowWrite => ({ op: 'upsert', key: `k:${id}`, id, acks: [], values: [a], fields: { a } });

/** A driver whose sessions write with `write` (and carry `limit`). */
function driver(write: (b: WriteBatch) => Promise<void>, classify: FailureKind = 'record', limit?: StatementLimit): ConnectorDriver {
  const table = { exists: true, primaryKey: ['id'], columns: new Map([['id', { name: 'id', type: 'text', family: 'text' as const }], ['a', { name: 'a', type: 'longtext', family: 'text' as const }]]) };
  return {
    describe: () => 'fake db',
    classify: () => classify,
    connect: async (): Promise<ConnectorSession> => ({
      table, broken: false, write, readRows: async () => new Map(), scanIds: async () => [], close: async () => undefined, ...(limit ? { statementLimit: limit } : {}),
    }),
  };
}

describe('TableWriter: the end of a problem reaches status', () => {
  it('reports the end when the row it retried is then refused (no later write needed)', async () => {
    let calls = 0;
    const reports: Array<string | undefined> = [];
    const d = driver(async () => {
      calls++;
      throw Object.assign(new Error(calls === 1 ? 'write ECONNRESET' : 'Data too long'), { code: calls === 1 ? 'ECONNRESET' : 'ER_DATA_TOO_LONG' });
    });
    let first = true;
    d.classify = () => (first ? ((first = false), 'connection') : 'record');
    const writer = new TableWriter(d, ['a'], ['a'], log, (m) => reports.push(m), new AbortController().signal, { minMs: 1, maxMs: 1 });
    const dead = await writer.write(shape, [row('1', 'x')]);
    expect(dead.map((x) => x.key)).toStrictEqual(['k:1']);
    expect(reports).toStrictEqual(['fake db: write failed: write ECONNRESET', undefined]);
  });
});

/** A limit counting each value's characters, with 10 bytes of statement and 2 per row. */
const limit = (maxBytes: number): StatementLimit => ({
  maxBytes, setting: 'max_allowed_packet', baseBytes: () => 10,
  rowBytes: (r) => 2 + (r.op === 'upsert' ? r.values.reduce<number>((n, v) => n + String(v).length, 0) : 0),
});

describe('TableWriter and a statement limit', () => {
  it('dead-letters a row larger than one statement may be without sending it, and writes the rest in statements that fit', async () => {
    const sent: string[][] = [];
    const writer = new TableWriter(driver(async (b) => void sent.push(b.rows.map((r) => r.id)), 'connection', limit(100)), ['a'], ['a'], log, () => undefined, new AbortController().signal, { minMs: 1, maxMs: 1 });
    const big = 'x'.repeat(2000);
    const dead = await writer.write(shape, [row('1', 'a'.repeat(40)), row('2', big), row('3', 'b'.repeat(40)), row('4', 'c'.repeat(40))]);
    expect(sent).toStrictEqual([['1', '3'], ['4']]);
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ key: 'k:2', op: 'upsert', error: "key 'k:2': the row takes 2002 bytes in a statement, more than the database accepts in one (max_allowed_packet = 100); raise max_allowed_packet, then wb-cli dlq --replay" });
    // The dead letter keeps the start of a large value, not all of it.
    expect((dead[0]?.fields as Record<string, string>)['a']).toBe(`${'x'.repeat(1024)}… (2000 characters)`);
  });

  it('leaves a batch that fits alone', () => {
    expect(fitToLimit([row('1', 'a'), row('2', 'b')], shape, limit(100))).toBeUndefined();
  });
});

describe('mysqlStatementLimit', () => {
  const values = ['plain', "it's \"quoted\"\\ and\nnewlined\0", 'ünïcødé €𝄞', ''.padEnd(300, "'")];
  const rows: RowWrite[] = values.map((v, i) => ({ op: 'upsert', key: `k:${i}`, id: `id'${i}`, acks: [], values: [v, i, null], fields: {} }));
  const batch = { table: 'db.persons', pkColumn: 'id', columns: ['first', 'age', 'note'], rows };
  const [upsert] = mysqlStatements(batch);
  // What mysql2 sends: the statement with its values escaped in, after the command byte.
  const sentBytes = Buffer.byteLength(format(upsert?.sql ?? '', [...(upsert?.params ?? [])])) + 1;
  const lim = mysqlStatementLimit(16 * 1024 * 1024) as StatementLimit;

  it('counts exactly at most a few bytes more than mysql2 sends, and never less', () => {
    const counted = lim.baseBytes(batch) + rows.reduce((n, r) => n + lim.rowBytes(r, true), 0);
    expect(counted).toBeGreaterThanOrEqual(sentBytes);
    expect(counted - sentBytes).toBeLessThan(20);
  });

  it('counts cheaply never less than exactly', () => {
    for (const r of rows) expect(lim.rowBytes(r, false)).toBeGreaterThanOrEqual(lim.rowBytes(r, true));
  });

  it('has no limit without a usable max_allowed_packet', () => {
    expect(mysqlStatementLimit(Number.NaN)).toBeUndefined();
    expect(mysqlStatementLimit(0)).toBeUndefined();
  });
});
