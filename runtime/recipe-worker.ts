import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Registration } from '../recipes/options.ts';
import { Backlog } from './backlog/backlog.ts';
import { entryRef, type StreamEntry } from './backlog/entry.ts';
import { InOrder } from './backlog/in-order.ts';
import { BacklogBound } from './capture/backlog-bound.ts';
import { CaptureQueue, leftBehind, type CaptureResult, type CaptureTarget, type ChangeKind, type Delivery, type FollowRead } from './capture/capture-queue.ts';
import { GapSweep } from './capture/gap-sweep.ts';
import { lowWater } from './capture/overflow.ts';
import { reconcileKeys } from './capture/reconcile.ts';
import { capturePattern, captureTarget, pacedTarget } from './capture/targets.ts';
import { driverFor, maxParallelism } from './connectors/drivers.ts';
import type { DbTimeouts } from './connectors/types.ts';
import type { Keys } from './keys.ts';
import { ALL_PARTITIONS, type PartitionAccess } from './lease/access.ts';
import type { PartitionOwner } from './lease/partitions.ts';
import { deleteGoneRowsCommand } from './verify/gone-rows.ts';
import { verifyRecipe } from './verify/verify.ts';
import { retryForever, RetryStopped, sleep } from './writer/backoff.ts';
import { WritePipeline } from './writer/pipeline.ts';
import { NO_METRICS, type RecipeMetrics } from './metrics/metrics.ts';
import { refreshThrough } from './writer/redis-state.ts';
import { compareIds } from './writer/through-marks.ts';
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
  /**
   * The partitions of this recipe this runtime holds (`lease/partitions.ts`); all of them,
   * unfenced, when absent (a worker on its own, in tests).
   */
  readonly access?: PartitionAccess;
  /** Whether this runtime captures now (holds the capture lease): captures then deliver reads. Always, when absent. */
  readonly capturing?: () => boolean;
  /** A connection of the worker's own for blocking reads while it does not capture (created when first needed). */
  readonly reader?: () => Redis;
  /** The other recipes writing this recipe's table: its sweep then deletes nothing (their rows are not its keys). */
  readonly tableSharedWith?: () => readonly string[];
  /**
   * On a cluster: keys a capture found on another node than this shard's (their slot moved) go
   * here, to be captured by the shard that owns them now. Absent on a single server.
   */
  readonly elsewhere?: (keys: readonly string[], kinds: readonly ChangeKind[]) => void;
  /** On a cluster: the node whose keys this shard captures, scanned by a reconcile (the worker's connection when absent). */
  readonly scanNode?: () => Redis;
  /**
   * On a cluster: whether this shard is the one `key`'s changes are captured into now (that of
   * the master owning its slot). A record of another shard's key is not written here (see
   * handOverMoved). Every key, when absent.
   */
  readonly owns?: (key: string) => boolean;
  /**
   * The hash its reconciles' fields (`reconciling`, `reconciledAt`, `reconciledKeys`,
   * `reconciledScope`) are kept in: the recipe's status hash when absent; on a cluster the
   * shard's own, since a recipe's reconcile there is one per shard and `RecipeShards` writes
   * the recipe's status once all of them are done.
   */
  readonly reconcileStatus?: string;
}


/** The life of a worker: one explicit state at a time. */
export type WorkerState = 'created' | 'running' | 'draining' | 'stopped';

/**
 * Syncs one registration: snapshots its changes into the backlog (capture) and writes the backlog
 * to its table in batches (writer), acknowledging entries only after the database committed.
 */
export class RecipeWorker implements PartitionOwner {
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
  /** The backlog may hold undelivered entries: the read loop should look now. */
  private nudged = false;
  /** Key names (hex) not UTF-8, dead-lettered lately: by when. */
  private readonly refusedKeys = new Map<string, number>();
  private wakeReader: (() => void) | undefined;
  private readonly access: PartitionAccess;
  /** Partitions read now (held, their pending entries taken over). */
  private readonly reading = new Set<number>();
  /** Partitions gained and not taken over yet, in the order they came. */
  private gainedQueue: number[] = [];
  /** Follow reads sent behind captures and not answered yet. */
  private followsInFlight = 0;
  /** Whether captures may send follow reads: set by the read loop, which then reads on the capture connection too. */
  private followOk = false;
  private readerConn: Redis | undefined;
  /**
   * Per partition, the backlog's last id when Redis turned out to be another server (a failover,
   * a restart): entries up to it may be older than rows already written (the acknowledgements
   * and deliveries of the last moments before the switch can be lost), so they are re-read
   * before they are written. See serverChanged.
   */
  private readonly heldThrough = new Map<number, string>();
  /** The connection to Redis dropped and which server answers next is not known yet: every entry read is re-read. */
  private inDoubt = false;
  /** Per partition: the keys of each re-read of redelivered entries, and the stream's last id before it (see supersede). */
  private readonly rereads = new Map<number, Array<{ readonly through: string; readonly keys: ReadonlySet<string> }>>();

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
    this.access = opts.access ?? ALL_PARTITIONS;
    if (opts.access === undefined) for (let p = 0; p < reg.partitions; p++) this.gainedQueue.push(p);
    this.backlog = new Backlog(redis, keys, reg.name, reg.partitions, (p) => this.access.fence(p));
    this.capture = new CaptureQueue(redis, this.target(), log, () => {
      this.reconcile('capture overflow').catch((err) => this.log.error({ err: errorText(err) }, 'reconcile failed'));
    }, undefined, this.delivery());
    const partitions = Math.min(reg.parallelism, maxParallelism(reg.connector));
    // Each writer, the pipeline and capture report their own standing problem (see ProblemBoard).
    this.problems = new ProblemBoard(redis, keys.status(reg.name), { id: opts.consumer, heartbeats: keys.runtime('') }, log, this.abort.signal);
    this.writers = Array.from({ length: partitions }, (_, i) =>
      new TableWriter(driverFor(reg.connector), Object.values(reg.mappings), Object.keys(reg.mappings), log, this.problems.reporter(`writer ${i}`), this.abort.signal, opts.retry, {
        keyMatch: reg.keyMatch,
        warn: (m) => void this.redis.hset(this.keys.status(this.reg.name), { warning: m ?? '' }).catch(() => undefined),
        ...(opts.db ? { timeouts: opts.db } : {}),
        ...(opts.metrics ? { metrics: opts.metrics } : {}),
      }));
    this.pipeline = new WritePipeline(reg, redis, this.backlog, this.writers, log, this.abort.signal, undefined, {
      report: this.problems.reporter('pipeline'), retry: opts.retry, marksKey: keys.throughMarks(reg.name), access: this.access,
      deadLetterKeys: { stream: keys.deadLetters(reg.name), index: keys.deadLetterIndex(reg.name) },
      ...(opts.metrics ? { metrics: opts.metrics } : {}), ...(opts.redisNow ? { redisNow: opts.redisNow } : {}),
    });
    this.highWater = reg.batchSize * this.writers.length * 2;
    this.order = new InOrder((entries) => {
      if (entries.length) this.pipeline.push(this.supersede(this.handOverMoved(entries)));
    });
    this.sweep = new GapSweep({
      reg, redis, keys, log, signal: this.abort.signal, retry: opts.retry,
      connect: () => driverFor(reg.connector).connect(reg.connector.table, opts.db),
      queued: () => this.nudge(),
      room: () => this.bound.room(),
      ...(opts.tableSharedWith ? { sharedWith: opts.tableSharedWith } : {}),
      ...(opts.elsewhere ? { elsewhere: opts.elsewhere } : {}),
    });
    this.bound = new BacklogBound({
      reg, redis, keys, log, signal: this.abort.signal,
      reconcile: async (reason) => void (await this.reconcile(reason)),
      swept: () => this.sweep.settled(),
      // A writer's or the pipeline's standing problem means the database is not writing yet;
      // capture's (notifications off) says nothing about the writer and must not hold a catch-up.
      writer: () => ({ failing: this.problems.failingBesides('capture'), paused: this.paused }),
      nudge: () => this.nudge(),
    });
  }

  /** This shard's capture target, with where keys found on another node go (a cluster's). */
  private target(): CaptureTarget {
    const target = captureTarget(this.reg, this.keys);
    return this.opts.elsewhere ? { ...target, elsewhere: this.opts.elsewhere } : target;
  }

  /**
   * A capture call reads the entries it added right behind itself, on the same connection, and
   * hands them to the writer: no separate read per change. It does so only while the writer is
   * live, unpaused and has room; whatever it leaves in the backlog, the read loop takes.
   */
  private delivery(): Delivery {
    return {
      begin: (): FollowRead | undefined => {
        if (!this.followOk || this.inDoubt || this.holdsHeld() || this.reading.size === 0 || this.paused || this.abort.signal.aborted || this.pipeline.pending >= this.highWater) return undefined;
        this.followsInFlight++;
        return { ticket: this.order.take(), streams: this.backlog.streamsOf([...this.reading]), consumer: this.opts.consumer, count: CAPTURE_READ_COUNT };
      },
      end: (read: FollowRead | undefined, result: CaptureResult | undefined): void => {
        if (result) this.metrics.captured(result.added);
        if (read) {
          this.followsInFlight--;
          this.order.complete(read.ticket, result?.entries ? this.backlog.decodeReply(result.entries) : undefined);
        }
        if (leftBehind(read, result, this.reading.size === this.backlog.partitions)) this.nudge();
        if (result?.refusedAt !== undefined) this.bound.refused();
      },
    };
  }

  /** Whether a partition read here still has entries from before a server change to re-read (captures then do not deliver). */
  private holdsHeld(): boolean {
    for (const p of this.heldThrough.keys()) if (this.reading.has(p)) return true;
    return false;
  }

  /** This runtime now holds partition `p`: the read loop takes its pending entries over, then reads it. */
  gained(p: number): void {
    if (!this.gainedQueue.includes(p)) this.gainedQueue.push(p);
    this.nudge();
  }

  /** Hands partition `p` over: no more reads of it; resolves once none of its entries is in flight here. */
  async yield(p: number): Promise<void> {
    this.reading.delete(p);
    this.gainedQueue = this.gainedQueue.filter((q) => q !== p);
    while (this.pipeline.holdsPartition(p) && this.state === 'running') await sleep(50, this.abort.signal).catch(() => undefined);
  }

  /** A standing problem with this recipe's partition leases, shown in status until it is over. */
  leaseProblem(message: string | undefined): void {
    this.problems.report('leases', message);
  }

  /** The connection to Redis dropped: until the server is known again, every entry read is re-read before it is written. */
  serverInDoubt(): void {
    this.inDoubt = true;
  }

  /** The same server as before answers again: entries are written as captured. */
  serverSame(): void {
    this.inDoubt = false;
  }

  /**
   * Another server answers than before: a replica promoted by a failover (Sentinel, Cluster) or
   * a restart from a persistence file. Its backlog may lack the last acknowledgements and
   * deliveries, so every entry it holds now is re-read before it is written: the pending ones are
   * taken over again (as for a partition gained), the others when the read loop reaches them.
   */
  async serverChanged(): Promise<void> {
    if (this.reg.kind !== 'writeThrough') {
      // Every partition, not only those read now: one being handed over at this moment (or lost
      // with a lease the new server never got) is gained here later, and what the new server
      // held of it then must be re-read too.
      for (let p = 0; p < this.backlog.partitions; p++) {
        const top = await this.redis.xrevrange(this.backlog.streams[p] as string, '+', '-', 'COUNT', 1);
        if (top[0]) this.heldThrough.set(p, top[0][0]);
        if (this.reading.has(p)) this.gained(p);
      }
    }
    this.inDoubt = false;
    this.nudge();
  }

  /** Partition `p`'s lease is gone: its queued records are dropped (they stay pending for the next owner). */
  lost(p: number): void {
    this.reading.delete(p);
    this.gainedQueue = this.gainedQueue.filter((q) => q !== p);
    this.pipeline.forget(p);
  }

  /** Rows this worker has committed. */
  get rowsWritten(): number {
    return this.pipeline.rowsWritten;
  }

  /** Partitions this worker reads now. */
  get partitionsRead(): number[] {
    return [...this.reading].sort((a, b) => a - b);
  }

  /** The table may have changed (dlq --replay, verify --fix): re-read its columns before writing. */
  refreshTable(): void {
    for (const w of this.writers) w.refresh();
  }

  /** Tells the read loop that the backlog may hold entries no capture delivered. */
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

  onChange(key: string, kind: ChangeKind, echo = false): void {
    // Overflowed, a snapshot could not be appended: the reconcile after it reads the key anyway.
    if (this.bound.dropping) return;
    if (this.capture.accepts(key)) this.capture.push(key, kind, echo);
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
  async reconcile(reason: string): Promise<{ keys: number; scope: string } | undefined> {
    const started = Date.now();
    const since = performance.now();
    const status = this.opts.reconcileStatus ?? this.keys.status(this.reg.name);
    const previousScope = await this.redis.hget(status, 'reconciledScope');
    await this.redis.hset(status, 'reconciling', reason, 'reconcilingKeys', 0);
    // Stopped at half the bound to wait for the writer: a reconcile never overflows the backlog.
    const target = pacedTarget(this.target(), lowWater(this.reg.maxBacklog), () => this.bound.room());
    let n: number;
    try {
      // How far it got, at most twice a second, for `wb-cli upload --wait`'s progress.
      let shownAt = 0;
      const progress = (scanned: number): void => {
        if (performance.now() - shownAt < 500) return;
        shownAt = performance.now();
        void this.redis.hset(status, 'reconcilingKeys', scanned).catch(() => undefined);
      };
      n = await reconcileKeys(this.opts.scanNode?.() ?? this.redis, capturePattern(this.reg), target, () => this.abort.signal.aborted, () => this.nudge(), (raw) => this.refuseKey(raw), progress);
    } catch (err) {
      await this.redis.hset(status, 'reconciling', '').catch(() => undefined);
      if (this.abort.signal.aborted) return undefined; // stopped while waiting for room: the next start reconciles
      throw err;
    }
    if (this.abort.signal.aborted) return undefined; // a stop: the next version (or start) reconciles and says so
    await this.redis.hset(status, 'reconciling', '', 'reconcilingKeys', n, 'reconciledAt', new Date().toISOString(), 'reconciledKeys', n, 'reconciledScope', this.sweep.scope);
    this.log.info({ reason, keys: n, ms: Date.now() - started }, 'reconciled');
    this.metrics.gap(reason);
    this.metrics.reconciled(n);
    this.sweep.afterReconcile(reason, previousScope, since);
    return { keys: n, scope: this.sweep.scope };
  }

  async start(): Promise<void> {
    await this.backlog.ensureGroup();
    this.state = 'running';
    const status = this.keys.status(this.reg.name);
    // A sweep that a stop (or a version replacement) cut short is taken up again.
    const [unfinished, overflowedAt] = await this.redis.hmget(status, 'sweeping', 'overflowedAt');
    const scope = await this.redis.hget(this.opts.reconcileStatus ?? status, 'reconciledScope');
    await this.redis.hset(status, { version: this.reg.version, state: 'loaded', runtime: this.opts.consumer, reconciling: '', sweeping: '' });
    // No problem of this runtime yet: what an earlier run of it left goes, the others' stay.
    this.problems.publish();
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
    // A blocking read in flight ends now; what it was handed stays pending for the next owner.
    this.readerConn?.disconnect();
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
    let lastClaim = Date.now();
    while (!this.abort.signal.aborted) {
      // Partitions gained: every entry pending in one (the previous owner's, or ours from before
      // a restart or a version change) is taken over and its keys re-read before it is read on.
      while (this.gainedQueue.length > 0 && !this.abort.signal.aborted) {
        const p = this.gainedQueue[0] as number;
        await this.pipeline.below(this.highWater);
        const done = await this.guard(() => this.backlog.claimAll(consumer, 0, READ_COUNT, p, async (entries) => {
          await this.pushRedelivered(entries.filter((e) => !this.pipeline.holds(e)));
          await this.pipeline.below(this.highWater);
        }, () => this.abort.signal.aborted || !this.access.valid(p)).then(() => true));
        if (done === undefined) continue;
        this.gainedQueue.shift();
        if (this.access.valid(p)) this.reading.add(p);
      }
      if (this.paused) {
        await sleep(200, this.abort.signal);
        continue;
      }
      await this.pipeline.below(this.highWater);
      if (Date.now() - lastClaim > this.opts.claimIdleMs / 2) {
        lastClaim = Date.now();
        // Entries left idle: ours whose read reply a reconnect lost, or a former owner's read
        // late. All of them, a page at a time (the writer's room permitting); ours still being
        // written are not taken twice. A failed page ends this round; the next starts over.
        for (const p of [...this.reading]) {
          await this.guard(() => this.backlog.claimAll(consumer, this.opts.claimIdleMs, READ_COUNT, p, async (entries) => {
            await this.pushRedelivered(entries.filter((e) => !this.pipeline.holds(e)));
            await this.pipeline.below(this.highWater);
          }, () => this.abort.signal.aborted || !this.reading.has(p)));
        }
      }
      if (this.opts.capturing?.() ?? true) {
        // Captures read behind themselves on this connection; this loop reads what they left
        // (the writer was full or paused, verify --fix, dlq --replay, a reconcile, other
        // runtimes' partitions gained), on the same connection, in their order.
        this.followOk = true;
        const got = await this.guard(() => this.readNew(consumer));
        if (got !== undefined && !got) await this.idle(IDLE_POLL_MS);
      } else {
        // Not capturing: no capture delivers, so a blocking read on a connection of its own
        // waits for entries. Follow reads still in flight are answered first (one reader at a
        // time per partition keeps each key's entries in order).
        this.followOk = false;
        while (this.followsInFlight > 0 && !this.abort.signal.aborted) await sleep(10, this.abort.signal).catch(() => undefined);
        if (this.reading.size === 0) {
          await this.idle(IDLE_POLL_MS);
          continue;
        }
        await this.guard(() => this.readNew(consumer, BLOCK_MS));
      }
    }
  }

  /**
   * One read of new entries of the partitions read now, handed on in order with the captures'
   * own; true when some partition returned a full count (more may wait). With `blockMs`, on the
   * worker's own reader connection, waiting that long for entries.
   */
  private async readNew(consumer: string, blockMs?: number): Promise<boolean> {
    this.nudged = false;
    const parts = [...this.reading];
    const ticket = this.order.take();
    let entries: StreamEntry[] | undefined;
    try {
      const conn = blockMs === undefined ? this.redis : (this.readerConn ??= this.opts.reader?.() ?? this.redis.duplicate());
      const read = (await this.backlog.read(consumer, READ_COUNT, parts, blockMs, conn)).entries;
      const per = new Map<number, number>();
      for (const e of read) per.set(e.partition, (per.get(e.partition) ?? 0) + 1);
      entries = await this.rereadHeld(read, parts, per);
      return [...per.values()].some((n) => n >= READ_COUNT);
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
          fresh = await this.reread(entries);
        } finally {
          this.order.complete(ticket, fresh);
        }
      }, this.log, this.abort.signal);
    } catch (err) {
      // Stopped while Redis failed: the entries stay pending for the next start.
      if (!(err instanceof RetryStopped)) throw err;
    }
  }

  /** Entries with their keys' current state, per partition with how far its stream went before the re-read (see supersede). */
  private async reread(entries: readonly StreamEntry[]): Promise<StreamEntry[]> {
    const parts = [...new Set(entries.map((e) => e.partition))];
    const done = await Promise.all(parts.map(async (p) => {
      const mine = entries.filter((e) => e.partition === p);
      const { records, through } = await refreshThrough(this.redis, this.backlog.streams[p] as string, mine.flatMap((e) => e.records));
      let at = 0;
      return mine.map((e): StreamEntry => ({ ...e, records: records.slice(at, (at += e.records.length)), refreshedThrough: through }));
    }));
    return done.flat();
  }

  /**
   * New entries read after Redis changed (serverChanged), or while it is in doubt: those the
   * backlog held at the switch are re-read. A partition is past the switch once a read returns
   * one of its entries after that point, or fewer than a full count.
   */
  private async rereadHeld(entries: StreamEntry[], parts: readonly number[], per: ReadonlyMap<number, number>): Promise<StreamEntry[]> {
    if (this.reg.kind === 'writeThrough' || (!this.inDoubt && this.heldThrough.size === 0)) return entries;
    const doubt = this.inDoubt;
    const held = (e: StreamEntry): boolean => {
      const through = this.heldThrough.get(e.partition);
      return doubt || (through !== undefined && compareIds(e.id, through) <= 0);
    };
    const stale = entries.filter(held);
    // By partition and id: one capture call adds entries of one id to several partitions' streams.
    const fresh = stale.length ? new Map((await this.reread(stale)).map((e) => [entryRef(e), e])) : new Map<string, StreamEntry>();
    for (const p of parts) {
      const through = this.heldThrough.get(p);
      if (through === undefined) continue;
      const past = entries.some((e) => e.partition === p && compareIds(e.id, through) > 0);
      if (past || (per.get(p) ?? 0) < READ_COUNT) this.heldThrough.delete(p);
    }
    return entries.map((e) => fresh.get(entryRef(e)) ?? e);
  }

  /**
   * Keeps a re-read state from being overwritten by an older one. A redelivered entry's keys are
   * re-read (the current state), but entries of its partition added before that re-read and not
   * yet delivered hold older states of the same keys: delivered later (in stream order), they
   * would write a key back to one of them. So, per partition, the keys of each re-read are kept
   * with the stream's last id at that moment (`refreshedThrough`), and a record of one of those
   * keys in a newer delivery with an id up to it becomes `s` (superseded: acknowledged, and in a
   * batch it never stands for the key's state, so the re-read state before it is still written).
   * Once a delivery of the partition is past that id, the re-read is forgotten.
   */
  private supersede(entries: StreamEntry[]): StreamEntry[] {
    return entries.map((e) => {
      if (e.refreshedThrough !== undefined) {
        const gens = this.rereads.get(e.partition) ?? [];
        gens.push({ through: e.refreshedThrough, keys: new Set(e.records.map((r) => r.key)) });
        this.rereads.set(e.partition, gens);
        return e;
      }
      const gens = this.rereads.get(e.partition);
      if (gens === undefined) return e;
      const live = gens.filter((g) => compareIds(e.id, g.through) <= 0);
      if (live.length === 0) {
        this.rereads.delete(e.partition);
        return e;
      }
      if (live.length < gens.length) this.rereads.set(e.partition, live);
      let changed = false;
      const records = e.records.map((r) => {
        if ((r.op !== 'u' && r.op !== 'd') || !live.some((g) => g.keys.has(r.key))) return r;
        changed = true;
        return { id: r.id, key: r.key, ack: r.ack, op: 's' as const };
      });
      return changed ? { ...e, records } : e;
    });
  }

  /**
   * On a cluster, a key whose slot moved to another master (a reshard) has its later changes
   * captured there, into that master's shard, which writes them. Records of it still in this
   * shard's backlog are older: written now, one could land after a newer state the other shard
   * wrote. So they are not written here: the key is captured again by its owner's shard (its
   * current state, after that shard's own older entries) and the records here are acknowledged
   * as superseded. A delete goes over as a change (gone: deleted there too), an upsert as an
   * expiry, so a key expired since is handled by the recipe's onExpire.
   */
  private handOverMoved(entries: StreamEntry[]): StreamEntry[] {
    const { owns, elsewhere } = this.opts;
    if (!owns || !elsewhere) return entries;
    const keys: string[] = [];
    const kinds: ChangeKind[] = [];
    const out = entries.map((e) => {
      let changed = false;
      const records = e.records.map((r) => {
        if ((r.op !== 'u' && r.op !== 'd') || owns(r.key)) return r;
        changed = true;
        keys.push(r.key);
        kinds.push(r.op === 'd' ? 'c' : 'x');
        return { id: r.id, key: r.key, ack: r.ack, op: 's' as const };
      });
      return changed ? { ...e, records } : e;
    });
    if (keys.length) {
      this.log.debug({ keys: keys.length, sample: keys[0] }, 'keys whose slot moved to another master: captured again by its shard, not written here');
      elsewhere(keys, kinds);
    }
    return out;
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
/** How long a blocking read waits before the loop looks at its partitions again. */
const BLOCK_MS = 1000;
