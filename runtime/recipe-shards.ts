import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Registration } from '../recipes/options.ts';
import type { ChangeKind } from './capture/capture-queue.ts';
import type { RecipeWorker, WorkerState } from './recipe-worker.ts';
import { redisUnavailable } from './redis/nodes.ts';
import { errorText } from './writer/table-writer.ts';

/** The shard of a single server: it has one, the namespace's own keys. */
export const ONLY_SHARD = '';

/**
 * One recipe's workers: a `RecipeWorker` per shard. On a single server there is one shard
 * (`ONLY_SHARD`); on a Redis Cluster one per shard tag (`redis/cluster.ts` `tagIn`), each with
 * its own partition streams, counters, leases and dead letters on the master that holds the tag,
 * so that everything below the worker is as on a single server. A shard's worker is made the
 * first time it is asked for (at install for the shards known then, later when the topology
 * shows a new one) and started at once; `onStarted` then hands its partitions to the leases.
 */
export class RecipeShards {
  readonly reg: Registration;
  private readonly make: (tag: string) => RecipeWorker;
  private readonly onStarted: (tag: string, worker: RecipeWorker) => void;
  private readonly log: Logger;
  private readonly shards = new Map<string, RecipeWorker>();
  private readonly starts = new Map<string, Promise<void>>();
  /** Per shard, its start with the retries: a stop waits for it to give up. */
  private readonly loops = new Map<string, Promise<void>>();
  private stopping = false;
  /** Until `open`, shards are made but not started (the version they replace is still stopping). */
  private opened = false;
  private paused = false;
  /** On a cluster: the recipe's status hash, where a reconcile over the shards is reported once all are done. */
  private readonly status: { readonly redis: Redis; readonly key: string } | undefined;

  constructor(reg: Registration, make: (tag: string) => RecipeWorker, onStarted: (tag: string, worker: RecipeWorker) => void, log: Logger, status?: { readonly redis: Redis; readonly key: string }) {
    this.reg = reg;
    this.make = make;
    this.onStarted = onStarted;
    this.log = log;
    this.status = status;
  }

  /** The worker of shard `tag`, made and started the first time it is asked for. */
  shard(tag: string): RecipeWorker {
    const known = this.shards.get(tag);
    if (known) return known;
    const worker = this.make(tag);
    this.shards.set(tag, worker);
    if (this.opened) this.begin(tag, worker);
    return worker;
  }

  /** Starts every shard made so far, and from now on each one as it is made. */
  open(): void {
    if (this.opened) return;
    this.opened = true;
    for (const [tag, worker] of this.shards) this.begin(tag, worker);
  }

  private begin(tag: string, worker: RecipeWorker): void {
    // Stopped (a failed start's runtime whose timers still fire): nothing more is started.
    if (this.stopping) return;
    let firstTried: () => void = () => undefined;
    const first = new Promise<void>((resolve) => {
      firstTried = resolve;
    });
    const loop = (async () => {
      // A start that meets a master down or slots moving (a failover under way) is tried again,
      // in the background, until it succeeds or the shards stop: a shard left unstarted would
      // hold its captured changes unwritten. An install waits for the first try only (a sync
      // must not wait for a master to come back: a stop waits for the sync).
      for (let tries = 0; ; tries++) {
        try {
          // A shard made while the recipe is paused (a new master) starts paused.
          if (this.paused) await worker.setPaused(true);
          await worker.start();
          break;
        } catch (err) {
          if (this.stopping) return;
          if (!redisUnavailable(err)) throw err;
          if (tries === 0) this.log.warn({ recipe: this.reg.name, shard: tag, err: errorText(err) }, 'a shard could not start yet (its master does not answer); trying again');
          firstTried();
          await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** tries, 2000)));
          if (this.stopping) return;
        }
      }
      if (!this.stopping) this.onStarted(tag, worker);
    })();
    // The first try's failure fails `started` (an install); a later one, or a shard made later, is logged.
    const started = Promise.race([loop, first]);
    loop.catch((err: unknown) => this.log.error({ recipe: this.reg.name, shard: tag, err: errorText(err) }, 'a shard failed to start'));
    started.catch(() => undefined);
    this.starts.set(tag, started);
    this.loops.set(tag, loop);
  }

  /**
   * Resolves once every shard asked for so far has started or is being started again in the
   * background (its master does not answer yet); rejects with the first other failure.
   */
  async started(): Promise<void> {
    await Promise.all(this.starts.values());
  }

  /** The shards' tags and workers. */
  get entries(): Array<[string, RecipeWorker]> {
    return [...this.shards.entries()];
  }

  get workers(): RecipeWorker[] {
    return [...this.shards.values()];
  }

  /** The state of the first shard (they start and stop together). */
  get state(): WorkerState {
    return this.workers[0]?.state ?? 'created';
  }

  onChange(tag: string, key: string, kind: ChangeKind, echo: boolean): void {
    this.shard(tag).onChange(key, kind, echo);
  }

  refuseKey(tag: string, raw: Buffer): void {
    this.shard(tag).refuseKey(raw);
  }

  /**
   * Reconciles the shards `tags` (every shard when absent): each scans the keys its master
   * holds. On a cluster the recipe's status says `reconciling` until every one of them is done,
   * then `reconciledAt` with the keys of all of them (what `upload --wait` waits for).
   */
  async reconcile(reason: string, tags?: readonly string[]): Promise<void> {
    const which = tags ?? [...this.shards.keys()];
    if (this.status) await this.status.redis.hset(this.status.key, 'reconciling', reason, 'reconcilingKeys', 0);
    const results = await Promise.allSettled(which.map((t) => this.shard(t).reconcile(reason)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      if (this.status) await this.status.redis.hset(this.status.key, 'reconciling', '').catch(() => undefined);
      throw failed.reason;
    }
    const done = results.map((r) => (r.status === 'fulfilled' ? r.value : undefined));
    if (!this.status || done.some((d) => d === undefined)) return; // stopped: the next start reconciles
    const keys = done.reduce((n, d) => n + (d?.keys ?? 0), 0);
    await this.status.redis.hset(this.status.key, 'reconciling', '', 'reconcilingKeys', keys, 'reconciledAt', new Date().toISOString(), 'reconciledKeys', keys, 'reconciledScope', done[0]?.scope ?? '');
  }

  refreshTable(): void {
    for (const w of this.shards.values()) w.refreshTable();
  }

  nudge(): void {
    for (const w of this.shards.values()) w.nudge();
  }

  async setPaused(paused: boolean): Promise<void> {
    this.paused = paused;
    for (const w of this.shards.values()) await w.setPaused(paused);
  }

  get isPaused(): boolean {
    return this.workers[0]?.isPaused ?? false;
  }

  /** The first shard's standing problem, '' when none has one. */
  get problem(): string {
    return this.workers.map((w) => w.problem).find((p) => p !== '') ?? '';
  }

  get rowsWritten(): number {
    return this.workers.reduce((n, w) => n + w.rowsWritten, 0);
  }

  serverInDoubt(): void {
    for (const w of this.shards.values()) w.serverInDoubt();
  }

  /** The same server as before answers for shards `tags` (every shard when absent). */
  serverSame(tags?: readonly string[]): void {
    for (const t of tags ?? [...this.shards.keys()]) this.shards.get(t)?.serverSame();
  }

  /** Another server answers for shards `tags` (every shard when absent): what their backlog holds is re-read before it is written. */
  async serverChanged(tags?: readonly string[]): Promise<void> {
    for (const t of tags ?? [...this.shards.keys()]) await this.shards.get(t)?.serverChanged();
  }

  captureProblem(message: string | undefined): void {
    for (const w of this.shards.values()) w.captureProblem(message);
  }

  /** Resolves once every capture started so far has finished. */
  async flushed(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.capture.flushed()));
  }

  async afterFlush(doubt?: string): Promise<void> {
    for (const w of this.shards.values()) await w.afterFlush(doubt);
  }

  /** Stops every shard's worker after its in-flight batches. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all([...this.loops.values()].map((p) => p.catch(() => undefined))); // logged by begin
    await Promise.all(this.workers.map((w) => w.stop()));
  }
}
