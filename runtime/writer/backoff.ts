import type { Logger } from 'pino';

/** Exponential backoff from `minMs` doubling up to `maxMs`; `reset()` after a success. */
export class Backoff {
  private readonly minMs: number;
  private readonly maxMs: number;
  private attempt = 0;

  constructor(
    minMs: number,
    maxMs: number,
  ) {
    this.minMs = minMs;
    this.maxMs = maxMs;
  }

  next(): number {
    const ms = Math.min(this.maxMs, this.minMs * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 30);
    return ms;
  }

  reset(): void {
    this.attempt = 0;
  }
}

/** Resolves after `ms`, or early when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Thrown by retryForever when the worker stopped before the step succeeded. */
export class RetryStopped extends Error {
  override readonly name = 'RetryStopped';
}

/**
 * Retries a Redis step every second until it succeeds: used after rows are committed, where
 * giving up (and losing the acknowledgement or the dead letters) is not an option while the
 * worker runs. Once `signal` aborts (the recipe stopped or was unregistered) a failure ends the
 * retries with RetryStopped instead: otherwise a stop waits forever for a Redis that is down,
 * and what was not finished stays pending in the group, redelivered at the next start.
 */
export async function retryForever<T>(step: () => Promise<T>, log: Logger, signal?: AbortSignal): Promise<T> {
  for (;;) {
    try {
      return await step();
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (signal?.aborted) throw new RetryStopped(`stopped while retrying a redis step: ${message}`);
      log.warn({ err: message }, 'redis step failed; retrying');
      await sleep(1000, signal);
    }
  }
}
