import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Registration } from '../../recipes/options.ts';
import type { AckOutcome, Backlog, DeadLetter } from '../backlog/backlog.ts';
import { entryName, entryRef, type BacklogEntry, type StreamEntry } from '../backlog/entry.ts';
import { ALL_PARTITIONS, type PartitionAccess } from '../lease/access.ts';
import { GROUP } from '../keys.ts';
import { streamIdMs } from '../redis/stream.ts';
import { Backoff, retryForever, RetryStopped, sleep } from './backoff.ts';
import { planBatch } from './plan.ts';
import { applyThrough, readTargets } from './redis-state.ts';
import { NO_METRICS, type RecipeMetrics } from '../metrics/metrics.ts';
import { pruneMarks, readMarks } from './through-marks.ts';
import { errorText, LeaseExpired, WriterStopped, type ProblemReporter, type TableWriter } from './table-writer.ts';

/** What one stream entry still waits for, and what its records came to. */
interface Tracker {
  readonly id: string;
  readonly partition: number;
  /**
   * The partition's lease value when the entry was taken: it is written and finished only under
   * that same lease. A lease lost and taken again is a new one, whose owner re-reads the entry.
   */
  readonly fence: string;
  readonly records: number;
  remaining: number;
  synced: number;
  readonly dead: DeadLetter[];
  readonly acks: AckOutcome[];
}

interface Item {
  readonly record: BacklogEntry;
  readonly tracker: Tracker;
}

/** How long a finish waits for more finished entries when nothing owes an ack (see scheduleFinish). */
const FINISH_LINGER_MS = 25;

/** FNV-1a: the same key always lands in the same partition, so its changes stay in order. */
export function partitionOf(key: string, partitions: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return (h >>> 0) % partitions;
}

/**
 * Writes records through several database sessions at once. Records are spread over partitions
 * by key (one queue and one session each), so capture, reading and every partition's database
 * work overlap while each key's changes are still applied in order. A stream entry is
 * acknowledged once all of its records are written or dead-lettered.
 */
export class WritePipeline {
  private readonly reg: Registration;
  private readonly redis: Redis;
  private readonly backlog: Backlog;
  private readonly writers: readonly TableWriter[];
  private readonly log: Logger;
  private readonly signal: AbortSignal;
  private readonly finishLingerMs: number;
  private readonly queues: Item[][];
  private readonly busy: Array<Promise<void> | undefined>;
  private ready: Tracker[] = [];
  private finishing: Promise<void> | undefined;
  private queued = 0;
  private paused = false;
  private stopping = false;
  private lingering: NodeJS.Timeout | undefined;
  private waiters: Array<() => void> = [];
  /** Stream entries pushed and not yet acknowledged (`entryRef`: partition and id). */
  private readonly held = new Set<string>();
  /** Per backlog partition: how many of its entries are held. */
  private readonly heldIn = new Map<number, number>();
  /** Which partitions this runtime may write (held leases, deadlines ahead). */
  private readonly access: PartitionAccess;
  /** Where a batch that failed unexpectedly is reported (status `error`), and its end. */
  private readonly report: ProblemReporter;
  /** Per partition: the wait before a batch that failed unexpectedly is tried again. */
  private readonly backoffs: Backoff[];
  private readonly failing: boolean[];
  /** Write-through: the marks hash of what was applied (`through-marks.ts`), pruned now and then. */
  private readonly marksKey: string;
  /** The recipe's dead-letter stream and index: a write-through change applied drops its key's older dead letter. */
  private readonly deadLetterKeys: { readonly stream: string; readonly index: string };
  private readonly metrics: RecipeMetrics;
  /** Redis's clock in ms (the runtime's, corrected by the offset it measured): entry ids are on it. */
  private readonly redisNow: () => number;
  private prunedAt = Date.now();
  /** Rows committed so far (for the runtime's rows/s in its heartbeat). */
  rowsWritten = 0;
  private pruning = false;

  constructor(
    reg: Registration,
    redis: Redis,
    backlog: Backlog,
    writers: readonly TableWriter[],
    log: Logger,
    signal: AbortSignal,
    finishLingerMs = FINISH_LINGER_MS,
    more: { readonly report?: ProblemReporter; readonly retry?: { readonly minMs: number; readonly maxMs: number }; readonly marksKey?: string; readonly deadLetterKeys?: { readonly stream: string; readonly index: string }; readonly metrics?: RecipeMetrics; readonly redisNow?: () => number; readonly access?: PartitionAccess } = {},
  ) {
    this.reg = reg;
    this.redis = redis;
    this.backlog = backlog;
    this.writers = writers;
    this.log = log;
    this.signal = signal;
    this.finishLingerMs = finishLingerMs;
    this.queues = writers.map(() => []);
    this.busy = writers.map(() => undefined);
    this.report = more.report ?? (() => undefined);
    const retry = more.retry ?? { minMs: 200, maxMs: 10_000 };
    this.backoffs = writers.map(() => new Backoff(retry.minMs, retry.maxMs));
    this.failing = writers.map(() => false);
    this.marksKey = more.marksKey ?? `wbsync-marks:${reg.name}`;
    this.deadLetterKeys = more.deadLetterKeys ?? { stream: `wbsync-dlq:${reg.name}`, index: `wbsync-dlqidx:${reg.name}` };
    this.metrics = more.metrics ?? NO_METRICS;
    this.redisNow = more.redisNow ?? Date.now;
    this.access = more.access ?? ALL_PARTITIONS;
    signal.addEventListener('abort', () => this.wake(), { once: true });
  }

  /** Stops starting new batches (those in flight finish); resume() starts them again. */
  pause(): void {
    this.paused = true;
    this.wake();
  }

  resume(): void {
    this.paused = false;
    this.queues.forEach((_, i) => this.kick(i));
  }

  /** Records waiting for a partition. */
  get pending(): number {
    return this.queued;
  }

  /** Whether an entry was pushed and is not acknowledged yet (a claim may find it idle). */
  holds(e: { readonly id: string; readonly partition: number }): boolean {
    return this.held.has(entryRef(e));
  }

  /** Whether any entry of backlog partition `p` is held (queued, being written or finished). */
  holdsPartition(p: number): boolean {
    return (this.heldIn.get(p) ?? 0) > 0;
  }

  private release(t: Tracker): void {
    if (!this.held.delete(entryRef(t))) return;
    const n = (this.heldIn.get(t.partition) ?? 1) - 1;
    if (n > 0) this.heldIn.set(t.partition, n);
    else this.heldIn.delete(t.partition);
  }

  /**
   * Partition `p` is no longer this runtime's: its queued records are dropped and its entries
   * let go (they stay pending in Redis, and its next owner takes them over). A batch of it in
   * flight cannot commit: its deadline check refuses (`access.valid`).
   */
  forget(p: number): void {
    let dropped = 0;
    for (const q of this.queues) {
      const keep = q.filter((it) => it.tracker.partition !== p);
      dropped += q.length - keep.length;
      q.splice(0, q.length, ...keep);
    }
    this.queued -= dropped;
    this.ready = this.ready.filter((t) => t.partition !== p);
    for (const ref of [...this.held]) if (ref.startsWith(`${p}/`)) this.held.delete(ref);
    this.heldIn.delete(p);
    if (dropped) this.wake();
  }

  push(entries: readonly StreamEntry[]): void {
    for (const e of entries) {
      // A partition lost meanwhile: its entries are its next owner's.
      if (!this.access.valid(e.partition) || this.held.has(entryRef(e))) continue;
      this.held.add(entryRef(e));
      this.heldIn.set(e.partition, (this.heldIn.get(e.partition) ?? 0) + 1);
      const tracker: Tracker = { id: e.id, partition: e.partition, fence: this.access.fence(e.partition), records: e.records.length, remaining: e.records.length, synced: 0, dead: [], acks: [] };
      if (e.malformed !== undefined) {
        // What could not be decoded goes to the dead letters with the entry's id, acknowledged
        // with the entry: never retried (it would never decode), never dropped unseen.
        tracker.dead.push({ key: entryName(e), op: 'malformed', error: e.malformed, acks: [] });
        this.log.warn({ entry: e.id, partition: e.partition, error: e.malformed }, 'dead-lettered');
      }
      if (e.records.length === 0) this.ready.push(tracker);
      for (const record of e.records) {
        this.queues[partitionOf(record.key, this.queues.length)]?.push({ record, tracker });
        this.queued++;
      }
    }
    this.queues.forEach((_, i) => this.kick(i));
    this.scheduleFinish();
  }

  /** Resolves once fewer than `limit` records wait (or on stop). */
  async below(limit: number): Promise<void> {
    while (this.queued >= limit && !this.signal.aborted && !this.paused) await new Promise<void>((r) => this.waiters.push(r));
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Waits for the batches in flight and the acknowledgements they owe; queued records stay pending. */
  async stop(): Promise<void> {
    await Promise.all(this.busy);
    this.stopping = true;
    this.scheduleFinish();
    await this.finishing;
  }

  private kick(i: number): void {
    if (this.busy[i] !== undefined || this.signal.aborted || this.paused || (this.queues[i]?.length ?? 0) === 0) return;
    // drain() handles every failure of a batch itself; this catch is for a bug in that handling.
    this.busy[i] = this.drain(i)
      .catch((err) => this.log.error({ err: errorText(err) }, 'write pipeline failed'))
      .finally(() => {
      this.busy[i] = undefined;
      this.kick(i);
    });
  }

  private async drain(i: number): Promise<void> {
    const queue = this.queues[i] as Item[];
    while (queue.length > 0 && !this.signal.aborted && !this.paused) {
      const taken = queue.splice(0, this.reg.batchSize);
      this.queued -= taken.length;
      this.wake();
      // A partition whose lease deadline has passed commits nothing more here.
      const items = this.droppingLost(taken);
      if (items.length === 0) continue;
      try {
        await this.write(this.writers[i] as TableWriter, items);
      } catch (err) {
        // Stopped (the writer, or a Redis step's retries): its entries stay pending for the next start.
        if (err instanceof WriterStopped || err instanceof RetryStopped) return;
        if (err instanceof LeaseExpired) {
          // The deadline passed while the batch waited (a database retry, a pause): what is
          // still ours goes back to the head of the queue, the rest is the next owner's.
          const mine = this.droppingLost(items);
          queue.unshift(...mine);
          this.queued += mine.length;
          continue;
        }
        // Anything else is unexpected (a bug, a driver throwing outside its classified path). The
        // batch goes back to the head of its partition and is tried again after a backoff: its
        // entries stay held (a claim skips them), so dropping them here would hold them forever.
        queue.unshift(...items);
        this.queued += items.length;
        const message = `write failed unexpectedly, retrying: ${errorText(err)}`;
        const wait = (this.backoffs[i] as Backoff).next();
        this.failing[i] = true;
        this.report(message);
        this.log.error({ err: errorText(err), stack: err instanceof Error ? err.stack : undefined, records: items.length, retryInMs: wait }, message);
        await sleep(wait, this.signal);
        continue;
      }
      (this.backoffs[i] as Backoff).reset();
      if (this.failing[i]) {
        this.failing[i] = false;
        if (!this.failing.some((f) => f)) this.report(undefined);
      }
    }
  }

  /**
   * The items whose partition may still commit here; the partitions of the others are let go
   * whole (`forget`): their entries stay pending, for the next owner, or for this runtime's next
   * claim if it renews the lease after all.
   */
  private droppingLost(items: readonly Item[]): Item[] {
    const lost = new Set<number>();
    for (const it of items) if (!this.mayWrite(it.tracker)) lost.add(it.tracker.partition);
    if (lost.size === 0) return [...items];
    for (const p of lost) {
      this.log.warn({ partition: p }, 'the lease deadline of a partition passed: its batch is not written here');
      this.forget(p);
    }
    return items.filter((it) => !lost.has(it.tracker.partition));
  }

  /** Whether an entry may still be written here: its partition held under the lease it was taken with, the deadline ahead. */
  private mayWrite(t: Tracker): boolean {
    return this.access.valid(t.partition) && this.access.fence(t.partition) === t.fence;
  }

  private async write(writer: TableWriter, items: readonly Item[]): Promise<void> {
    const records = items.map((it) => it.record);
    const [targets, marks] = this.reg.kind === 'writeThrough'
      ? await retryForever(() => Promise.all([readTargets(this.redis, records), readMarks(this.redis, this.marksKey, records)]), this.log, this.signal)
      : [undefined, undefined];
    const plan = planBatch(records, this.reg, targets, marks);
    const trackers = [...new Set(items.map((it) => it.tracker))];
    const parts = [...new Set(items.map((it) => it.tracker.partition))];
    // Asked right before each attempt reaches the database (see TableWriter.write): how long
    // the write may take before a partition's lease could pass to another runtime.
    const budget = (): number => (trackers.every((t) => this.mayWrite(t)) ? Math.min(...parts.map((p) => this.access.writeBudgetMs(p))) : 0);
    const refused = await writer.write({ table: this.reg.connector.table, pkColumn: this.reg.connector.pkColumn, columns: plan.columns }, plan.rows, budget);
    const failed = new Map<string, DeadLetter>();
    for (const d of [...plan.rejects.filter((r) => r.op !== 'p'), ...refused]) failed.set(d.key, d);
    const written = plan.rows.filter((r) => !failed.has(r.key));
    // Write-through: Redis gets the change only now that the database has it.
    await retryForever(() => applyThrough(this.redis, written, this.marksKey, this.deadLetterKeys), this.log, this.signal);
    const writtenKeys = new Set(written.map((r) => r.key));
    // A `p` record is a report, not a state: it never stands for its key's outcome.
    const lastOfKey = new Map(items.filter((it) => it.record.op !== 'p').map((it) => [it.record.key, it]));
    for (const it of items) {
      const { record, tracker } = it;
      tracker.remaining--;
      if (record.op === 'p') {
        const error = `key '${record.key}': ${record.message}`;
        tracker.dead.push({ key: record.key, op: 'p', error, acks: [], entry: tracker.id });
        // The bad op's suffix still names its acknowledgement stream: the writer hears it failed.
        if (record.ack) tracker.acks.push({ key: record.key, ack: record.ack, error });
      } else {
        const dead = failed.get(record.key);
        if (record.ack) tracker.acks.push(dead ? { key: record.key, ack: record.ack, error: dead.error } : { key: record.key, ack: record.ack });
        if (lastOfKey.get(record.key) === it) {
          if (dead) tracker.dead.push({ ...dead, acks: [], entry: tracker.id });
          else if (writtenKeys.has(record.key)) tracker.synced++;
        }
      }
      if (tracker.remaining === 0) this.ready.push(tracker);
    }
    for (const d of failed.values()) this.log.warn({ key: d.key, op: d.op, error: d.error }, 'dead-lettered');
    this.rowsWritten += written.length;
    let upserts = 0;
    for (const r of written) if (r.op === 'upsert') upserts++;
    this.metrics.written('upsert', upserts);
    this.metrics.written('delete', written.length - upserts);
    this.metrics.deadLettered(failed.size + plan.rejects.filter((r) => r.op === 'p').length);
    this.scheduleFinish();
  }

  /**
   * Acknowledges finished entries, many per transaction, one transaction at a time. Under light
   * traffic a finish waits FINISH_LINGER_MS for the next few entries, so that a change costs Redis
   * a fraction of a transaction; an entry that owes a `#` ack is finished at once.
   */
  private scheduleFinish(): void {
    if (this.finishing !== undefined || this.ready.length === 0) return;
    const urgent = this.stopping || this.finishLingerMs <= 0 || this.ready.some((t) => t.acks.length > 0);
    if (!urgent) {
      this.lingering ??= setTimeout(() => {
        this.lingering = undefined;
        this.finishNow();
      }, this.finishLingerMs);
      return;
    }
    this.finishNow();
  }

  private finishNow(): void {
    clearTimeout(this.lingering);
    this.lingering = undefined;
    if (this.finishing !== undefined || this.ready.length === 0) return;
    this.finishing = (async () => {
      while (this.ready.length > 0) {
        const done = this.ready.splice(0);
        let lost: readonly number[] = [];
        try {
          ({ lost } = await retryForever(() => this.backlog.finish({
            entries: done.map((t) => ({ id: t.id, partition: t.partition, records: t.records, synced: t.synced, deadLetters: t.dead.length })),
            dead: done.flatMap((t) => t.dead.map((d) => ({ ...d, partition: t.partition }))),
            acks: done.flatMap((t) => t.acks.map((a) => ({ ...a, partition: t.partition }))),
            version: this.reg.version,
          }), this.log, this.signal));
        } catch (err) {
          if (!(err instanceof RetryStopped)) throw err;
          // Stopped with Redis failing: the entries stay pending, redelivered (and rewritten,
          // idempotently) at the next start; a retry here would hold the stop forever.
          this.log.warn({ err: errorText(err), entries: done.length }, 'finish given up on stop; entries stay pending');
          return;
        }
        for (const t of done) this.release(t);
        // Partitions whose lease was gone: nothing of theirs was acknowledged; they are let go.
        for (const p of lost) this.access.lostByFinish(p);
        const now = this.redisNow();
        for (const t of done) if (!lost.includes(t.partition)) this.metrics.lag((now - streamIdMs(t.id)) / 1000, t.records);
      }
      this.pruneMarks();
    })().finally(() => {
      this.finishing = undefined;
      this.scheduleFinish();
    });
  }

  /** Write-through: every 5 s at most, drops the marks no pending entry can need (in the background). */
  private pruneMarks(): void {
    if (this.reg.kind !== 'writeThrough' || this.pruning || Date.now() - this.prunedAt < 5000) return;
    this.pruning = true;
    pruneMarks(this.redis, this.backlog.streams, GROUP, this.marksKey)
      .then((n) => this.log.debug({ marks: n }, 'write-through marks pruned'))
      .catch((err) => this.log.warn({ err: errorText(err) }, 'pruning write-through marks failed; trying again later'))
      .finally(() => {
        this.prunedAt = Date.now();
        this.pruning = false;
      });
  }
}
