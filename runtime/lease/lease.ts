import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';

const SCRIPT = readFileSync(new URL('./lease.lua', import.meta.url), 'utf8');

type LeaseClient = Redis & { wbLease?: (n: number, ...a: string[]) => Promise<number | null> };

function run(redis: Redis, key: string, counter: string, op: 'acquire' | 'renew' | 'release', holder: string, token: string, ttlMs: number): Promise<number | null> {
  const client = redis as LeaseClient;
  if (typeof client.wbLease !== 'function') redis.defineCommand('wbLease', { lua: SCRIPT });
  return (client.wbLease as NonNullable<LeaseClient['wbLease']>)(2, key, counter, op, holder, token, String(ttlMs));
}

/** Milliseconds on a clock that never jumps (not the wall clock). */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint() / 1_000_000n);
}

export interface LeaseOptions {
  /** How long a grant or renewal lasts in Redis. */
  readonly ttlMs: number;
  /**
   * How much earlier than the TTL the holder stops committing: it covers the clock drift between
   * this host and Redis and the time a statement may still take to commit (the database's own
   * statement timeout must be below it).
   */
  readonly marginMs: number;
}

/**
 * One fenced lease held by this process. The deadline is measured on this host's monotonic
 * clock from the moment the grant or renewal was *sent* (so it can only end early, never late):
 * a holder that was paused (GC, SIGSTOP, a frozen VM) finds its deadline passed when it wakes
 * and must not commit, even before Redis tells it someone else holds the lease.
 */
export class Lease {
  readonly resource: string;
  readonly holder: string;
  readonly token: string;
  private readonly redis: Redis;
  private readonly key: string;
  private readonly counter: string;
  private readonly opts: LeaseOptions;
  private deadline: number;
  private lost = false;

  private constructor(redis: Redis, key: string, counter: string, resource: string, holder: string, token: string, opts: LeaseOptions, sentAt: number) {
    this.redis = redis;
    this.key = key;
    this.counter = counter;
    this.resource = resource;
    this.holder = holder;
    this.token = token;
    this.opts = opts;
    this.deadline = sentAt + opts.ttlMs - opts.marginMs;
  }

  /** Takes the lease if it is free (or already this holder's); undefined when another holds it. */
  static async acquire(redis: Redis, key: string, counter: string, resource: string, holder: string, opts: LeaseOptions): Promise<Lease | undefined> {
    if (opts.marginMs >= opts.ttlMs) throw new Error(`lease margin (${opts.marginMs} ms) must be below its TTL (${opts.ttlMs} ms)`);
    const sentAt = monotonicMs();
    const token = await run(redis, key, counter, 'acquire', holder, '', opts.ttlMs);
    if (token === null || token === undefined) return undefined;
    return new Lease(redis, key, counter, resource, holder, String(token), opts, sentAt);
  }

  /** Milliseconds left before this holder must stop committing (0 or less: stop). */
  remainingMs(now = monotonicMs()): number {
    return this.lost ? 0 : this.deadline - now;
  }

  /** True while a commit may still start: the lease is held and its deadline is ahead. */
  valid(now = monotonicMs()): boolean {
    return this.remainingMs(now) > 0;
  }

  /** Extends the lease; false (and lost for good) when it is no longer this holder's. */
  async renew(): Promise<boolean> {
    if (this.lost) return false;
    const sentAt = monotonicMs();
    const ok = (await run(this.redis, this.key, this.counter, 'renew', this.holder, this.token, this.opts.ttlMs)) === 1;
    // Renewed: the key never expired in Redis, so no one else was granted it meanwhile, even if
    // this holder was paused past its own deadline (it stopped committing then, as it must).
    if (ok) this.deadline = sentAt + this.opts.ttlMs - this.opts.marginMs;
    else this.lost = true;
    return ok;
  }

  /** Gives the lease up at once (a graceful stop): the next holder need not wait for the TTL. */
  async release(): Promise<boolean> {
    this.lost = true;
    return (await run(this.redis, this.key, this.counter, 'release', this.holder, this.token, this.opts.ttlMs)) === 1;
  }

  /** The value the lease key holds while this holder has it, for scripts that check it. */
  get value(): string {
    return `${this.token} ${this.holder}`;
  }
}
