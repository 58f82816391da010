import type { Redis } from 'ioredis';
import { snapshotKeys, type CaptureTarget } from './capture-queue.ts';

/**
 * Re-snapshots every key matching `pattern` into the backlog, so that changes made while no
 * subscription was listening are not lost; `queued` is told after each page it added to the
 * backlog. Returns how many keys were scanned.
 */
export async function reconcileKeys(redis: Redis, pattern: string, target: CaptureTarget, isStopped: () => boolean, queued: () => void = () => undefined): Promise<number> {
  let cursor = '0';
  let scanned = 0;
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    const keys = found.filter(target.accepts);
    cursor = next;
    if (keys.length) {
      if ((await snapshotKeys(redis, target, keys, keys.map(() => 'r0'))) > 0) queued();
      scanned += keys.length;
    }
  } while (cursor !== '0' && !isStopped());
  return scanned;
}
