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

/** The shards of a namespace's backlogs: the one of a single server, or every tag a cluster recorded (`<ns>:shards`). */
export async function shardTags(redis: Redis, keys: Keys): Promise<string[]> {
  return keys.cluster ? (await redis.smembers(keys.shards())).sort() : [''];
}

/** What a recipe's backlog counts, over every shard: its counters (queued, synced, deadLettered) and its dead letters. */
export interface BacklogTotals {
  queued: number;
  synced: number;
  deadLettered: number;
  deadLetters: number;
  entries: number;
  /** The Redis time (ms) of its oldest entry; undefined when it is empty. */
  oldestMs: number | undefined;
}

/** A recipe's backlog totals over the shards `tags`: one look per shard, each in its own slot. */
export async function backlogTotals(redis: Redis, keys: Keys, name: string, partitions: number, tags: readonly string[]): Promise<BacklogTotals> {
  const per = await Promise.all(tags.map(async (tag) => {
    const shard = keys.shard(tag);
    const [counters, deadLetters, entries, oldestMs] = await Promise.all([
      redis.hmget(shard.counters(name), 'queued', 'synced', 'deadLetters'),
      redis.xlen(shard.deadLetters(name)),
      backlogLength(redis, shard, name, partitions),
      oldestEntryMs(redis, shard, name, partitions),
    ]);
    return { counters: counters.map((v) => Number(v ?? 0)), deadLetters, entries, oldestMs };
  }));
  const total: BacklogTotals = { queued: 0, synced: 0, deadLettered: 0, deadLetters: 0, entries: 0, oldestMs: undefined };
  for (const s of per) {
    total.queued += s.counters[0] ?? 0;
    total.synced += s.counters[1] ?? 0;
    total.deadLettered += s.counters[2] ?? 0;
    total.deadLetters += s.deadLetters;
    total.entries += s.entries;
    if (s.oldestMs !== undefined) total.oldestMs = Math.min(total.oldestMs ?? Infinity, s.oldestMs);
  }
  return total;
}
