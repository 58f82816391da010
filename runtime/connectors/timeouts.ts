import type { DbTimeouts } from './types.ts';

/**
 * The defaults of `--db-connect-timeout-ms` and `--db-query-timeout-ms`.
 *
 * Connect, 10 s: what the drivers used before these flags. A handshake (TCP, TLS, authentication)
 * takes milliseconds on a LAN and about a second across regions; 10 s still covers two lost SYNs
 * (retransmitted after 1 s and 3 s) and a slow authentication, and a database that is down shows
 * in `status` within 10 s.
 *
 * Query, 30 s: a batch (at most `batchSize` rows, one transaction) takes milliseconds to a few
 * seconds; 30 s leaves room for a lock held by another client or a busy server, and a hung one
 * shows in `status` within half a minute instead of never. A batch that really needs longer keeps
 * timing out and is retried (never dead-lettered, always shown): raise the flag then.
 */
export const DEFAULT_DB_TIMEOUTS: DbTimeouts = { connectTimeoutMs: 10_000, queryTimeoutMs: 30_000 };

/**
 * The database did not answer within the time allowed. Its session is destroyed, never reused (a
 * late reply would be taken for the next query's); the writer retries it as a lost connection.
 */
export class NoAnswerError extends Error {
  override readonly name = 'NoAnswerError';
  readonly timeoutMs: number;

  constructor(timeoutMs: number) {
    super(`no answer within ${seconds(timeoutMs)}`);
    this.timeoutMs = timeoutMs;
  }
}

/** `30 s`, `2.5 s`: how a limit reads in a message. */
export function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}

/** What to do when the time is up. */
export interface Expiry<T> {
  /** Destroys the connection the work runs on (synchronously: a frozen peer answers no goodbye). */
  readonly expire?: () => void;
  /** Disposes of what the work yields after all (a connection that completed too late). */
  readonly late?: (value: T) => void;
}

/**
 * Runs `work` and settles as it does, or rejects with {@link NoAnswerError} after `ms`, calling
 * `expire` first. The timer is armed before `work` starts, so when a driver's own timeout has the
 * same length it fires after this one and the message is always this one. What the work does
 * after the time is up is ignored: a rejection is swallowed, a value goes to `late`.
 */
export function withDeadline<T>(ms: number, work: () => Promise<T>, expiry: Expiry<T> = {}): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let expired = false;
    const timer = setTimeout(() => {
      expired = true;
      try {
        expiry.expire?.();
      } catch {
        // destroying a connection that is already gone
      }
      reject(new NoAnswerError(ms));
    }, ms);
    let started: Promise<T>;
    try {
      started = work();
    } catch (err) {
      started = Promise.reject(err);
    }
    started.then(
      (value) => {
        if (!expired) {
          clearTimeout(timer);
          resolve(value);
        } else {
          try {
            expiry.late?.(value);
          } catch {
            // disposing of a late connection is best effort
          }
        }
      },
      (err: unknown) => {
        if (expired) return;
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

/**
 * The server-side statement timeout (MariaDB `max_statement_time`, PostgreSQL
 * `statement_timeout`) for a client-side query timeout: a little shorter, so that a statement
 * that is merely slow is cancelled by the server, which then stops its work and releases its
 * locks (the retry would otherwise wait on the abandoned statement's row locks), before the
 * client gives up on the connection. 29 s for 30 s; 1.8 s for 2 s.
 */
export function serverStatementTimeoutMs(queryTimeoutMs: number): number {
  return Math.max(1, queryTimeoutMs - Math.min(1000, Math.floor(queryTimeoutMs / 10)));
}

/** A driver's own limit in whole seconds (oracledb's connect timeouts), never below 1. */
export function wholeSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}
