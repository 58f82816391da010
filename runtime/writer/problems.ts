import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { execChecked } from '../redis/exec.ts';
import { sleep } from './backoff.ts';
import { errorText, type ProblemReporter } from './table-writer.ts';

/** How long a status write that failed waits before it is tried again. */
const RETRY_MS = 1000;

/**
 * The problems of one recipe that stand right now, by source (each writer partition, the
 * pipeline, the keyspace-notification check), mirrored into the recipe's status hash: `error`
 * holds every current problem (the same text once) and is empty once none is left; `lastError`,
 * `lastErrorAt` and `failures` record each report. Sources are kept apart so that one writer's
 * recovery cannot clear another's failure, nor a failure linger after every source has
 * recovered. Status writes run one at a time with the latest state, and one that fails is tried
 * again (after a stop, once more): a recovery is never lost to a Redis hiccup.
 */
export class ProblemBoard {
  private readonly redis: Redis;
  private readonly key: string;
  private readonly log: Logger;
  private readonly signal: AbortSignal;
  private readonly retryMs: number;
  /** Current problem per source, in the order they began. */
  private readonly current = new Map<string, string>();
  /** Reports not written yet. */
  private failures = 0;
  private last: { readonly message: string; readonly at: string } | undefined;
  private dirty = false;
  private flushing: Promise<void> | undefined;

  constructor(redis: Redis, key: string, log: Logger, signal: AbortSignal, retryMs = RETRY_MS) {
    this.redis = redis;
    this.key = key;
    this.log = log;
    this.signal = signal;
    this.retryMs = retryMs;
  }

  /** A reporter for one source: a message while its problem stands, undefined once it is over. */
  reporter(source: string): ProblemReporter {
    return (message) => this.report(source, message);
  }

  report(source: string, message: string | undefined): void {
    if (message === undefined) {
      if (!this.current.delete(source)) return;
    } else {
      this.current.set(source, message);
      this.failures++;
      this.last = { message, at: new Date().toISOString() };
    }
    this.dirty = true;
    this.flushing ??= this.flush().finally(() => {
      this.flushing = undefined;
    });
  }

  /** What the status hash's `error` says: every standing problem, or '' when there is none. */
  get error(): string {
    return [...new Set(this.current.values())].join('; ');
  }

  /** Whether a problem stands in a source other than `except` (a writer's, not capture's, say). */
  failingBesides(...except: readonly string[]): boolean {
    for (const source of this.current.keys()) if (!except.includes(source)) return true;
    return false;
  }

  /** Resolves once the latest state is written (or given up on after a stop). */
  async settled(): Promise<void> {
    await this.flushing;
  }

  private async flush(): Promise<void> {
    let failedOnce = false;
    while (this.dirty) {
      this.dirty = false;
      const failures = this.failures;
      const last = this.last;
      this.failures = 0;
      this.last = undefined;
      const tx = this.redis.multi().hset(this.key, { error: this.error });
      if (last) tx.hset(this.key, { lastError: last.message, lastErrorAt: last.at });
      if (failures) tx.hincrby(this.key, 'failures', failures);
      try {
        await execChecked(tx);
        failedOnce = false;
      } catch (err) {
        // Put back what was not written; a newer report's `last` wins.
        this.failures += failures;
        this.last ??= last;
        this.dirty = true;
        if (!failedOnce) this.log.warn({ err: errorText(err) }, 'recipe status write failed; retrying');
        if (this.signal.aborted && failedOnce) return;
        failedOnce = true;
        await sleep(this.retryMs, this.signal);
      }
    }
  }
}
