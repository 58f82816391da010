import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Keys } from '../keys.ts';
import { errorText } from '../writer/table-writer.ts';
import { Lease, type LeaseOptions } from './lease.ts';

/** What a recipe's worker does when this runtime gains, must hand over, or has lost one of its partitions. */
export interface PartitionOwner {
  /** This runtime holds partition `p` now: take over its pending entries and read it. */
  gained(p: number): void;
  /** Stop reading `p` and resolve once nothing of it is in flight; the lease is released then. */
  yield(p: number): Promise<void>;
  /** The lease on `p` is gone (expired, taken): drop its queued work, commit nothing more of it. */
  lost(p: number): void;
  /** A standing problem with the recipe's leases (Redis refusing the lease script), shown in status; undefined once over. */
  leaseProblem(message: string | undefined): void;
}

/**
 * How far this host's clock and Redis's may run apart over one lease (ms): a write must end this
 * long before the lease could expire. The server-side statement timeout is kept below the margin
 * less this (`statementTimeoutFor`).
 */
export const DRIFT_MS = 1000;

/** The server-side statement timeout for a lease margin: a statement ends before its lease could expire. */
export function statementTimeoutFor(marginMs: number, serverDefaultMs: number): number {
  return Math.max(500, Math.min(serverDefaultMs, marginMs - DRIFT_MS));
}

/** A stable spread of each recipe's partitions over the runtimes (so recipes' extra ones land on different runtimes). */
function offsetOf(name: string): number {
  let h = 0;
  for (const c of Buffer.from(name, 'utf8')) h = (h * 31 + c) % 1_000_003;
  return h;
}

/**
 * Which runtime should hold partition `p` of recipe `name` among the live runtimes `ids`
 * (sorted): round robin from an offset per recipe. Every runtime computes the same answer from
 * the same live set, so partitions spread ±1 per recipe with no coordinator.
 */
export function assignedTo(name: string, p: number, ids: readonly string[]): string | undefined {
  if (ids.length === 0) return undefined;
  return ids[(p + offsetOf(name)) % ids.length];
}

interface RecipeLeases {
  partitions: number;
  /** Where its leases live (a cluster shard's keys) and the recipe they are named after. */
  readonly at: LeaseHome;
  owner: PartitionOwner;
  readonly held: Map<number, Lease>;
  /** Partitions being handed over: still held (and renewed) until their work is done. */
  readonly yielding: Set<number>;
}

/** Where a unit's leases are kept: under `keys` (a shard's, on a cluster), named after recipe `name`. */
export interface LeaseHome {
  readonly keys: Keys;
  readonly name: string;
}

/**
 * The partition leases this runtime holds, over every recipe it runs. Each `tick` (every
 * TTL/5, and at once when a runtime joins or leaves) renews them, gives up those the spread
 * assigns elsewhere (after their work in flight is done) and takes the free ones assigned here.
 * Each lease is fenced (`lease.lua`): its token and this runtime's id are checked by every
 * finish of its partition (`finish.lua`), and its deadline on this host's monotonic clock is
 * checked before every database write (`valid`).
 */
export class PartitionLeases {
  private readonly redis: Redis;
  private readonly keys: Keys;
  private readonly id: string;
  private readonly opts: LeaseOptions;
  private readonly log: Logger;
  private readonly recipes = new Map<string, RecipeLeases>();
  private ticking: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(redis: Redis, keys: Keys, id: string, opts: LeaseOptions, log: Logger) {
    this.redis = redis;
    this.keys = keys;
    this.id = id;
    this.opts = opts;
    this.log = log;
  }

  /**
   * Starts managing a unit's partitions for `owner` (a new version replaces the old owner, leases
   * kept). A unit is a recipe on a single server, a recipe's shard (`<name>@<tag>`) on a cluster,
   * whose leases live with its streams (`at`).
   */
  add(name: string, partitions: number, owner: PartitionOwner, at: LeaseHome = { keys: this.keys, name }): void {
    const r = this.recipes.get(name);
    if (r) {
      r.owner = owner;
      r.partitions = partitions;
      for (const p of r.held.keys()) if (!r.yielding.has(p)) owner.gained(p);
      return;
    }
    this.recipes.set(name, { partitions, owner, at, held: new Map(), yielding: new Set() });
  }

  /** Stops managing a recipe (unregistered): its leases are released. */
  async remove(name: string): Promise<void> {
    const r = this.recipes.get(name);
    if (!r) return;
    this.recipes.delete(name);
    await Promise.all([...r.held.values()].map((l) => l.release().catch(() => false)));
  }

  /** Partitions of `name` held now, with their deadline ahead, not being handed over. */
  held(name: string): number[] {
    const r = this.recipes.get(name);
    if (!r) return [];
    return [...r.held.entries()].filter(([p, l]) => l.valid() && !r.yielding.has(p)).map(([p]) => p).sort((a, b) => a - b);
  }

  /** Every partition held, per recipe (for status and the heartbeat). */
  summary(): Record<string, number[]> {
    const out: Record<string, number[]> = {};
    for (const [name, r] of this.recipes) out[name] = [...r.held.keys()].sort((a, b) => a - b);
    return out;
  }

  /** The value partition `p`'s lease holds while this runtime has it ('' when not held: finish.lua then refuses). */
  fence(name: string, p: number): string {
    return this.recipes.get(name)?.held.get(p)?.value ?? 'not-held';
  }

  /**
   * How long a write of partition `p` that starts now may take (ms): until the lease could
   * expire as this host sees it, less the clock drift allowed for; 0 once the deadline has passed.
   */
  writeBudgetMs(name: string, p: number): number {
    const lease = this.recipes.get(name)?.held.get(p);
    if (!lease || !lease.valid()) return 0;
    return Math.max(0, lease.remainingMs() + this.opts.marginMs - DRIFT_MS);
  }

  /** True while a write of partition `p` may still commit: held, and its deadline ahead. */
  valid(name: string, p: number): boolean {
    return this.recipes.get(name)?.held.get(p)?.valid() ?? false;
  }

  /** The partition's lease was found gone by a finish: drop it now. */
  lostByFinish(name: string, p: number): void {
    const r = this.recipes.get(name);
    if (r && r.held.has(p)) this.drop(name, r, p, 'its next owner writes it');
  }

  /** Forgets a lease found lost and tells the worker (its queued work is dropped). */
  private drop(name: string, r: RecipeLeases, p: number, why: string): void {
    r.held.delete(p);
    r.yielding.delete(p);
    this.log.warn({ recipe: name, partition: p }, `lost the lease of a partition (${why}); nothing more of it is committed here`);
    r.owner.lost(p);
  }

  /** Renews, hands over and takes leases against the live runtimes `live` (ids, this one included). */
  tick(live: readonly string[]): Promise<void> {
    if (this.ticking) {
      this.again = true;
      return this.ticking;
    }
    this.ticking = (async () => {
      do {
        this.again = false;
        await this.once([...new Set([...live, this.id])].sort());
      } while (this.again && !this.stopped);
    })().finally(() => {
      this.ticking = undefined;
    });
    return this.ticking;
  }

  private async once(ids: readonly string[]): Promise<void> {
    for (const [name, r] of this.recipes) {
      if (this.stopped) return;
      // Renewals first: a lease found lost stops its partition's commits at once.
      await Promise.all([...r.held.entries()].map(async ([p, lease]) => {
        let ok: boolean;
        try {
          ok = await lease.renew();
        } catch (err) {
          // Redis did not answer: the deadline (monotonic) runs out by itself if this goes on.
          this.log.warn({ recipe: name, partition: p, err: errorText(err) }, 'renewing a partition lease failed; retrying');
          return;
        }
        if (ok || this.recipes.get(name) !== r || r.held.get(p) !== lease) return;
        this.drop(name, r, p, 'it expired and another runtime may hold it');
      }));
      for (let p = 0; p < r.partitions; p++) {
        const mine = assignedTo(name, p, ids) === this.id;
        if (mine && !r.held.has(p)) {
          let failed = false;
          const lease = await Lease.acquire(this.redis, r.at.keys.lease(r.at.name, p), r.at.keys.leaseTokens(), `${name}/${p}`, this.id, this.opts).catch((err: unknown) => {
            failed = true;
            const message = `taking the lease of partition ${p} failed, retrying: ${errorText(err)}`;
            this.log.warn({ recipe: name, partition: p, err: errorText(err) }, 'taking a partition lease failed; retrying');
            r.owner.leaseProblem(message);
            return undefined;
          });
          if (!failed) r.owner.leaseProblem(undefined);
          if (!lease || this.stopped || this.recipes.get(name) !== r) {
            await lease?.release().catch(() => false);
            continue;
          }
          r.held.set(p, lease);
          this.log.info({ recipe: name, partition: p, token: lease.token }, 'took a partition');
          r.owner.gained(p);
        } else if (!mine && r.held.has(p) && !r.yielding.has(p)) {
          r.yielding.add(p);
          void this.handOver(name, r, p);
        }
      }
    }
  }

  /** Lets the worker finish partition `p`'s work in flight, then releases its lease (in the background; renewals go on meanwhile). */
  private async handOver(name: string, r: RecipeLeases, p: number): Promise<void> {
    try {
      await r.owner.yield(p);
    } catch (err) {
      this.log.warn({ recipe: name, partition: p, err: errorText(err) }, 'handing a partition over failed');
    }
    const lease = r.held.get(p);
    if (!lease || !r.yielding.has(p)) return;
    r.held.delete(p);
    r.yielding.delete(p);
    await lease.release().catch(() => false);
    this.log.info({ recipe: name, partition: p }, 'handed a partition over');
    await this.announce();
  }

  /** Tells the other runtimes to look at the leases now (a partition was released). */
  private async announce(): Promise<void> {
    await this.redis.publish(this.keys.control(), JSON.stringify({ op: 'leases', from: this.id })).catch(() => 0);
  }

  /**
   * A graceful stop: the workers have stopped (what they did not write stays pending), so every
   * lease is released at once and the others are told, instead of waiting for the TTL.
   */
  async releaseAll(): Promise<void> {
    this.stopped = true;
    await this.ticking?.catch(() => undefined);
    const all = [...this.recipes.values()].flatMap((r) => [...r.held.values()]);
    this.recipes.clear();
    if (all.length === 0) return;
    await Promise.all(all.map((l) => l.release().catch(() => false)));
    await this.announce();
  }
}
