import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Registration } from '../recipes/options.ts';
import { Backlog } from './backlog/backlog.ts';
import type { StreamEntry } from './backlog/entry.ts';
import { CaptureQueue, type ChangeKind } from './capture/capture-queue.ts';
import { reconcileKeys } from './capture/reconcile.ts';
import { capturePattern, captureTarget } from './capture/targets.ts';
import { driverFor, maxParallelism } from './connectors/drivers.ts';
import type { Keys } from './keys.ts';
import { verifyRecipe } from './verify/verify.ts';
import { retryForever, sleep } from './writer/backoff.ts';
import { WritePipeline } from './writer/pipeline.ts';
import { refreshEntries } from './writer/redis-state.ts';
import { errorText, TableWriter } from './writer/table-writer.ts';

/** Tunables shared by every worker of a runtime. */
export interface WorkerOptions {
  readonly consumer: string;
  readonly retry: { readonly minMs: number; readonly maxMs: number };
  /** Entries another consumer left pending this long are taken over. */
  readonly claimIdleMs: number;
  /** Opens a dedicated connection for blocking reads. */
  readonly openReader: () => Redis;
}

/** The life of a worker: one explicit state at a time. */
export type WorkerState = 'created' | 'running' | 'draining' | 'stopped';

/**
 * Syncs one registration: snapshots its changes into the backlog (capture) and writes the backlog
 * to its table in batches (writer), acknowledging entries only after the database committed.
 */
export class RecipeWorker {
  state: WorkerState = 'created';
  readonly capture: CaptureQueue;
  private readonly backlog: Backlog;
  private readonly abort = new AbortController();
  private readonly writers: TableWriter[];
  private readonly pipeline: WritePipeline;
  private reader: Redis | undefined;
  private loop: Promise<void> | undefined;
  private paused = false;

  constructor(
    readonly reg: Registration,
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly log: Logger,
    private readonly opts: WorkerOptions,
  ) {
    this.backlog = new Backlog(redis, keys, reg.name);
    this.capture = new CaptureQueue(redis, captureTarget(reg, keys, this.backlog.stream), log, () => {
      this.reconcile('capture overflow').catch((err) => this.log.error({ err: errorText(err) }, 'reconcile failed'));
    });
    const partitions = Math.min(reg.parallelism, maxParallelism(reg.connector));
    this.writers = Array.from({ length: partitions }, () =>
      new TableWriter(driverFor(reg.connector), Object.values(reg.mappings), Object.keys(reg.mappings), log, (m) => void this.reportProblem(m), this.abort.signal, opts.retry));
    this.pipeline = new WritePipeline(reg, redis, this.backlog, this.writers, log, this.abort.signal);
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
    if (this.capture.accepts(key)) this.capture.push(key, kind);
  }

  /** Re-snapshots every key the registration covers (start-up, reconnect, new prefix). */
  async reconcile(reason: string): Promise<void> {
    const started = Date.now();
    const target = captureTarget(this.reg, this.keys, this.backlog.stream);
    const n = await reconcileKeys(this.redis, capturePattern(this.reg), target, () => this.abort.signal.aborted);
    this.log.info({ reason, keys: n, ms: Date.now() - started }, 'reconciled');
  }

  async start(): Promise<void> {
    await this.backlog.ensureGroup();
    this.reader = this.opts.openReader();
    this.state = 'running';
    await this.redis.hset(this.keys.status(this.reg.name), { version: this.reg.version, state: 'loaded', runtime: this.opts.consumer, error: '' });
    this.loop = this.run(this.reader);
  }

  /** Stops after the batches in flight; what is not written stays pending for the next version. */
  async stop(): Promise<void> {
    if (this.state === 'stopped' || this.state === 'draining') return this.loop;
    this.state = 'draining';
    await this.capture.close();
    this.abort.abort();
    this.reader?.disconnect();
    await this.loop;
    await this.pipeline.stop();
    await Promise.all(this.writers.map((w) => w.close()));
    this.state = 'stopped';
  }

  /** After Redis lost every key: apply the recipe's onFlush policy. */
  async afterFlush(): Promise<void> {
    if (this.reg.onFlush === 'keep') {
      this.log.error('Redis lost its keys (FLUSHDB/FLUSHALL or a restart without persistence); rows are kept (onFlush: keep)');
      return;
    }
    this.log.error('Redis lost its keys (FLUSHDB/FLUSHALL or a restart without persistence); deleting rows whose keys are gone (onFlush: delete)');
    await this.backlog.ensureGroup();
    const session = await driverFor(this.reg.connector).connect(this.reg.connector.table);
    try {
      const report = await verifyRecipe(this.redis, this.keys, this.reg, session, { fix: true, deleteExtra: true });
      this.log.warn({ deletes: report.deleteEnqueued }, 'rows of flushed keys queued for delete');
    } finally {
      await session.close();
    }
  }

  private async run(reader: Redis): Promise<void> {
    const { consumer } = this.opts;
    // Enough records queued to keep every partition busy, few enough to keep memory flat.
    const highWater = this.reg.batchSize * this.writers.length * 2;
    let lastClaim = 0;
    // Our own pending entries first (left by a crash or by the previous version), oldest first.
    for (let after = '0'; !this.abort.signal.aborted; ) {
      await this.pipeline.below(highWater);
      const res = await this.guard(() => this.backlog.readPending(consumer, READ_COUNT, after));
      if (res === undefined) continue;
      if (res.entries.length === 0) break;
      after = res.entries[res.entries.length - 1]?.id as string;
      await this.push(res.entries, true);
    }
    while (!this.abort.signal.aborted) {
      if (this.paused) {
        await sleep(200, this.abort.signal);
        continue;
      }
      await this.pipeline.below(highWater);
      if (Date.now() - lastClaim > this.opts.claimIdleMs / 2) {
        lastClaim = Date.now();
        const claimed = await this.guard(() => this.backlog.claim(consumer, this.opts.claimIdleMs, READ_COUNT));
        if (claimed && claimed.entries.length) await this.push(claimed.entries, true);
      }
      const res = await this.guard(() => this.backlog.read(reader, consumer, READ_COUNT, 1000));
      if (res && res.entries.length) await this.push(res.entries, false);
    }
  }

  /**
   * Entries delivered before (a crash, a stop, a claim) may be older than rows written since:
   * their keys are re-read so that a late replay never writes stale values.
   */
  private async push(entries: StreamEntry[], redelivered: boolean): Promise<void> {
    if (!redelivered || this.reg.kind === 'writeThrough') return this.pipeline.push(entries);
    const fresh: StreamEntry[] = [];
    for (const e of entries) {
      const records = await retryForever(() => refreshEntries(this.redis, e.records), this.log);
      fresh.push({ id: e.id, records });
    }
    this.pipeline.push(fresh);
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


  private async reportProblem(message: string | undefined): Promise<void> {
    const key = this.keys.status(this.reg.name);
    const tx = this.redis.multi();
    if (message === undefined) tx.hset(key, { error: '' });
    else tx.hset(key, { error: message, lastError: message, lastErrorAt: new Date().toISOString() }).hincrby(key, 'failures', 1);
    await tx.exec().catch(() => undefined);
  }
}

/** Stream entries per read; each holds the records of one capture call (up to ~1,000). */
const READ_COUNT = 2;
