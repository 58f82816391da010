import { backlogLength } from '../backlog/streams.ts';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Registration } from '../../recipes/options.ts';
import type { Keys } from '../keys.ts';
import { retryForever, RetryStopped, sleep } from '../writer/backoff.ts';
import { errorText } from '../writer/table-writer.ts';
import { hasRoom, lowWater, mayRecover, Overflow, type Depth } from './overflow.ts';

/** The reconcile (and sweep) reason after an overflow. */
export const OVERFLOW_REASON = 'backlog overflow';
/** How often an overflowed recipe looks whether its backlog has drained. */
const DRAIN_POLL_MS = 500;
/** How often a reconcile or sweep stopped at the low-water mark looks for room. */
const ROOM_POLL_MS = 100;

export interface BacklogBoundOptions {
  readonly reg: Registration;
  readonly redis: Redis;
  readonly keys: Keys;
  readonly log: Logger;
  /** The worker's stop: waits end, and a recovery cut short is taken up by the next start. */
  readonly signal: AbortSignal;
  /** The worker's reconcile, which also asks for the sweep after it. */
  readonly reconcile: (reason: string) => Promise<void>;
  /** Resolves once no sweep runs. */
  readonly swept: () => Promise<void>;
  /** The writer right now: failing (a connection or schema error shown in status), or paused. */
  readonly writer: () => { readonly failing: boolean; readonly paused: boolean };
  /** The backlog holds entries the read loop should take now. */
  readonly nudge: () => void;
}

/**
 * Keeps a recipe's backlog within `maxBacklog` records, the bound the capture script enforces
 * atomically with each append. Past it, the recipe is overflowed: marked in status
 * (`overflowedAt`) and the log, once, and live events are dropped in the runtime, since the
 * script could not append them. Once the backlog has drained to half the bound and the writer is
 * writing, a reconcile reads every key again and the sweep after it finds the rows of keys
 * deleted meanwhile (an overflow is a gap); then the mark is cleared. A capture refused during
 * that recovery means it runs again.
 */
export class BacklogBound {
  private readonly o: BacklogBoundOptions;
  private readonly overflow = new Overflow();
  private recovery: Promise<void> | undefined;

  constructor(o: BacklogBoundOptions) {
    this.o = o;
  }

  /** Live events are dropped (no snapshot, no script call) while overflowed. */
  get dropping(): boolean {
    return this.overflow.dropping;
  }

  /** A live capture call stopped at the bound. */
  refused(): void {
    if (this.overflow.refused()) {
      const { reg, redis, keys, log } = this.o;
      log.warn({ maxBacklog: reg.maxBacklog }, `backlog is full (maxBacklog ${reg.maxBacklog} records): changes are no longer captured; once it has drained to ${lowWater(reg.maxBacklog)} and the database is writing, a reconcile and a sweep catch up`);
      void redis.hsetnx(keys.status(reg.name), 'overflowedAt', new Date().toISOString()).catch(() => undefined);
    }
    this.startRecovery();
  }

  /** At start: an overflow an earlier worker (a stop, a crash, another version) left marked in status. */
  restore(overflowedAt: string): void {
    this.o.log.warn({ overflowedAt }, 'the backlog overflowed before this start: catching up once it has drained');
    this.overflow.restore();
    this.startRecovery();
  }

  /** Resolves once no recovery runs (after a stop, soon). */
  async settled(): Promise<void> {
    await this.recovery;
  }

  /**
   * How reconciles and sweeps wait when the script stopped them at half the bound: until the
   * writer has taken the backlog down to a quarter. Throws once the worker stops.
   */
  async room(): Promise<void> {
    this.o.nudge();
    for (;;) {
      if (this.o.signal.aborted) throw new Error('stopped while waiting for room in the backlog');
      if (hasRoom(await this.depth(), this.o.reg.maxBacklog)) return;
      await sleep(ROOM_POLL_MS, this.o.signal);
    }
  }

  private startRecovery(): void {
    this.recovery ??= this.recover()
      .catch((err: unknown) => this.o.log.error({ err: errorText(err) }, 'recovery after the backlog overflow failed'))
      .finally(() => (this.recovery = undefined));
  }

  private async recover(): Promise<void> {
    const { reg, redis, keys, log, signal } = this.o;
    while (!signal.aborted) {
      const depth = await this.drained();
      if (depth === undefined) return;
      this.overflow.beginRecovery();
      let ok = false;
      try {
        // Echo counts of events dropped meanwhile would swallow the next real change of their
        // keys; forgotten, they cost at most a redundant snapshot.
        await redis.del(keys.echoes(reg.name));
        log.info({ queued: depth.queued }, 'backlog drained after the overflow: reconciling to catch up');
        await this.o.reconcile(OVERFLOW_REASON);
        await this.o.swept();
        ok = !signal.aborted;
      } catch (err) {
        log.error({ err: errorText(err) }, 'catching up after the backlog overflow failed; it starts again');
        await sleep(1000, signal);
      }
      if (signal.aborted) return; // `overflowedAt` stays: the next start recovers
      if (this.overflow.endRecovery(ok)) {
        try {
          await retryForever(() => redis.hdel(keys.status(reg.name), 'overflowedAt'), log, signal);
        } catch (err) {
          // Stopped while Redis failed: `overflowedAt` stays, the next start catches up again.
          if (err instanceof RetryStopped) return;
          throw err;
        }
        log.info('caught up after the backlog overflow');
        return;
      }
    }
  }

  /** Waits until the backlog has drained and the writer writes; undefined after a stop. */
  private async drained(): Promise<Depth | undefined> {
    const { signal, reg } = this.o;
    while (!signal.aborted) {
      try {
        const depth = await this.depth();
        if (mayRecover(depth, reg.maxBacklog, this.o.writer())) return depth;
      } catch (err) {
        this.o.log.warn({ err: errorText(err) }, 'reading the backlog depth failed; retrying');
      }
      await sleep(DRAIN_POLL_MS, signal);
    }
    return undefined;
  }

  private async depth(): Promise<Depth> {
    const { redis, keys, reg } = this.o;
    const [queued, entries] = await Promise.all([redis.hget(keys.counters(reg.name), 'queued'), backlogLength(redis, keys, reg.name, reg.partitions)]);
    return { queued: Number(queued ?? 0), entries };
  }
}
