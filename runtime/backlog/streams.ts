import type { Redis } from 'ioredis';
import type { Keys } from '../keys.ts';
import { streamIdMs } from '../redis/stream.ts';

/**
 * The partition count of each recipe's backlog, as uploads fixed it (`<ns>:partitions`);
 * `fallback` for a name without one (a recipe uploaded by wbsync 0.1 and not migrated yet).
 */
export async function partitionCounts(redis: Redis, keys: Keys, names: readonly string[], fallback = 1): Promise<number[]> {
  if (names.length === 0) return [];
  const got = await redis.hmget(keys.partitions(), ...names);
  return got.map((v) => (v === null ? fallback : Number(v)));
}

/** Entries in a recipe's backlog, over every partition (undelivered plus unacknowledged). */
export async function backlogLength(redis: Redis, keys: Keys, name: string, partitions: number): Promise<number> {
  const p = redis.pipeline();
  for (const s of keys.backlogs(name, partitions)) p.xlen(s);
  let n = 0;
  for (const [err, len] of (await p.exec()) ?? []) {
    if (err) throw err;
    n += Number(len);
  }
  return n;
}

/** The Redis time (ms) of the oldest entry in any partition of a recipe's backlog; undefined when empty. */
export async function oldestEntryMs(redis: Redis, keys: Keys, name: string, partitions: number): Promise<number | undefined> {
  const p = redis.pipeline();
  for (const s of keys.backlogs(name, partitions)) p.xrange(s, '-', '+', 'COUNT', 1);
  let oldest: number | undefined;
  for (const [err, res] of (await p.exec()) ?? []) {
    if (err) throw err;
    const id = (res as Array<[string, string[]]>)[0]?.[0];
    if (id !== undefined) oldest = Math.min(oldest ?? Infinity, streamIdMs(id));
  }
  return oldest;
}
