import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { describe, it, expect } from 'vitest';
import { MySqlConnection, MySqlConnector, writeBehind } from '../../recipes/index.ts';
import type { Backlog, Completion, DeadLetter, FinishResult } from '../../runtime/backlog/backlog.ts';
import { decodeEntry, type StreamEntry } from '../../runtime/backlog/entry.ts';
import { partitionOf, WritePipeline } from '../../runtime/writer/pipeline.ts';
import type { RowWrite } from '../../runtime/writer/plan.ts';
import type { TableWriter } from '../../runtime/writer/table-writer.ts';
import type { PartitionAccess } from '../../runtime/lease/access.ts';

const connector = new MySqlConnector(new MySqlConnection('u', 'p', 'localhost:3306/test'), 'persons', 'id');
const mappings = { first_name: 'first', age: 'age' };
const SHAPE = { table: 'persons', pkColumn: 'id', columns: ['first', 'age'] };
const log = pino({ level: 'silent' });

// With two partitions, person:2, :4, :6 go to the first writer and person:1, :3, :5 to the second
// (checked by the first partitionOf test).
const P0 = ['person:2', 'person:4', 'person:6'] as const;
const P1 = ['person:1', 'person:3', 'person:5'] as const;

interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => { resolve = r; });
  return { promise, resolve };
}

/**
 * A TableWriter stand-in: records each write; answers at once with `refuse(rows)` or, when
 * gated, only once the test opens the call's gate.
 */
class FakeWriter {
  private readonly gated: boolean;
  private readonly refuse: (rows: readonly RowWrite[]) => DeadLetter[];
  readonly calls: Array<{ shape: unknown; rows: readonly RowWrite[] }> = [];
  /** Each call's write budget: how long it may still take, 0 once a partition of it may no longer commit (the third argument of TableWriter.write). */
  readonly budgets: Array<(() => number) | undefined> = [];
  readonly gates: Array<Deferred<DeadLetter[]>> = [];

  constructor(
    gated = false,
    refuse: (rows: readonly RowWrite[]) => DeadLetter[] = () => [],
  ) {
    this.gated = gated;
    this.refuse = refuse;
  }

  async write(shape: unknown, rows: readonly RowWrite[], budget?: () => number): Promise<DeadLetter[]> {
    this.calls.push({ shape, rows });
    this.budgets.push(budget);
    if (!this.gated) return this.refuse(rows);
    const gate = deferred<DeadLetter[]>();
    this.gates.push(gate);
    return gate.promise;
  }

  /** Opens the gate of call `i` (0-based). */
  open(i: number, dead: DeadLetter[] = []): void {
    const gate = this.gates[i];
    if (gate === undefined) throw new Error(`no write call ${i} yet (${this.gates.length} so far)`);
    gate.resolve(dead);
  }

  /** Each call's rows as `key op value-of-age` (upserts) or `key delete`. */
  summary(): string[][] {
    return this.calls.map((c) => c.rows.map((r) => (r.op === 'upsert' ? `${r.key} upsert ${r.values.join('|')}` : `${r.key} delete`)));
  }
}

/** A completion summed over its entries: what these tests compare. */
interface Finished {
  readonly ids: readonly string[];
  readonly synced: number;
  readonly records: number;
  readonly dead: Completion['dead'];
  readonly acks: Completion['acks'];
  readonly version: string;
}

/** A Backlog stand-in recording completions. */
class FakeBacklog {
  readonly finished: Finished[] = [];
  readonly completions: Completion[] = [];

  /** Finishes that fail before this one succeeds (Redis down): Infinity for one that never comes back. */
  failing = 0;
  /** Partitions whose lease a finish finds gone: their entries are not acknowledged. */
  lost = new Set<number>();

  async finish(c: Completion): Promise<FinishResult> {
    this.completions.push(c);
    if (this.failing > 0) {
      this.failing--;
      throw new Error('connect ECONNREFUSED');
    }
    const { entries: all, ...rest } = c;
    const entries = all.filter((e) => !this.lost.has(e.partition));
    // Each dead letter and ack carries its entry's partition (settled under its lease): shown
    // in `completions`; `finished` compares what they say.
    this.finished.push({
      ids: entries.map((e) => e.id),
      synced: entries.reduce((n, e) => n + e.synced, 0),
      records: entries.reduce((n, e) => n + e.records, 0),
      ...rest,
      dead: rest.dead.map(({ partition: _, ...d }) => d),
      acks: rest.acks.map(({ partition: _, ...a }) => a),
    });
    return { lost: [...new Set(all.map((e) => e.partition))].filter((p) => this.lost.has(p)).sort((a, b) => a - b) };
  }
}

/** A Redis that must not be used: write-behind needs none in the pipeline. */
function untouchedRedis() {
  const touched: PropertyKey[] = [];
  const redis = new Proxy({}, {
    get: (_, prop) => {
      touched.push(prop);
      return undefined;
    },
  }) as unknown as Redis;
  return { redis, touched };
}

function setup(opts: { parallelism?: number; batchSize?: number; gated?: boolean; refuse?: Array<(rows: readonly RowWrite[]) => DeadLetter[]>; lingerMs?: number; reports?: Array<string | undefined>; access?: PartitionAccess } = {}) {
  const parallelism = opts.parallelism ?? 2;
  const reg = writeBehind({ name: 'Persons', version: '3', connector, keysPrefix: 'person', mappings, parallelism, batchSize: opts.batchSize ?? 500 });
  const writers = Array.from({ length: parallelism }, (_, i) => new FakeWriter(opts.gated ?? false, opts.refuse?.[i]));
  const backlog = new FakeBacklog();
  const { redis, touched } = untouchedRedis();
  const abort = new AbortController();
  // No linger unless a test is about it: completions then happen as soon as they can.
  const pipeline = new WritePipeline(reg, redis, backlog as unknown as Backlog, writers as unknown as TableWriter[], log, abort.signal, opts.lingerMs ?? 0, {
    report: (m) => opts.reports?.push(m),
    retry: { minMs: 1, maxMs: 1 },
    ...(opts.access ? { access: opts.access } : {}),
  });
  return { pipeline, writers, backlog, touched, abort };
}

/** A stream entry in the capture layout: `[key, header, ...pairs]` per record. */
const entry = (id: string, ...records: string[][]): StreamEntry => decodeEntry([id, records.flat()]);
const up = (key: string, age: string, ack = ''): string[] => [key, `u:1:${ack}`, 'age', age];
const del = (key: string, ack = ''): string[] => [key, `d:0:${ack}`];
const badOp = (key: string, ack = ''): string[] => [key, `p:1:${ack}`, 'm', "'#' op '?' is not one of =, ~, + or -"];
const bad = (key: string, message: string): string[] => [key, 'p:1:', 'm', message];
/** The same entry, read from backlog partition `p`. */
const inPartition = (p: number, e: StreamEntry): StreamEntry => ({ ...e, partition: p });

/** Lets every pending promise callback run (nothing here waits on timers). */
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

const [A0, B0, C0] = P0;
const [A1, B1, C1] = P1;

describe('partitionOf', () => {
  it('puts the keys these tests use where they expect', () => {
    expect(P0.map((k) => partitionOf(k, 2))).toStrictEqual([0, 0, 0]);
    expect(P1.map((k) => partitionOf(k, 2))).toStrictEqual([1, 1, 1]);
  });

  it('is 32-bit FNV-1a of the key, modulo the partitions', () => {
    expect(partitionOf('', 2 ** 32)).toBe(0x811c9dc5);
    expect(partitionOf('a', 2 ** 32)).toBe(0xe40c292c);
    expect(partitionOf('foobar', 2 ** 32)).toBe(0xbf9cf968);
    expect(partitionOf('foobar', 7)).toBe(0xbf9cf968 % 7);
  });

  it('stays inside the range and spreads keys evenly over the partitions', () => {
    // (That a key always gets the same partition follows from FNV-1a being pinned above.)
    const counts = [0, 0, 0, 0, 0];
    for (let i = 0; i < 1000; i++) {
      const p = partitionOf(`person:${i}`, 5);
      expect(p).toBeGreaterThanOrEqual(0);
      expect(p).toBeLessThan(5);
      counts[p] = (counts[p] ?? 0) + 1;
    }
    for (const n of counts) expect(n).toBeGreaterThan(150);
  });

  it('puts everything in the one partition there is', () => {
    expect(['', 'a', 'person:1', 'é€𝄞'].map((k) => partitionOf(k, 1))).toStrictEqual([0, 0, 0, 0]);
  });

  it.each([2, 3, 4, 16])('spreads 1000 keys evenly over %i partitions', (n) => {
    const counts = new Array<number>(n).fill(0);
    for (let i = 0; i < 1000; i++) {
      const p = partitionOf(`person:${i}`, n);
      counts[p] = (counts[p] ?? 0) + 1;
    }
    const mean = 1000 / n;
    for (const c of counts) {
      expect(c).toBeGreaterThan(mean * 0.8);
      expect(c).toBeLessThan(mean * 1.2);
    }
  });
});

describe('WritePipeline routing', () => {
  it('sends every record of a key to the same writer, in stream order', async () => {
    const { pipeline, writers, backlog, touched } = setup({ batchSize: 1 });
    pipeline.push([entry('1-0', up(A0, '1'), up(A1, '1')), entry('2-0', up(A0, '2'), del(A1), up(B0, '1'))]);
    pipeline.push([entry('3-0', up(B1, '1'), del(A0)), entry('4-0', up(A1, '3'), up(A0, '4'))]);
    await pipeline.stop();
    expect(writers[0]?.summary()).toStrictEqual([
      [`${A0} upsert |1`], [`${A0} upsert |2`], [`${B0} upsert |1`], [`${A0} delete`], [`${A0} upsert |4`],
    ]);
    expect(writers[1]?.summary()).toStrictEqual([
      [`${A1} upsert |1`], [`${A1} delete`], [`${B1} upsert |1`], [`${A1} upsert |3`],
    ]);
    expect(writers.flatMap((w) => w.calls.map((c) => c.shape))).toStrictEqual(new Array(9).fill(SHAPE));
    expect(backlog.finished.flatMap((c) => c.ids).sort()).toStrictEqual(['1-0', '2-0', '3-0', '4-0']);
    expect(backlog.finished.reduce((n, c) => n + c.records, 0)).toBe(9);
    expect(backlog.finished.reduce((n, c) => n + c.synced, 0)).toBe(9);
    expect(pipeline.pending).toBe(0);
    expect(touched).toStrictEqual([]);
  });

  it('writes the records queued for a partition as one batch, the last state of each key winning', async () => {
    const { pipeline, writers, backlog } = setup();
    pipeline.push([entry('1-0', up(A0, '1', 'k1'), up(A1, '1'), up(B0, '5')), entry('2-0', del(A0, 'k2'), up(A1, '2'))]);
    await pipeline.stop();
    expect(writers[0]?.calls).toStrictEqual([{
      shape: SHAPE,
      rows: [
        { op: 'delete', key: A0, id: A0.slice(7), acks: ['k1', 'k2'] },
        { op: 'upsert', key: B0, id: B0.slice(7), acks: [], values: [null, '5'], fields: new Map([['age', '5']]) },
      ],
    }]);
    expect(writers[1]?.summary()).toStrictEqual([[`${A1} upsert |2`]]);
    expect(backlog.finished).toStrictEqual([{
      ids: ['1-0', '2-0'], synced: 3, records: 5, dead: [],
      acks: [{ key: A0, ack: 'k1' }, { key: A0, ack: 'k2' }], version: '3',
    }]);
  });

  it('gives every dead letter and ack the partition of the entry it came from', async () => {
    const { pipeline, backlog } = setup();
    pipeline.push([{ ...entry('1-0', up(A0, '1', 'k1')), partition: 3 }, { ...entry('1-0', badOp(B0, 'k2')), partition: 5 }]);
    await pipeline.stop();
    const c = backlog.completions.flatMap((x) => [...x.dead.map((d) => [d.key, d.partition]), ...x.acks.map((a) => [a.ack, a.partition])]);
    expect(c.sort()).toStrictEqual([[B0, 5], ['k1', 3], ['k2', 5]].sort());
  });

  it('spreads over as many writers as it is given', async () => {
    const { pipeline, writers } = setup({ parallelism: 3 });
    const keys = Array.from({ length: 30 }, (_, i) => `person:${i}`);
    pipeline.push([entry('1-0', ...keys.map((k) => up(k, '1')))]);
    await pipeline.stop();
    const written = writers.map((w) => w.calls.flatMap((c) => c.rows.map((r) => r.key)));
    written.forEach((ks, i) => {
      expect(ks.length).toBeGreaterThan(0);
      expect(ks).toStrictEqual(keys.filter((k) => partitionOf(k, 3) === i));
    });
  });
});

describe('WritePipeline completions', () => {
  it('holds an entry from its push until it is acknowledged, so a claim does not take it twice', async () => {
    const { pipeline, writers } = setup({ gated: true, batchSize: 1 });
    const [w0, w1] = writers as [FakeWriter, FakeWriter];
    expect(pipeline.holds({ id: '1-0', partition: 0 })).toBe(false);
    pipeline.push([entry('1-0', up(A0, '1'), up(A1, '1'))]);
    await settle();
    expect(pipeline.holds({ id: '1-0', partition: 0 })).toBe(true);
    w0.open(0);
    await settle();
    expect(pipeline.holds({ id: '1-0', partition: 0 })).toBe(true); // its record in the other partition is not written yet
    w1.open(0);
    await settle();
    expect(pipeline.holds({ id: '1-0', partition: 0 })).toBe(false);
  });

  it('finishes an entry only once its records in both partitions are written', async () => {
    const { pipeline, writers, backlog } = setup({ gated: true, batchSize: 1 });
    const [w0, w1] = writers as [FakeWriter, FakeWriter];
    pipeline.push([entry('1-0', up(A0, '1'), up(A1, '1')), entry('2-0', up(B0, '2'))]);
    await settle();
    expect([w0.calls.length, w1.calls.length]).toStrictEqual([1, 1]);

    w0.open(0);
    await settle();
    expect(backlog.finished).toStrictEqual([]);
    expect(w0.calls.length).toBe(2);

    w0.open(1); // 2-0 is all in the first partition: it need not wait for 1-0
    await settle();
    expect(backlog.finished).toStrictEqual([{ ids: ['2-0'], synced: 1, records: 1, dead: [], acks: [], version: '3' }]);

    w1.open(0);
    await settle();
    expect(backlog.finished).toStrictEqual([
      { ids: ['2-0'], synced: 1, records: 1, dead: [], acks: [], version: '3' },
      { ids: ['1-0'], synced: 2, records: 2, dead: [], acks: [], version: '3' },
    ]);
  });

  it('reports synced rows, records, dead letters and acks exactly', async () => {
    const refusal: DeadLetter = { key: A1, op: 'upsert', error: `key '${A1}': too long`, fields: { age: '6' }, acks: ['a2', 'a3'] };
    const { pipeline, writers, backlog, touched } = setup({ gated: true });
    const [w0, w1] = writers as [FakeWriter, FakeWriter];
    pipeline.push([
      entry('1-0', up(A0, '1', 'a1'), up(A1, '5', 'a2')),
      entry('2-0', up(A1, '6', 'a3'), bad(B0, 'bad op')),
      entry('3-0', del(B1, 'a4'), del(A0)),
    ]);
    await settle();
    expect(w0.calls).toStrictEqual([{ shape: SHAPE, rows: [{ op: 'delete', key: A0, id: A0.slice(7), acks: ['a1'] }] }]);
    expect(w1.calls).toStrictEqual([{
      shape: SHAPE,
      rows: [
        { op: 'upsert', key: A1, id: A1.slice(7), acks: ['a2', 'a3'], values: [null, '6'], fields: new Map([['age', '6']]) },
        { op: 'delete', key: B1, id: B1.slice(7), acks: ['a4'] },
      ],
    }]);

    w0.open(0);
    await settle();
    expect(backlog.finished).toStrictEqual([]); // every entry has a record in the second partition
    w1.open(0, [refusal]);
    await settle();
    expect(backlog.finished).toStrictEqual([{
      ids: ['1-0', '2-0', '3-0'],
      synced: 2,
      records: 6,
      dead: [
        { key: B0, op: 'p', error: `key '${B0}': bad op`, acks: [], entry: '2-0' },
        // With the entry of the key's last record: a later change applied supersedes it (apply.lua).
        { key: A1, op: 'upsert', error: `key '${A1}': too long`, fields: { age: '6' }, acks: [], entry: '2-0' },
      ],
      acks: [
        { key: A0, ack: 'a1' },
        { key: A1, ack: 'a2', error: `key '${A1}': too long` },
        { key: A1, ack: 'a3', error: `key '${A1}': too long` },
        { key: B1, ack: 'a4' },
      ],
      version: '3',
    }]);
    expect(touched).toStrictEqual([]);
  });

  it('dead-letters the records the plan refuses, failing their acks', async () => {
    const { pipeline, backlog, writers } = setup({ parallelism: 1 });
    pipeline.push([decodeEntry(['1-0', ['person:', 'u:1:n1', 'age', '1', 'person:7', 't:1:t1', 't', 'list', 'person:8', 'u:1:', 'age', '8']])]);
    await pipeline.stop();
    expect(writers[0]?.summary()).toStrictEqual([['person:8 upsert |8']]);
    expect(backlog.finished).toStrictEqual([{
      ids: ['1-0'],
      synced: 1,
      records: 3,
      dead: [
        { key: 'person:', op: 'u', error: "key 'person:' has no id after 'person:'", acks: [], entry: '1-0' },
        { key: 'person:7', op: 't', error: "key 'person:7' holds a list, not a hash; only hashes are synced", acks: [], entry: '1-0' },
      ],
      acks: [
        { key: 'person:', ack: 'n1', error: "key 'person:' has no id after 'person:'" },
        { key: 'person:7', ack: 't1', error: "key 'person:7' holds a list, not a hash; only hashes are synced" },
      ],
      version: '3',
    }]);
  });

  it('acknowledges a record a replay found gone (op n) as done, without a row or a synced count', async () => {
    const { pipeline, writers, backlog } = setup({ parallelism: 1 });
    pipeline.push([{ id: '6-0', partition: 0, records: [{ id: '6-0', key: 'person:9', ack: 'g1', op: 'n' }, { id: '6-0', key: 'person:9', ack: '', op: 'n' }] }]);
    await pipeline.stop();
    expect(writers[0]?.calls).toStrictEqual([{ shape: SHAPE, rows: [] }]);
    expect(backlog.finished).toStrictEqual([{
      ids: ['6-0'], synced: 0, records: 2, dead: [], acks: [{ key: 'person:9', ack: 'g1' }], version: '3',
    }]);
  });

  it("dead-letters a record of op 'p' with its message, writing nothing for it", async () => {
    const { pipeline, writers, backlog } = setup();
    pipeline.push([entry('5-0', bad(C1, "'#' op '?x' is not one of =, ~, + or -"))]);
    await pipeline.stop();
    expect(writers[0]?.calls).toStrictEqual([]);
    expect(writers[1]?.calls).toStrictEqual([{ shape: SHAPE, rows: [] }]);
    expect(backlog.finished).toStrictEqual([{
      ids: ['5-0'], synced: 0, records: 1,
      dead: [{ key: C1, op: 'p', error: `key '${C1}': '#' op '?x' is not one of =, ~, + or -`, acks: [], entry: '5-0' }],
      acks: [], version: '3',
    }]);
  });

  it('finishes an entry without records at once, while others wait for their writer', async () => {
    const { pipeline, writers, backlog } = setup({ gated: true });
    pipeline.push([entry('1-0', up(C0, '1')), { id: '2-0', partition: 0, records: [] }, decodeEntry(['3-0', null])]);
    expect(backlog.finished).toStrictEqual([{ ids: ['2-0', '3-0'], synced: 0, records: 0, dead: [], acks: [], version: '3' }]);
    await settle();
    expect(backlog.finished).toHaveLength(1);
    writers[0]?.open(0);
    await settle();
    expect(backlog.finished[1]).toStrictEqual({ ids: ['1-0'], synced: 1, records: 1, dead: [], acks: [], version: '3' });
    expect(writers[1]?.calls).toStrictEqual([]);
  });
});

describe('WritePipeline finish linger', () => {
  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

  it('gathers entries finished within the linger into one completion', async () => {
    const { pipeline, backlog } = setup({ lingerMs: 30 });
    pipeline.push([entry('1-0', up(A0, '1'))]);
    await settle();
    pipeline.push([entry('2-0', up(A1, '2'))]);
    await settle();
    expect(backlog.finished).toStrictEqual([]);
    await sleep(60);
    expect(backlog.finished).toStrictEqual([{ ids: ['1-0', '2-0'], synced: 2, records: 2, dead: [], acks: [], version: '3' }]);
  });

  it('finishes an entry that owes a # ack at once, taking the lingering ones along', async () => {
    const { pipeline, backlog } = setup({ lingerMs: 10_000 });
    pipeline.push([entry('1-0', up(A0, '1'))]);
    await settle();
    expect(backlog.finished).toStrictEqual([]);
    pipeline.push([entry('2-0', up(A1, '2', '7'))]);
    await settle();
    expect(backlog.finished).toStrictEqual([{ ids: ['1-0', '2-0'], synced: 2, records: 2, dead: [], acks: [{ key: A1, ack: '7' }], version: '3' }]);
  });

  it('stop() finishes lingering entries without waiting for the linger', async () => {
    const { pipeline, backlog } = setup({ lingerMs: 10_000 });
    pipeline.push([entry('1-0', up(A0, '1'))]);
    await settle();
    expect(backlog.finished).toStrictEqual([]);
    const started = Date.now();
    await pipeline.stop();
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(backlog.finished).toStrictEqual([{ ids: ['1-0'], synced: 1, records: 1, dead: [], acks: [], version: '3' }]);
  });
});

describe('WritePipeline flow', () => {
  it('stop() waits for the batch in flight and its acknowledgement; queued records stay pending', async () => {
    const { pipeline, writers, backlog, abort } = setup({ gated: true, batchSize: 1 });
    const w1 = writers[1] as FakeWriter;
    pipeline.push([entry('1-0', up(A1, '1', 'a')), entry('2-0', up(B1, '2'))]);
    await settle();
    expect(w1.calls).toHaveLength(1);
    expect(pipeline.pending).toBe(1);

    abort.abort();
    let stopped = false;
    const stopping = pipeline.stop().then(() => { stopped = true; });
    await settle();
    expect(stopped).toBe(false);
    expect(backlog.finished).toStrictEqual([]);

    w1.open(0);
    await stopping;
    expect(backlog.finished).toStrictEqual([{ ids: ['1-0'], synced: 1, records: 1, dead: [], acks: [{ key: A1, ack: 'a' }], version: '3' }]);
    expect(w1.calls).toHaveLength(1); // 2-0 was not written after the stop
    expect(pipeline.pending).toBe(1);
  });

  it('stop() resolves at once when nothing is in flight', async () => {
    const { pipeline, backlog } = setup();
    await pipeline.stop();
    expect(backlog.finished).toStrictEqual([]);
  });

  it('pause() lets the batch in flight finish and starts no other until resume()', async () => {
    const { pipeline, writers, backlog } = setup({ gated: true, batchSize: 1 });
    const w0 = writers[0] as FakeWriter;
    pipeline.push([entry('1-0', up(A0, '1')), entry('2-0', up(B0, '2'))]);
    pipeline.pause();
    pipeline.push([entry('3-0', up(C0, '3'))]);
    await settle();
    expect(w0.summary()).toStrictEqual([[`${A0} upsert |1`]]);

    w0.open(0);
    await settle();
    expect(backlog.finished.map((c) => c.ids)).toStrictEqual([['1-0']]);
    expect(w0.calls).toHaveLength(1);
    expect(pipeline.pending).toBe(2);

    pipeline.resume();
    await settle();
    expect(w0.summary()).toStrictEqual([[`${A0} upsert |1`], [`${B0} upsert |2`]]);
    w0.open(1);
    await settle();
    w0.open(2);
    await settle();
    expect(w0.summary()).toStrictEqual([[`${A0} upsert |1`], [`${B0} upsert |2`], [`${C0} upsert |3`]]);
    expect(backlog.finished.map((c) => c.ids)).toStrictEqual([['1-0'], ['2-0'], ['3-0']]);
    expect(pipeline.pending).toBe(0);
  });

  it('below() waits until fewer records than the limit are queued', async () => {
    const { pipeline, writers } = setup({ gated: true, batchSize: 1 });
    const w0 = writers[0] as FakeWriter;
    pipeline.push([entry('1-0', up(A0, '1'), up(A0, '2'), up(A0, '3'))]);
    expect(pipeline.pending).toBe(2);
    await pipeline.below(3); // already below
    let below = false;
    const waiting = pipeline.below(2).then(() => { below = true; });
    await settle();
    expect(below).toBe(false);
    w0.open(0);
    await waiting;
    expect(pipeline.pending).toBe(1);
    expect(w0.calls).toHaveLength(2);
  });
});

describe('WritePipeline and a batch that fails unexpectedly', () => {
  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

  it('retries the batch (its entries are written and acknowledged, none held) and reports the failure, then its end', async () => {
    let throws = 1;
    const bug = (): DeadLetter[] => {
      if (throws-- > 0) throw new TypeError("Cannot read properties of undefined (reading 'x')");
      return [];
    };
    const reports: Array<string | undefined> = [];
    const { pipeline, writers, backlog } = setup({ parallelism: 1, refuse: [bug], reports });
    pipeline.push([entry('1-0', up(A0, '1', 'k1'), up(A1, '1')), entry('2-0', del(B0))]);
    for (let i = 0; i < 50 && backlog.finished.length === 0; i++) await sleep(5);
    expect(writers[0]?.calls).toHaveLength(2); // the failed batch, then the same batch again
    expect(writers[0]?.calls[1]?.rows).toStrictEqual(writers[0]?.calls[0]?.rows);
    expect(backlog.finished).toStrictEqual([{ ids: ['1-0', '2-0'], synced: 3, records: 3, dead: [], acks: [{ key: A0, ack: 'k1' }], version: '3' }]);
    expect(pipeline.holds({ id: '1-0', partition: 0 })).toBe(false);
    expect(pipeline.holds({ id: '2-0', partition: 0 })).toBe(false);
    expect(pipeline.pending).toBe(0);
    expect(reports).toStrictEqual(["write failed unexpectedly, retrying: Cannot read properties of undefined (reading 'x')", undefined]);
  });

  it('keeps the order of a key across the retry', async () => {
    let throws = 1;
    const { pipeline, writers } = setup({ parallelism: 1, batchSize: 1, refuse: [() => {
      if (throws-- > 0) throw new Error('boom');
      return [];
    }] });
    pipeline.push([entry('1-0', up(A0, '1')), entry('2-0', up(A0, '2')), entry('3-0', up(A0, '3'))]);
    for (let i = 0; i < 50 && (writers[0]?.calls.length ?? 0) < 4; i++) await sleep(5);
    expect(writers[0]?.summary()).toStrictEqual([[`${A0} upsert |1`], [`${A0} upsert |1`], [`${A0} upsert |2`], [`${A0} upsert |3`]]);
  });
});

describe('WritePipeline and a malformed backlog entry', () => {
  it('dead-letters what could not be decoded with the reason and the entry id, acknowledging the entry', async () => {
    const { pipeline, backlog } = setup({ parallelism: 1 });
    const malformed = decodeEntry(['9-1', ['person:1', 'u:1:', 'age', '5', 'person:2', 'z:0:']]);
    pipeline.push([malformed, decodeEntry(['9-2', ['garbage']])]);
    await pipeline.stop();
    expect(backlog.finished.flatMap((c) => c.ids).sort()).toStrictEqual(['9-1', '9-2']);
    expect(backlog.finished.reduce((n, c) => n + c.synced, 0)).toBe(1);
    expect(backlog.finished.flatMap((c) => c.dead)).toStrictEqual([
      { key: 'backlog entry 9-2 of partition 0', op: 'malformed', error: 'backlog entry 9-2 of partition 0, value 1 of 1: key "garbage" has no record header; 1 values not synced', acks: [] },
      { key: 'backlog entry 9-1 of partition 0', op: 'malformed', error: 'backlog entry 9-1 of partition 0, value 5 of 6: key "person:2" has an unknown op "z"; 2 values not synced', acks: [] },
    ]);
  });
});

describe('WritePipeline: retries end with the recipe', () => {
  it('stop() returns while Redis refuses every finish, leaving the entries pending', async () => {
    const { pipeline, backlog, abort } = setup();
    backlog.failing = Infinity;
    pipeline.push([entry('1-0', up(A0, '1'))]);
    await settle();
    expect(backlog.completions.length).toBeGreaterThan(0); // tried at once, now retrying
    abort.abort();
    // Before retries heard the stop, this never resolved.
    const stopped = await Promise.race([pipeline.stop().then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 3000))]);
    expect(stopped).toBe(true);
    expect(backlog.finished).toStrictEqual([]);
    expect(pipeline.holds({ id: '1-0', partition: 0 })).toBe(true);
  });

  it('retries a failed finish while running (the count is safe to repeat)', async () => {
    const { pipeline, backlog } = setup();
    backlog.failing = 1;
    pipeline.push([entry('1-0', up(A0, '1'))]);
    await pipeline.stop();
    expect(backlog.completions).toHaveLength(2);
    expect(backlog.finished).toStrictEqual([{ ids: ['1-0'], synced: 1, records: 1, dead: [], acks: [], version: '3' }]);
  });
});

describe('WritePipeline and backlog partitions', () => {
  /**
   * Access to partitions: valid unless listed in `gone`, each with the write budget `budgets`
   * gives it (no limit when absent); records the partitions a finish found lost.
   */
  function access(gone = new Set<number>(), budgets = new Map<number, number>()): PartitionAccess & { readonly gone: Set<number>; readonly budgets: Map<number, number>; readonly lostByFinishes: number[] } {
    const lostByFinishes: number[] = [];
    return {
      gone, budgets, lostByFinishes,
      fence: (p) => `f${p}`,
      valid: (p) => !gone.has(p),
      writeBudgetMs: (p) => budgets.get(p) ?? Infinity,
      lostByFinish: (p) => { lostByFinishes.push(p); },
    };
  }

  it('tells apart entries of different partitions that have the same id, and finishes each with its partition', async () => {
    const { pipeline, writers, backlog } = setup({ gated: true, batchSize: 1 });
    const [w0, w1] = writers as [FakeWriter, FakeWriter];
    pipeline.push([inPartition(2, entry('1-0', up(A0, '1'))), inPartition(5, entry('1-0', up(A1, '2')))]);
    await settle();
    expect(pipeline.holds({ id: '1-0', partition: 2 })).toBe(true);
    expect(pipeline.holds({ id: '1-0', partition: 5 })).toBe(true);
    expect(pipeline.holds({ id: '1-0', partition: 0 })).toBe(false);
    w0.open(0);
    await settle();
    expect(pipeline.holds({ id: '1-0', partition: 2 })).toBe(false);
    expect(pipeline.holds({ id: '1-0', partition: 5 })).toBe(true);
    w1.open(0);
    await settle();
    expect(backlog.completions.map((c) => c.entries)).toStrictEqual([
      [{ id: '1-0', partition: 2, records: 1, synced: 1, deadLetters: 0 }],
      [{ id: '1-0', partition: 5, records: 1, synced: 1, deadLetters: 0 }],
    ]);
    expect(pipeline.holdsPartition(2)).toBe(false);
    expect(pipeline.holdsPartition(5)).toBe(false);
  });

  it('does not take an entry it holds already a second time (a claim of an entry still in the queue)', async () => {
    const { pipeline, writers, backlog } = setup({ parallelism: 1 });
    const e = inPartition(3, entry('1-0', up(A0, '1')));
    pipeline.push([e, e]);
    await pipeline.stop();
    expect(writers[0]?.summary()).toStrictEqual([[`${A0} upsert |1`]]);
    expect(backlog.finished).toStrictEqual([{ ids: ['1-0'], synced: 1, records: 1, dead: [], acks: [], version: '3' }]);
  });

  it('holdsPartition says whether any entry of a partition is held; forget lets a partition go, its queued records dropped', async () => {
    const { pipeline, writers, backlog } = setup({ parallelism: 1, gated: true, batchSize: 1 });
    const w0 = writers[0] as FakeWriter;
    pipeline.push([inPartition(1, entry('1-0', up(A0, '1'))), inPartition(4, entry('1-0', up(B0, '2'))), inPartition(4, entry('2-0', up(C0, '3'))), inPartition(1, entry('2-0', up(A1, '4')))]);
    await settle();
    expect(w0.summary()).toStrictEqual([[`${A0} upsert |1`]]); // the first in flight, three queued
    expect(pipeline.pending).toBe(3);
    expect([pipeline.holdsPartition(1), pipeline.holdsPartition(4), pipeline.holdsPartition(0)]).toStrictEqual([true, true, false]);

    pipeline.forget(4);
    expect(pipeline.pending).toBe(1);
    expect(pipeline.holdsPartition(4)).toBe(false);
    expect(pipeline.holds({ id: '1-0', partition: 4 })).toBe(false);
    expect(pipeline.holds({ id: '1-0', partition: 1 })).toBe(true);

    w0.open(0);
    await settle();
    w0.open(1);
    await settle();
    // Partition 4's records were never written here, nor its entries finished: they stay pending for the next owner.
    expect(w0.summary()).toStrictEqual([[`${A0} upsert |1`], [`${A1} upsert |4`]]);
    expect(backlog.completions.flatMap((c) => c.entries.map((e) => `${e.partition}/${e.id}`))).toStrictEqual(['1/1-0', '1/2-0']);
    expect(pipeline.holdsPartition(1)).toBe(false);
    expect(pipeline.pending).toBe(0);
  });

  it('does not take the entries of a partition it may no longer write', async () => {
    const a = access(new Set([2]));
    const { pipeline, writers, backlog } = setup({ parallelism: 1, access: a });
    pipeline.push([inPartition(2, entry('1-0', up(A0, '1'))), inPartition(3, entry('1-0', up(B0, '2')))]);
    await pipeline.stop();
    expect(writers[0]?.summary()).toStrictEqual([[`${B0} upsert |2`]]);
    expect(backlog.completions.flatMap((c) => c.entries.map((e) => `${e.partition}/${e.id}`))).toStrictEqual(['3/1-0']);
    expect(pipeline.holds({ id: '1-0', partition: 2 })).toBe(false);
  });

  it("hands the writer a budget: the least of its partitions' write budgets, none once one may no longer be written", async () => {
    const a = access(new Set(), new Map([[0, 4000], [6, 2500], [3, 100]]));
    const { pipeline, writers } = setup({ parallelism: 1, gated: true, access: a });
    const w0 = writers[0] as FakeWriter;
    pipeline.push([inPartition(0, entry('1-0', up(A0, '1'))), inPartition(6, entry('1-0', up(B0, '2')))]);
    await settle();
    const budget = w0.budgets[0] as () => number;
    expect(budget()).toBe(2500); // partition 3's shorter budget is not this batch's
    a.budgets.set(0, 1200);
    expect(budget()).toBe(1200); // asked again at each attempt
    a.gone.add(6);
    expect(budget()).toBeLessThanOrEqual(0);
  });

  it('gives the writer no limit when no lease limits the partitions', async () => {
    const { pipeline, writers } = setup({ parallelism: 1, gated: true });
    pipeline.push([inPartition(2, entry('1-0', up(A0, '1')))]);
    await settle();
    expect((writers[0]?.budgets[0] as () => number)()).toBe(Infinity);
  });

  it('drops a queued batch whose partition lost its lease before it was written, and writes the rest', async () => {
    const a = access();
    const { pipeline, writers, backlog } = setup({ parallelism: 1, gated: true, batchSize: 1, access: a });
    const w0 = writers[0] as FakeWriter;
    pipeline.push([inPartition(0, entry('1-0', up(A0, '1'))), inPartition(6, entry('1-0', up(B0, '2'))), inPartition(0, entry('2-0', up(C0, '3')))]);
    await settle();
    a.gone.add(6);
    w0.open(0);
    await settle();
    w0.open(1);
    await settle();
    expect(w0.summary()).toStrictEqual([[`${A0} upsert |1`], [`${C0} upsert |3`]]);
    expect(backlog.completions.flatMap((c) => c.entries.map((e) => `${e.partition}/${e.id}`))).toStrictEqual(['0/1-0', '0/2-0']);
    expect(pipeline.holdsPartition(6)).toBe(false);
    expect(pipeline.pending).toBe(0);
  });

  it('lets a partition go when its finish finds the lease gone', async () => {
    const a = access();
    const { pipeline, backlog } = setup({ parallelism: 1, access: a });
    backlog.lost = new Set([1]);
    pipeline.push([inPartition(1, entry('1-0', up(A0, '1'))), inPartition(2, entry('1-0', up(B0, '2')))]);
    await pipeline.stop();
    expect(backlog.completions.flatMap((c) => c.entries.map((e) => `${e.partition}/${e.id}`))).toStrictEqual(['1/1-0', '2/1-0']);
    expect(a.lostByFinishes).toStrictEqual([1]);
    expect(pipeline.holdsPartition(1)).toBe(false);
    expect(pipeline.holdsPartition(2)).toBe(false);
  });
});
