import { isUtf8 } from 'node:buffer';
import type { Redis } from 'ioredis';
import { snapshotKeys, type CaptureTarget } from './capture-queue.ts';

/**
 * Buckets one SCAN call walks. MATCH only filters what a call returns: a reconcile walks the
 * whole keyspace, so on a Redis holding mostly unrelated keys each call costs Redis the walk of
 * this many buckets for a few keys. 250 keeps a call near 0.1 ms on a 1,000,000-key Redis, the
 * longest an application's command waits behind one (docs/performance.md, "A start on a large
 * Redis").
 */
export const SCAN_COUNT = 250;
/** After this long of SCAN calls back to back, a reconcile pauses as long again (see below). */
export const SCAN_BURST_MS = 10;

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Re-snapshots every key matching `pattern` into the backlog, so that changes made while no
 * subscription was listening are not lost; `queued` is told after each page it added to the
 * backlog. Returns how many keys were scanned.
 *
 * Paced: after each SCAN_BURST_MS of calls it waits as long as they took, so a reconcile takes at
 * most about half of Redis's time and the application keeps being served during a long walk.
 */
export async function reconcileKeys(
  redis: Redis, pattern: string, target: CaptureTarget, isStopped: () => boolean, queued: () => void = () => undefined,
  notUtf8: (raw: Buffer) => void = () => undefined,
  progress: (scanned: number) => void = () => undefined,
): Promise<number> {
  let cursor = '0';
  let scanned = 0;
  let burst = 0;
  do {
    const began = performance.now();
    // Names read as bytes: one that is not UTF-8 would decode to another key (U+FFFD in place of
    // its bytes) and be missed; it is reported instead.
    const [next, raw] = await redis.scanBuffer(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT);
    burst += performance.now() - began;
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
      progress(scanned);
    }
    if (burst >= SCAN_BURST_MS && cursor !== '0') {
      await pause(burst);
      burst = 0;
    }
  } while (cursor !== '0' && !isStopped());
  return scanned;
}
