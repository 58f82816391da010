import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { sleep } from './backoff.ts';
import { errorText, type ProblemReporter } from './table-writer.ts';

/** How long a status write that failed waits before it is tried again. */
const RETRY_MS = 1000;

const SCRIPT = readFileSync(new URL('./problems.lua', import.meta.url), 'utf8');

/** Whose problems a board holds: a runtime (its id) of a namespace (its heartbeat keys' prefix). */
export interface ProblemOwner {
  readonly id: string;
  readonly heartbeats: string;
}

/**
 * The problems of one recipe that stand right now in one runtime, by source (each writer
 * partition, the pipeline, the keyspace-notification check), mirrored into the recipe's status
 * hash: the runtime's `error@<id>` holds every current problem (the same text once) and goes
 * once none is left, and `error` joins those of every live runtime (problems.lua); `lastError`,
 * `lastErrorAt` and `failures` record each report. Sources, and runtimes, are kept apart so
 * that one writer's recovery cannot clear another's failure, nor a failure linger after every
 * source has recovered. Status writes run one at a time with the latest state, and one that
 * fails is tried again (after a stop, once more): a recovery is never lost to a Redis hiccup.
 */
export class ProblemBoard {
  private readonly redis: Redis;
  private readonly key: string;
  private readonly log: Logger;
  private readonly signal: AbortSignal;
  private readonly retryMs: number;
  private readonly owner: ProblemOwner;
  /** Current problem per source, in the order they began. */
  private readonly current = new Map<string, string>();
  /** Reports not written yet. */
  private failures = 0;
  private last: { readonly message: string; readonly at: string } | undefined;
  private dirty = false;
  private flushing: Promise<void> | undefined;

  constructor(redis: Redis, key: string, owner: ProblemOwner, log: Logger, signal: AbortSignal, retryMs = RETRY_MS) {
    this.redis = redis;
    this.owner = owner;
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
    this.publish();
  }

  /**
   * Writes this runtime's state of the recipe at once (none, at a worker's start): a field left
   * by an earlier run of the same id goes, and `error` is made again from the live runtimes'.
   */
  publish(): void {
    this.dirty = true;
    this.flushing ??= this.flush().finally(() => {
      this.flushing = undefined;
    });
  }

  /** This runtime's problems as its `error@<id>` says: every standing problem, or '' when there is none. */
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
      try {
        await this.redis.eval(SCRIPT, 1, this.key, this.owner.id, this.error, last?.message ?? '', last?.at ?? '', failures, this.owner.heartbeats);
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
