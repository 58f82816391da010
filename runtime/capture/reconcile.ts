import { isUtf8 } from 'node:buffer';
import type { Redis } from 'ioredis';
import { snapshotKeys, type CaptureTarget } from './capture-queue.ts';

/**
 * Re-snapshots every key matching `pattern` into the backlog, so that changes made while no
 * subscription was listening are not lost; `queued` is told after each page it added to the
 * backlog. Returns how many keys were scanned.
 */
export async function reconcileKeys(
  redis: Redis, pattern: string, target: CaptureTarget, isStopped: () => boolean, queued: () => void = () => undefined,
  notUtf8: (raw: Buffer) => void = () => undefined,
): Promise<number> {
  let cursor = '0';
  let scanned = 0;
  do {
    // Names read as bytes: one that is not UTF-8 would decode to another key (U+FFFD in place of
    // its bytes) and be missed; it is reported instead.
    const [next, raw] = await redis.scanBuffer(cursor, 'MATCH', pattern, 'COUNT', 1000);
    const found: string[] = [];
    for (const k of raw) {
      if (isUtf8(k)) found.push(k.toString());
      else notUtf8(k);
    }
    const keys = found.filter(target.accepts);
    cursor = next.toString();
    if (keys.length) {
      if ((await snapshotKeys(redis, target, keys, keys.map(() => 'r0'))) > 0) queued();
      scanned += keys.length;
    }
  } while (cursor !== '0' && !isStopped());
  return scanned;
}
