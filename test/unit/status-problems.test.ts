import { format } from 'mysql2';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { mysqlStatementLimit, mysqlStatements } from '../../runtime/connectors/mysql/statements.ts';
import type { ConnectorDriver, ConnectorSession, FailureKind, StatementLimit, WriteBatch } from '../../runtime/connectors/types.ts';
import { fitToLimit } from '../../runtime/writer/fit.ts';
import type { RowWrite } from '../../runtime/writer/plan.ts';
import { ProblemBoard } from '../../runtime/writer/problems.ts';
import { TableWriter } from '../../runtime/writer/table-writer.ts';

const log = pino({ level: 'silent' });
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 5));

/** A Redis whose MULTI records each transaction's commands; exec() fails while `down` is set. */
function statusRedis() {
  const hash: Record<string, string> = {};
  const state = { down: false, execs: 0 };
  const redis = {
    multi: () => {
      const queued: Array<() => void> = [];
      const tx = {
        hset: (_key: string, fields: Record<string, string>) => (queued.push(() => Object.assign(hash, fields)), tx),
        hincrby: (_key: string, field: string, n: number) => (queued.push(() => { hash[field] = String(Number(hash[field] ?? 0) + n); }), tx),
        exec: async () => {
          state.execs++;
          if (state.down) throw new Error('Connection is closed.');
          for (const q of queued) q();
          return queued.map(() => [null, 1]);
        },
      };
      return tx;
    },
  } as unknown as Redis;
  return { redis, hash, state };
}

describe('ProblemBoard: the status error of a recipe', () => {
  it("keeps one source's failure when another recovers, and clears once every source has", async () => {
    const { redis, hash } = statusRedis();
    const board = new ProblemBoard(redis, 'wb:status:R', log, new AbortController().signal, 1);
    const w0 = board.reporter('writer 0');
    const w1 = board.reporter('writer 1');
    w0('db: write failed: write ECONNRESET');
    w1('db: connect failed: ECONNREFUSED');
    await board.settled();
    expect(hash['error']).toBe('db: write failed: write ECONNRESET; db: connect failed: ECONNREFUSED');
    w1(undefined);
    await board.settled();
    expect(hash['error']).toBe('db: write failed: write ECONNRESET');
    w0(undefined);
    await board.settled();
    expect(hash).toMatchObject({ error: '', lastError: 'db: connect failed: ECONNREFUSED', failures: '2' });
  });

  it('shows the same problem of two sources once, and ignores the end of a problem never reported', async () => {
    const { redis, hash, state } = statusRedis();
    const board = new ProblemBoard(redis, 'k', log, new AbortController().signal, 1);
    board.report('capture', undefined);
    await board.settled();
    expect(state.execs).toBe(0);
    board.report('writer 0', 'same');
    board.report('writer 1', 'same');
    await board.settled();
    expect(hash['error']).toBe('same');
  });

  it("tells a writer's problem from capture's", () => {
    const { redis } = statusRedis();
    const board = new ProblemBoard(redis, 'k', log, new AbortController().signal, 1);
    board.report('capture', 'notify-keyspace-events is off');
    expect(board.failingBesides('capture')).toBe(false);
    board.report('writer 1', 'db: connect failed');
    expect(board.failingBesides('capture')).toBe(true);
    board.report('writer 1', undefined);
    expect(board.failingBesides('capture')).toBe(false);
  });

  it('writes a recovery that failed to reach Redis again, so status does not keep a stale error', async () => {
    const { redis, hash, state } = statusRedis();
    const board = new ProblemBoard(redis, 'k', log, new AbortController().signal, 1);
    board.report('writer 0', 'db: write failed: write ECONNRESET');
    await board.settled();
    state.down = true;
    board.report('writer 0', undefined);
    await settle();
    expect(hash['error']).toBe('db: write failed: write ECONNRESET');
    state.down = false;
    await board.settled();
    expect(hash).toMatchObject({ error: '', failures: '1' });
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
