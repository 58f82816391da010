import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import type { Keys } from './keys.ts';

/** A heartbeat lasts as long as a lease (`--lease-ttl-ms`): a dead runtime leaves the spread when its leases expire. */
export const DEFAULT_HEARTBEAT_TTL_MS = 10_000;

/** What a runtime advertises about itself while alive. */
export interface RuntimeInfo {
  readonly id: string;
  readonly host: string;
  readonly pid: number;
  readonly startedAt: string;
  /** A standing problem with Redis that does not stop syncing (an eviction policy that can evict wbsync's keys). */
  readonly warning?: string;
  /** Where it serves /metrics and the status page (`--http`), when it does. */
  readonly http?: string;
  /** The partitions it holds, per recipe. */
  readonly partitions?: Readonly<Record<string, readonly number[]>>;
  /** Whether it holds the capture lease (subscribes and snapshots changes). */
  readonly capture?: boolean;
  /** Rows it wrote per second since its last heartbeat. */
  readonly rowsPerSec?: number;
}

/** Another live runtime holds this id. */
export class RuntimeIdInUse extends Error {
  override readonly name = 'RuntimeIdInUse';
}

/**
 * Claims the runtime id (it is also the consumer name, so a restarted runtime picks up its own
 * pending entries at once). A holder that is a dead process on this host is taken over.
 */
export async function claimRuntimeId(redis: Redis, keys: Keys, id: string, ttlMs = DEFAULT_HEARTBEAT_TTL_MS): Promise<RuntimeInfo> {
  const me: RuntimeInfo = { id, host: hostname(), pid: process.pid, startedAt: new Date().toISOString() };
  const key = keys.runtime(id);
  for (let i = 0; i < 40; i++) {
    if ((await redis.set(key, JSON.stringify(me), 'PX', ttlMs, 'NX')) === 'OK') break;
    const holder = await redis.get(key);
    if (holder === null) continue;
    const other = JSON.parse(holder) as RuntimeInfo;
    if (other.host === me.host) {
      if (other.pid !== me.pid && isAlive(other.pid)) {
        throw new RuntimeIdInUse(`runtime id '${id}' is in use by pid ${other.pid} on this host; stop it, or pass --id to run another runtime`);
      }
      await redis.set(key, JSON.stringify(me), 'PX', ttlMs);
      break;
    }
    if (i === 39) throw new RuntimeIdInUse(`runtime id '${id}' is in use by pid ${other.pid} on ${other.host}; pass --id to choose another`);
    await new Promise((r) => setTimeout(r, 500));
  }
  // Any number of runtimes may serve a namespace: each writes the partitions it holds a lease on,
  // and one of them captures (lease/partitions.ts, the capture lease in runtime.ts).
  await redis.sadd(keys.runtimes(), id);
  return me;
}

export async function beat(redis: Redis, keys: Keys, me: RuntimeInfo, ttlMs = DEFAULT_HEARTBEAT_TTL_MS): Promise<void> {
  await redis.set(keys.runtime(me.id), JSON.stringify(me), 'PX', ttlMs);
}

/** Runtimes whose heartbeat is alive. */
export async function liveRuntimes(redis: Redis, keys: Keys): Promise<RuntimeInfo[]> {
  const ids = await redis.smembers(keys.runtimes());
  if (ids.length === 0) return [];
  const values = await redis.mget(ids.map((id) => keys.runtime(id)));
  return values.flatMap((v) => (v === null ? [] : [JSON.parse(v) as RuntimeInfo]));
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A killed process whose parent has not reaped it yet (a zombie) still answers kill(pid, 0);
  // on Linux /proc says it is one. Elsewhere (no /proc) it counts as alive.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return true;
  }
}
