import { partitionOf } from '../../runtime/backlog/partition.ts';
import { GROUP, Keys } from '../../runtime/keys.ts';
import type { TestEnv } from './env.ts';

/**
 * A recipe's backlog as a test reads it from Redis: one stream per partition
 * (`<ns>:backlog:{<name>/<p>}`). Recipes of the tests use the default partition count.
 */
export const PARTITIONS = 8;

/** Every partition stream of the recipe's backlog, in partition order. */
export function backlogStreams(env: Pick<TestEnv, 'ns' | 'name'>, name = env.name, partitions = PARTITIONS): string[] {
  return new Keys(env.ns).backlogs(name, partitions);
}

/** The stream of the partition `key`'s records go to. */
export function backlogStreamOf(env: Pick<TestEnv, 'ns' | 'name'>, key: string, name = env.name, partitions = PARTITIONS): string {
  return new Keys(env.ns).backlog(name, partitionOf(key, partitions));
}

/** Entries in the recipe's backlog, over every partition (XLEN summed). */
export async function backlogLength(env: Pick<TestEnv, 'ns' | 'redis' | 'name'>, name = env.name, partitions = PARTITIONS): Promise<number> {
  const p = env.redis.pipeline();
  for (const s of backlogStreams(env, name, partitions)) p.xlen(s);
  let n = 0;
  for (const [err, len] of (await p.exec()) ?? []) {
    if (err) throw err;
    n += Number(len);
  }
  return n;
}

/** Entries delivered to some consumer of the writers' group and not acknowledged, over every partition. */
export async function backlogPending(env: Pick<TestEnv, 'ns' | 'redis' | 'name'>, name = env.name, partitions = PARTITIONS): Promise<number> {
  const counts = await Promise.all(backlogStreams(env, name, partitions).map(async (s) => {
    // A partition nobody has written to yet has no stream (and no group): nothing pending there.
    if ((await env.redis.exists(s)) === 0) return 0;
    return Number(((await env.redis.xpending(s, GROUP)) as [number])[0]);
  }));
  return counts.reduce((a, b) => a + b, 0);
}

/**
 * Appends a hand-made entry for `key` (fields as capture writes them: key, header, pairs...) to
 * the stream of `key`'s partition, as capture would have (with the id `entryId`, by default a new
 * one); returns that stream and the entry's id.
 */
export async function addBacklogEntry(env: Pick<TestEnv, 'ns' | 'redis' | 'name'>, key: string, fields: readonly string[], name = env.name, partitions = PARTITIONS, entryId = '*'): Promise<{ stream: string; id: string }> {
  const stream = backlogStreamOf(env, key, name, partitions);
  const id = (await env.redis.xadd(stream, entryId, ...fields)) as string;
  return { stream, id };
}
