import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

const CHUNK = 1000;

/** Why a key is snapshotted: a change event, an expiry/eviction event, or a reconcile pass. */
export type ChangeKind = 'c' | 'x' | 'r';

/** Keyspace events that do not change a hash's data. */
const IGNORED = new Set(['expire', 'persist']);

/** Classifies a keyspace event name; undefined when it is not worth a snapshot. */
export function classifyEvent(event: string): ChangeKind | undefined {
  if (IGNORED.has(event)) return undefined;
  return event === 'expired' || event === 'evicted' ? 'x' : 'c';
}

/** A Lua script run with EVALSHA (ioredis falls back to EVAL after a Redis restart). */
export interface Script {
  readonly name: string;
  readonly lua: string;
}

export function loadScript(name: string): Script {
  return { name, lua: readFileSync(new URL(`./${name}.lua`, import.meta.url), 'utf8') };
}

/**
 * Runs `script` with `fixedKeys` and `fixedArgs` followed by the keys and the argument of each
 * item, in chunks (one atomic call per chunk).
 */
export async function runPerKey(redis: Redis, script: Script, fixedKeys: readonly string[], fixedArgs: readonly string[], keys: readonly (readonly string[])[], args: readonly string[]): Promise<number> {
  const client = redis as unknown as Record<string, (numKeys: number, ...a: string[]) => Promise<number>>;
  if (typeof client[script.name] !== 'function') redis.defineCommand(script.name, { lua: script.lua });
  const run = client[script.name] as (numKeys: number, ...a: string[]) => Promise<number>;
  // Every chunk is sent at once: Redis runs them in order, without a round trip between them.
  const calls: Array<Promise<number>> = [];
  for (let i = 0; i < keys.length; i += CHUNK) {
    const ks = keys.slice(i, i + CHUNK).flat();
    calls.push(run.call(redis, fixedKeys.length + ks.length, ...fixedKeys, ...ks, ...fixedArgs, ...args.slice(i, i + CHUNK)));
  }
  return (await Promise.all(calls)).reduce((a, b) => a + b, 0);
}

/** What a recipe's capture needs to snapshot keys into its backlog. */
export interface CaptureTarget {
  readonly script: Script;
  /** Keys the script needs before the changed keys (the backlog stream, ...). */
  readonly keys: readonly string[];
  /** Arguments before the per-key ones. */
  readonly args: readonly string[];
  /** The script's keys for one changed key (write-through also passes the target key). */
  readonly keysOf: (key: string) => readonly string[];
  /** False for a key that matches the pattern but is not one the registration covers. */
  readonly accepts: (key: string) => boolean;
}

/** Snapshots `keys` (each with why it changed and how many events were coalesced). */
export function snapshotKeys(redis: Redis, target: CaptureTarget, keys: readonly string[], why: readonly string[]): Promise<number> {
  return runPerKey(redis, target.script, target.keys, target.args, keys.map(target.keysOf), why);
}

/**
 * Coalesces change events of one recipe and snapshots them into its backlog: at most one
 * script call in flight, everything that arrives meanwhile goes into the next call. Per-key order
 * holds because each call is atomic and appends to the stream in execution order.
 */
export class CaptureQueue {
  private pending = new Map<string, { kind: ChangeKind; n: number }>();
  private running = false;
  private closed = false;
  private idle: Array<() => void> = [];

  constructor(
    private readonly redis: Redis,
    private readonly target: CaptureTarget,
    private readonly log: Logger,
  ) {}

  /** Whether the registration covers this key (the pattern may match more). */
  accepts(key: string): boolean {
    return this.target.accepts(key);
  }

  push(key: string, kind: ChangeKind): void {
    if (this.closed) return;
    const prev = this.pending.get(key);
    this.pending.set(key, { kind, n: (prev?.n ?? 0) + 1 });
    if (!this.running) {
      this.running = true;
      setImmediate(() => void this.drain());
    }
  }

  /** Resolves when nothing is pending or in flight. */
  flushed(): Promise<void> {
    if (!this.running && this.pending.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  /** Stops accepting events after snapshotting what is pending. */
  async close(): Promise<void> {
    await this.flushed();
    this.closed = true;
  }

  private async drain(): Promise<void> {
    while (this.pending.size > 0) {
      const batch = this.pending;
      this.pending = new Map();
      try {
        const started = performance.now();
        await snapshotKeys(this.redis, this.target, [...batch.keys()], [...batch.values()].map((v) => `${v.kind}${v.n}`));
        this.log.trace({ keys: batch.size, ms: +(performance.now() - started).toFixed(1) }, 'captured');
      } catch (err) {
        // Keep the keys (newer events win) and retry; a reconnect also triggers a reconcile.
        for (const [k, v] of batch) {
          const newer = this.pending.get(k);
          this.pending.set(k, newer ? { kind: newer.kind, n: newer.n + v.n } : v);
        }
        this.log.warn({ err: String(err), keys: batch.size }, 'capture failed; retrying');
        await new Promise((r) => setTimeout(r, 500));
        if (this.closed) break;
      }
    }
    this.running = false;
    for (const resolve of this.idle.splice(0)) resolve();
  }
}
