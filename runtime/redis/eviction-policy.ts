import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

/**
 * Redis's `maxmemory-policy` as read with CONFIG GET, or why it could not be read (managed Redis
 * often refuses CONFIG).
 */
export type PolicyReading = { readonly policy: string } | { readonly unreadable: string };

/**
 * Whether a policy may evict wbsync's own keys. They have no TTL, so `noeviction` and the
 * `volatile-*` policies never pick them; an `allkeys-*` policy may pick any key: the recipes and
 * their code, the parameters, the backlog (changes not yet written are lost) and the sentinel
 * (its absence would look like a flush).
 */
export function evictsOwnKeys(policy: string): boolean {
  return policy.startsWith('allkeys-');
}

export async function readEvictionPolicy(redis: Redis): Promise<PolicyReading> {
  try {
    const res = (await redis.config('GET', 'maxmemory-policy')) as string[];
    const policy = res[1];
    return policy === undefined ? { unreadable: 'CONFIG GET maxmemory-policy returned nothing' } : { policy };
  } catch (err) {
    return { unreadable: String(err) };
  }
}

const WHY = "Redis may evict any key under it, wbsync's own included: the recipes, the parameters and the backlog (changes not yet written are lost), and the flush sentinel (a flush that did not happen would be reported)";
const FIX = "Set maxmemory-policy noeviction or a volatile-* policy (wbsync's keys have no TTL, so volatile-* never evicts them), or keep the cache in a separate Redis";

/** Why the runtime refuses to start; the message names the policy, the risk and the fixes. */
export function refusal(policy: string): string {
  return `maxmemory-policy is ${policy}: ${WHY}. ${FIX}, or pass --allow-eviction to accept the risk`;
}

/** A start refused because of the eviction policy (exit 1). */
export class EvictionRefused extends Error {
  override readonly name = 'EvictionRefused';
}

/**
 * Watches `maxmemory-policy`: at start (refusing an `allkeys-*` policy unless eviction is
 * allowed), then at every check. It logs each change once, keeps a standing warning for
 * `wb-cli status`, and answers whether the sentinel could have been evicted since it was last
 * seen, which decides whether its absence proves a flush.
 */
export class EvictionPolicyWatch {
  private readonly redis: Redis;
  private readonly allowEviction: boolean;
  private readonly log: Logger;
  private last: PolicyReading | undefined;
  /** Set when some reading since the sentinel was last seen could not rule out its eviction. */
  private doubtSinceSeen: string | undefined;
  private lastLoudAt = 0;

  constructor(redis: Redis, allowEviction: boolean, log: Logger) {
    this.redis = redis;
    this.allowEviction = allowEviction;
    this.log = log;
  }

  /** The first check: throws EvictionRefused under an `allkeys-*` policy without --allow-eviction. */
  async atStart(): Promise<void> {
    const reading = await readEvictionPolicy(this.redis);
    if ('policy' in reading && evictsOwnKeys(reading.policy) && !this.allowEviction) throw new EvictionRefused(refusal(reading.policy));
    this.take(reading);
    // The start writes the sentinel (if missing): from here on it has been seen.
    this.sentinelLooked(true);
  }

  /** Reads the policy again (every sync and after a reconnect) and reports what changed. */
  async check(): Promise<void> {
    this.take(await readEvictionPolicy(this.redis));
  }

  /**
   * Called after each look at the sentinel, with the reading of the same sync: when it is
   * present, a new interval starts; when it is absent, `evictionDoubt()` answers for the interval.
   */
  sentinelLooked(present: boolean): void {
    if (present && this.last !== undefined) this.doubtSinceSeen = this.doubt(this.last);
  }

  /**
   * Why the sentinel's absence does not prove a flush: the policy could have evicted it (or could
   * not be read) at some check since it was last seen. Undefined when it could not have.
   */
  evictionDoubt(): string | undefined {
    return this.doubtSinceSeen;
  }

  /** A standing warning for `wb-cli status`, or undefined. */
  warning(): string | undefined {
    const r = this.last;
    if (r === undefined || !('policy' in r) || !evictsOwnKeys(r.policy)) return undefined;
    return this.allowEviction
      ? `maxmemory-policy is ${r.policy}, accepted with --allow-eviction: wbsync's own keys (recipes, parameters, backlog, sentinel) can be evicted, and changes with them`
      : `maxmemory-policy is ${r.policy}: wbsync's own keys (recipes, parameters, backlog, sentinel) can be evicted, and changes with them. ${FIX}`;
  }

  private doubt(r: PolicyReading): string | undefined {
    if (!('policy' in r)) return 'the eviction policy could not be read (CONFIG GET refused), so the sentinel may have been evicted';
    if (evictsOwnKeys(r.policy)) return `maxmemory-policy is ${r.policy}, so the sentinel may have been evicted`;
    return undefined;
  }

  private take(r: PolicyReading): void {
    const before = this.last;
    this.last = r;
    this.doubtSinceSeen ??= this.doubt(r);
    if (!('policy' in r)) {
      if (before === undefined || 'policy' in before) {
        this.log.warn({ err: r.unreadable }, "cannot read maxmemory-policy (CONFIG GET refused); make sure it is noeviction or volatile-*: under an allkeys-* policy Redis can evict wbsync's own keys. Until it can be read, onFlush: 'delete' acts only on a flush notice from Redis");
      }
      return;
    }
    const changed = before === undefined || !('policy' in before) || before.policy !== r.policy;
    if (!evictsOwnKeys(r.policy)) {
      if (changed && before !== undefined && 'policy' in before && evictsOwnKeys(before.policy)) {
        this.log.warn({ policy: r.policy }, `maxmemory-policy is ${r.policy} again: wbsync's keys cannot be evicted`);
      }
      return;
    }
    if (this.allowEviction) {
      if (changed) this.log.warn({ policy: r.policy }, `maxmemory-policy is ${r.policy} and --allow-eviction accepts the risk: ${WHY}. onFlush: 'delete' acts only on a flush notice from Redis`);
      return;
    }
    // Changed while running. Syncing goes on: stopping would not protect the keys, it would only
    // let the backlog grow under eviction pressure. Loud: at the change, then once a minute.
    if (changed || Date.now() - this.lastLoudAt >= LOUD_EVERY_MS) {
      this.lastLoudAt = Date.now();
      this.log.error({ policy: r.policy }, `maxmemory-policy is now ${r.policy}: ${WHY}. Syncing goes on, and onFlush: 'delete' acts only on a flush notice from Redis. ${FIX} (or restart with --allow-eviction to accept the risk)`);
    }
  }
}

const LOUD_EVERY_MS = 60_000;
