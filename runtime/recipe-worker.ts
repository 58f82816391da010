import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Registration } from '../recipes/options.ts';
import { Backlog, decodeAll } from './backlog/backlog.ts';
import type { StreamEntry } from './backlog/entry.ts';
import { InOrder } from './backlog/in-order.ts';
import { BacklogBound } from './capture/backlog-bound.ts';
import { CaptureQueue, leftBehind, type CaptureResult, type ChangeKind, type Delivery, type FollowRead } from './capture/capture-queue.ts';
import { GapSweep } from './capture/gap-sweep.ts';
import { lowWater } from './capture/overflow.ts';
import { reconcileKeys } from './capture/reconcile.ts';
import { capturePattern, captureTarget, pacedTarget } from './capture/targets.ts';
import { driverFor, maxParallelism } from './connectors/drivers.ts';
import type { DbTimeouts } from './connectors/types.ts';
import type { Keys } from './keys.ts';
import { deleteGoneRowsCommand } from './verify/gone-rows.ts';
import { verifyRecipe } from './verify/verify.ts';
import { retryForever, RetryStopped, sleep } from './writer/backoff.ts';
import { WritePipeline } from './writer/pipeline.ts';
import { NO_METRICS, type RecipeMetrics } from './metrics/metrics.ts';
import { refreshEntries } from './writer/redis-state.ts';
import { ProblemBoard } from './writer/problems.ts';
import { errorText, TableWriter } from './writer/table-writer.ts';

/** Tunables shared by every worker of a runtime. */
export interface WorkerOptions {
  readonly consumer: string;
  readonly retry: { readonly minMs: number; readonly maxMs: number };
  /** Entries another consumer left pending this long are taken over. */
  readonly claimIdleMs: number;
  /** How long the database may stay silent (connect, each call) before a session is given up. */
  readonly db?: DbTimeouts;
  /** Where this recipe's counters and histograms go (none when absent). */
  readonly metrics?: RecipeMetrics;
  /** Redis's clock in ms, for the lag of each record (the runtime's clock when absent). */
  readonly redisNow?: () => number;
}

/** The life of a worker: one explicit state at a time. */
export type WorkerState = 'created' | 'running' | 'draining' | 'stopped';

/**
 * Syncs one registration: snapshots its changes into the backlog (capture) and writes the backlog
 * to its table in batches (writer), acknowledging entries only after the database committed.
 */
export class RecipeWorker {
  private readonly metrics: RecipeMetrics;
  readonly reg: Registration;
  private readonly redis: Redis;
  private readonly keys: Keys;
  private readonly log: Logger;
  private readonly opts: WorkerOptions;
  state: WorkerState = 'created';
  readonly capture: CaptureQueue;
  private readonly backlog: Backlog;
  private readonly abort = new AbortController();
  /** Finds the rows of keys deleted in a gap, after the reconcile that follows it. */
  private readonly sweep: GapSweep;
  /** Keeps the backlog within maxBacklog: an overflow, and the catching up after it. */
  private readonly bound: BacklogBound;
  private readonly writers: TableWriter[];
  /** Standing problems of writers, pipeline and capture, mirrored into the status hash. */
  private readonly problems: ProblemBoard;
  private shownCaptureProblem: string | undefined;
  private readonly pipeline: WritePipeline;
  /** Entries reach the writer in the order Redis read them (see InOrder). */
  private readonly order: InOrder<StreamEntry[]>;
  /** Enough records queued to keep every partition busy, few enough to keep memory flat. */
  private readonly highWater: number;
  private loop: Promise<void> | undefined;
  private paused = false;
  /** Set once the entries pending from before are replayed: from then on captures deliver. */
  private live = false;
  /** The backlog may hold undelivered entries: the read loop should look now. */
  private nudged = false;
  /** Key names (hex) not UTF-8, dead-lettered lately: by when. */
  private readonly refusedKeys = new Map<string, number>();
  private wakeReader: (() => void) | undefined;

  constructor(
    reg: Registration,
    redis: Redis,
    keys: Keys,
    log: Logger,
    opts: WorkerOptions,
  ) {
    this.reg = reg;
    this.redis = redis;
    this.metrics = opts.metrics ?? NO_METRICS;
    this.keys = keys;
    this.log = log;
    this.opts = opts;
    this.backlog = new Backlog(redis, keys, reg.name);
    this.capture = new CaptureQueue(redis, captureTarget(reg, keys, this.backlog.stream), log, () => {
      this.reconcile('capture overflow').catch((err) => this.log.error({ err: errorText(err) }, 'reconcile failed'));
    }, undefined, this.delivery());
    const partitions = Math.min(reg.parallelism, maxParallelism(reg.connector));
    // Each writer, the pipeline and capture report their own standing problem (see ProblemBoard).
    this.problems = new ProblemBoard(redis, keys.status(reg.name), log, this.abort.signal);
    this.writers = Array.from({ length: partitions }, (_, i) =>
      new TableWriter(driverFor(reg.connector), Object.values(reg.mappings), Object.keys(reg.mappings), log, this.problems.reporter(`writer ${i}`), this.abort.signal, opts.retry, {
        keyMatch: reg.keyMatch,
        warn: (m) => void this.redis.hset(this.keys.status(this.reg.name), { warning: m ?? '' }).catch(() => undefined),
        ...(opts.db ? { timeouts: opts.db } : {}),
        ...(opts.metrics ? { metrics: opts.metrics } : {}),
      }));
    this.pipeline = new WritePipeline(reg, redis, this.backlog, this.writers, log, this.abort.signal, undefined, { report: this.problems.reporter('pipeline'), retry: opts.retry, marksKey: keys.throughMarks(reg.name), ...(opts.metrics ? { metrics: opts.metrics } : {}), ...(opts.redisNow ? { redisNow: opts.redisNow } : {}) });
    this.highWater = reg.batchSize * this.writers.length * 2;
    this.order = new InOrder((entries) => {
      if (entries.length) this.pipeline.push(entries);
    });
    this.sweep = new GapSweep({
      reg, redis, keys, log, signal: this.abort.signal, retry: opts.retry,
      connect: () => driverFor(reg.connector).connect(reg.connector.table, opts.db),
      queued: () => this.nudge(),
      room: () => this.bound.room(),
    });
    this.bound = new BacklogBound({
      reg, redis, keys, log, signal: this.abort.signal,
      reconcile: (reason) => this.reconcile(reason),
      swept: () => this.sweep.settled(),
      // A writer's or the pipeline's standing problem means the database is not writing yet;
      // capture's (notifications off) says nothing about the writer and must not hold a catch-up.
      writer: () => ({ failing: this.problems.failingBesides('capture'), paused: this.paused }),
      nudge: () => this.nudge(),
    });
  }

  /**
   * A capture call reads the entries it added right behind itself, on the same connection, and
   * hands them to the writer: no separate read per change. It does so only while the writer is
   * live, unpaused and has room; whatever it leaves in the backlog, the read loop takes.
   */
  private delivery(): Delivery {
    return {
      begin: (): FollowRead | undefined => {
        if (!this.live || this.paused || this.abort.signal.aborted || this.pipeline.pending >= this.highWater) return undefined;
        return { ticket: this.order.take(), stream: this.backlog.stream, consumer: this.opts.consumer, count: CAPTURE_READ_COUNT };
      },
      end: (read: FollowRead | undefined, result: CaptureResult | undefined): void => {
        if (result) this.metrics.captured(result.added);
        if (read) this.order.complete(read.ticket, result?.entries && decodeAll(result.entries).entries);
        if (leftBehind(read, result)) this.nudge();
        if (result?.refusedAt !== undefined) this.bound.refused();
      },
    };
  }

  /** Tells the read loop that the backlog may hold entries no capture delivered. */
  /** The table may have changed (dlq --replay, verify --fix): re-read its columns before writing. */
  refreshTable(): void {
    for (const w of this.writers) w.refresh();
  }

  nudge(): void {
    this.nudged = true;
    this.wakeReader?.();
  }

  /** Waits until nudged, stopped, or `ms` passed. */
  private async idle(ms: number): Promise<void> {
    if (!this.nudged && !this.abort.signal.aborted) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          this.abort.signal.removeEventListener('abort', done);
          this.wakeReader = undefined;
          resolve();
        };
        const timer = setTimeout(done, ms);
        this.abort.signal.addEventListener('abort', done, { once: true });
        this.wakeReader = done;
      });
    }
    this.nudged = false;
  }

  /** What stands in the way of this recipe now (a writer's, the pipeline's or capture's problem), '' when nothing. */
  get problem(): string {
    return this.problems.error;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** Pausing stops writing (capture goes on into the backlog); in-flight batches finish. */
  async setPaused(paused: boolean): Promise<void> {
    if (paused === this.paused) return;
    this.paused = paused;
    if (paused) this.pipeline.pause();
    else this.pipeline.resume();
    await this.redis.hset(this.keys.status(this.reg.name), 'state', paused ? 'paused' : 'loaded');
    this.log.info(paused ? 'paused: changes are captured but not written' : 'resumed');
  }

  onChange(key: string, kind: ChangeKind): void {
    // Overflowed, a snapshot could not be appended: the reconcile after it reads the key anyway.
    if (this.bound.dropping) return;
    if (this.capture.accepts(key)) this.capture.push(key, kind);
  }

  /**
   * A key of this recipe whose name is not valid UTF-8: it cannot be read back by name as text,
   * so it is dead-lettered with its bytes in hex (once a minute per key, not once per event).
   */
  refuseKey(raw: Buffer): void {
    const hex = raw.toString('hex');
    const now = performance.now();
    if ((this.refusedKeys.get(hex) ?? -Infinity) > now - 60_000) return;
    if (this.refusedKeys.size > 1000) this.refusedKeys.clear();
    this.refusedKeys.set(hex, now);
    const error = `key name is not valid UTF-8 (bytes ${hex.replace(/(..)(?!$)/g, '$1 ')}); not synced: rename the key to valid UTF-8`;
    this.log.warn({ keyHex: hex }, error);
    this.backlog.deadLetter(`hex:${hex}`, 'upsert', error, this.reg.version).catch((err: unknown) => this.log.error({ err: errorText(err) }, 'dead letter failed'));
  }

  /**
   * Re-snapshots every key the registration covers (start-up, reconnect, new prefix). The status
   * hash says `reconciling` (the reason) meanwhile, then `reconciledAt` and `reconciledKeys`: a
   * new recipe's existing keys are all queued once `reconciledAt` is set. `reconciledScope` says
   * what was mirrored, so that the next reconcile knows whether it follows a gap (see GapSweep).
   */
  async reconcile(reason: string): Promise<void> {
    const started = Date.now();
    const since = performance.now();
    const status = this.keys.status(this.reg.name);
    const previousScope = await this.redis.hget(status, 'reconciledScope');
    await this.redis.hset(status, 'reconciling', reason, 'reconcilingKeys', 0);
    // Stopped at half the bound to wait for the writer: a reconcile never overflows the backlog.
    const target = pacedTarget(captureTarget(this.reg, this.keys, this.backlog.stream), lowWater(this.reg.maxBacklog), () => this.bound.room());
    let n: number;
    try {
      // How far it got, at most twice a second, for `wb-cli upload --wait`'s progress.
      let shownAt = 0;
      const progress = (scanned: number): void => {
        if (performance.now() - shownAt < 500) return;
        shownAt = performance.now();
        void this.redis.hset(status, 'reconcilingKeys', scanned).catch(() => undefined);
      };
      n = await reconcileKeys(this.redis, capturePattern(this.reg), target, () => this.abort.signal.aborted, () => this.nudge(), (raw) => this.refuseKey(raw), progress);
    } catch (err) {
      await this.redis.hset(status, 'reconciling', '').catch(() => undefined);
      if (this.abort.signal.aborted) return; // stopped while waiting for room: the next start reconciles
      throw err;
    }
    if (this.abort.signal.aborted) return; // a stop: the next version (or start) reconciles and says so
    await this.redis.hset(status, 'reconciling', '', 'reconcilingKeys', n, 'reconciledAt', new Date().toISOString(), 'reconciledKeys', n, 'reconciledScope', this.sweep.scope);
    this.log.info({ reason, keys: n, ms: Date.now() - started }, 'reconciled');
    this.metrics.gap(reason);
    this.metrics.reconciled(n);
    this.sweep.afterReconcile(reason, previousScope, since);
  }

  async start(): Promise<void> {
    await this.backlog.ensureGroup();
    this.state = 'running';
    const status = this.keys.status(this.reg.name);
    // A sweep that a stop (or a version replacement) cut short is taken up again.
    const [unfinished, scope, overflowedAt] = await this.redis.hmget(status, 'sweeping', 'reconciledScope', 'overflowedAt');
    await this.redis.hset(status, { version: this.reg.version, state: 'loaded', runtime: this.opts.consumer, error: '', reconciling: '', sweeping: '' });
    if (unfinished && scope === this.sweep.scope) this.sweep.request(unfinished);
    if (overflowedAt) this.bound.restore(overflowedAt);
    this.loop = this.run();
  }

  /** Stops after the batches in flight; what is not written stays pending for the next version. */
  async stop(): Promise<void> {
    if (this.state === 'stopped' || this.state === 'draining') return this.loop;
    this.state = 'draining';
    await this.capture.close();
    this.abort.abort();
    await this.loop;
    await this.bound.settled();
    await this.sweep.settled();
    await this.pipeline.stop();
    await Promise.all(this.writers.map((w) => w.close()));
    this.state = 'stopped';
  }

  /** After Redis lost every key: apply the recipe's onFlush policy. `doubt`: why the loss may be an eviction. */
  async afterFlush(doubt?: string): Promise<void> {
    if (this.reg.onFlush === 'delete' && doubt !== undefined) {
      // An eviction can look like a flush; deleting rows on it would lose data that still exists.
      this.log.error({ doubt }, `wbsync's keys vanished but ${doubt}, and no flush notice was heard: rows are kept (onFlush: 'delete' acts only on proof of a flush); if Redis was flushed, run ${deleteGoneRowsCommand(this.reg.name, this.keys.ns)}`);
      await this.redis.hset(this.keys.status(this.reg.name), 'flushKeptAt', new Date().toISOString());
      return;
    }
    if (this.reg.onFlush === 'keep') {
      this.log.error('Redis lost its keys (FLUSHDB/FLUSHALL or a restart without persistence); rows are kept (onFlush: keep)');
      // Gap sweeps cannot tell these rows from deleted keys': they only count them from now on.
      await this.redis.hset(this.keys.status(this.reg.name), 'flushKeptAt', new Date().toISOString());
      return;
    }
    this.log.error('Redis lost its keys (FLUSHDB/FLUSHALL or a restart without persistence); deleting rows whose keys are gone (onFlush: delete)');
    await this.backlog.ensureGroup();
    const session = await driverFor(this.reg.connector).connect(this.reg.connector.table, this.opts.db);
    try {
      const report = await verifyRecipe(this.redis, this.keys, this.reg, session, { fix: true, deleteExtra: true });
      this.nudge();
      this.log.warn({ deletes: report.deleteEnqueued }, 'rows of flushed keys queued for delete');
    } finally {
      await session.close();
    }
  }

  private async run(): Promise<void> {
    const { consumer } = this.opts;
    let lastClaim = 0;
    // Our own pending entries first (left by a crash or by the previous version), oldest first.
    for (let after = '0'; !this.abort.signal.aborted; ) {
      await this.pipeline.below(this.highWater);
      const res = await this.guard(() => this.backlog.readPending(consumer, READ_COUNT, after));
      if (res === undefined) continue;
      if (res.entries.length === 0) break;
      after = res.entries[res.entries.length - 1]?.id as string;
      await this.pushRedelivered(res.entries);
    }
    this.live = true;
    while (!this.abort.signal.aborted) {
      if (this.paused) {
        await sleep(200, this.abort.signal);
        continue;
      }
      await this.pipeline.below(this.highWater);
      if (Date.now() - lastClaim > this.opts.claimIdleMs / 2) {
        lastClaim = Date.now();
        // Entries left idle: another consumer's, or ours whose read reply a reconnect lost.
        // All of them, a page at a time (the writer's room permitting); ours still being
        // written are not taken twice.
        // A failed page ends this round; the next round starts the scan over.
        await this.guard(() => this.backlog.claimAll(consumer, this.opts.claimIdleMs, READ_COUNT, async (entries) => {
          await this.pushRedelivered(entries.filter((e) => !this.pipeline.holds(e.id)));
          await this.pipeline.below(this.highWater);
        }, () => this.abort.signal.aborted));
      }
      // New entries no capture delivered (the writer was full or paused, the CLI's verify --fix
      // or dlq --replay, a reconcile): read on the captures' connection, in their order.
      const got = await this.guard(() => this.readNew(consumer));
      if (got !== undefined && got < READ_COUNT) await this.idle(IDLE_POLL_MS);
    }
  }

  /** One read of new entries, handed on in order with the captures' own; returns how many. */
  private async readNew(consumer: string): Promise<number> {
    this.nudged = false;
    const ticket = this.order.take();
    let entries: StreamEntry[] | undefined;
    try {
      entries = (await this.backlog.read(consumer, READ_COUNT)).entries;
      return entries.length;
    } finally {
      this.order.complete(ticket, entries);
    }
  }

  /**
   * Entries delivered before (a crash, a stop, a claim) may be older than rows written since:
   * their keys are re-read so that a late replay never writes stale values.
   */
  private async pushRedelivered(entries: StreamEntry[]): Promise<void> {
    if (entries.length === 0) return;
    if (this.reg.kind === 'writeThrough') {
      // Staged changes cannot be re-read; they still queue behind every read sent before.
      this.order.complete(this.order.take(), entries);
      return;
    }
    // All keys re-read at once, with its place in the delivery order taken as the re-read is
    // sent: a capture sent after it delivers a newer state, which must reach the writer later.
    try {
      await retryForever(async () => {
        const ticket = this.order.take();
        let fresh: StreamEntry[] | undefined;
        try {
          const records = await refreshEntries(this.redis, entries.flatMap((e) => e.records));
          let at = 0;
          fresh = entries.map((e) => ({ ...e, records: records.slice(at, (at += e.records.length)) }));
        } finally {
          this.order.complete(ticket, fresh);
        }
      }, this.log, this.abort.signal);
    } catch (err) {
      // Stopped while Redis failed: the entries stay pending for the next start.
      if (!(err instanceof RetryStopped)) throw err;
    }
  }

  /** Runs a Redis step; on failure (other than a stop) logs, waits and yields undefined. */
  private async guard<T>(step: () => Promise<T>): Promise<T | undefined> {
    try {
      return await step();
    } catch (err) {
      if (this.abort.signal.aborted) return undefined;
      this.log.warn({ err: errorText(err) }, 'backlog read failed; retrying');
      await sleep(1000, this.abort.signal);
      // A Redis restarted without persistence has lost the group (and the stream): recreate it.
      if (String(err).includes('NOGROUP')) await this.backlog.ensureGroup().catch(() => undefined);
      return undefined;
    }
  }


  /**
   * Capture's standing problem (keyspace notifications off and not settable), shown in status
   * beside the writers' until it is over (undefined).
   */
  captureProblem(message: string | undefined): void {
    if (message === this.shownCaptureProblem) return; // re-checked at every sync: report changes only
    this.shownCaptureProblem = message;
    this.problems.report('capture', message);
  }

}

/** Stream entries per read; each holds the records of one capture call (up to ~1,000). */
const READ_COUNT = 2;
/** Entries a capture call reads behind itself: usually the one it added. */
const CAPTURE_READ_COUNT = 4;
/** How often an idle read loop looks for entries nobody told it about. */
const IDLE_POLL_MS = 1000;
