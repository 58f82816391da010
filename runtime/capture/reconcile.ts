import type { Redis } from 'ioredis';
import { snapshotKeys } from './capture-queue.ts';

/**
 * Re-snapshots every key under `{prefix}:` into the backlog, so that changes made while no
 * subscription was listening are not lost. Returns how many keys were scanned.
 */
export async function reconcilePrefix(redis: Redis, prefix: string, stream: string, expiryDeletes: boolean, isStopped: () => boolean): Promise<number> {
  let cursor = '0';
  let scanned = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) {
      await snapshotKeys(redis, stream, expiryDeletes, keys, keys.map(() => 'r'));
      scanned += keys.length;
    }
  } while (cursor !== '0' && !isStopped());
  return scanned;
}
