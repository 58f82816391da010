import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import type { Keys } from './keys.ts';

const TTL_MS = 15_000;

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
}

/** Another live runtime holds this id. */
export class RuntimeIdInUse extends Error {
  override readonly name = 'RuntimeIdInUse';
}

/**
 * Claims the runtime id (it is also the consumer name, so a restarted runtime picks up its own
 * pending entries at once). A holder that is a dead process on this host is taken over.
 */
export async function claimRuntimeId(redis: Redis, keys: Keys, id: string): Promise<RuntimeInfo> {
  const me: RuntimeInfo = { id, host: hostname(), pid: process.pid, startedAt: new Date().toISOString() };
  const key = keys.runtime(id);
  for (let i = 0; i < 40; i++) {
    if ((await redis.set(key, JSON.stringify(me), 'PX', TTL_MS, 'NX')) === 'OK') break;
    const holder = await redis.get(key);
    if (holder === null) continue;
    const other = JSON.parse(holder) as RuntimeInfo;
    if (other.host === me.host) {
      if (other.pid !== me.pid && isAlive(other.pid)) {
        throw new RuntimeIdInUse(`runtime id '${id}' is in use by pid ${other.pid} on this host; stop it, or pass --id to run another runtime`);
      }
      await redis.set(key, JSON.stringify(me), 'PX', TTL_MS);
      break;
    }
    if (i === 39) throw new RuntimeIdInUse(`runtime id '${id}' is in use by pid ${other.pid} on ${other.host}; pass --id to choose another`);
    await new Promise((r) => setTimeout(r, 500));
  }
  await redis.sadd(keys.runtimes(), id);
  // One runtime per namespace: two would both capture every change and could commit one key's
  // snapshots out of order. A crashed one's heartbeat expires within 15 s; wait that long.
  for (let i = 0; ; i++) {
    const others = (await liveRuntimes(redis, keys)).filter((r) => r.id !== id);
    if (others.length === 0) break;
    if (i === 40) {
      await redis.del(key);
      const o = others[0] as RuntimeInfo;
      throw new RuntimeIdInUse(`namespace '${keys.ns}' is already served by runtime '${o.id}' (pid ${o.pid} on ${o.host}); run one runtime per namespace, or use another --namespace`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  return me;
}

export async function beat(redis: Redis, keys: Keys, me: RuntimeInfo): Promise<void> {
  await redis.set(keys.runtime(me.id), JSON.stringify(me), 'PX', TTL_MS);
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
