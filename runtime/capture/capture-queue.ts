import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

const SCRIPT = readFileSync(new URL('./capture.lua', import.meta.url), 'utf8');
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

type CaptureClient = Redis & {
  wbCapture(numKeys: number, ...args: string[]): Promise<number>;
};

/** Runs the snapshot script for a list of keys; one atomic call per chunk. */
export async function snapshotKeys(redis: Redis, stream: string, expiryDeletes: boolean, keys: readonly string[], kinds: readonly ChangeKind[]): Promise<number> {
  const client = redis as CaptureClient;
  if (typeof client.wbCapture !== 'function') redis.defineCommand('wbCapture', { lua: SCRIPT });
  let added = 0;
  for (let i = 0; i < keys.length; i += CHUNK) {
    const ks = keys.slice(i, i + CHUNK);
    added += await client.wbCapture(ks.length + 1, stream, ...ks, expiryDeletes ? '1' : '0', ...kinds.slice(i, i + CHUNK));
  }
  return added;
}

/**
 * Coalesces change events of one recipe and snapshots them into its backlog: at most one
 * script call in flight, everything that arrives meanwhile goes into the next call. Per-key order
 * holds because each call is atomic and appends to the stream in execution order.
 */
export class CaptureQueue {
  private pending = new Map<string, ChangeKind>();
  private running = false;
  private closed = false;
  private idle: Array<() => void> = [];

  constructor(
    private readonly redis: Redis,
    private readonly stream: string,
    private readonly expiryDeletes: boolean,
    private readonly log: Logger,
  ) {}

  push(key: string, kind: ChangeKind): void {
    if (this.closed) return;
    this.pending.set(key, kind);
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
        await snapshotKeys(this.redis, this.stream, this.expiryDeletes, [...batch.keys()], [...batch.values()]);
      } catch (err) {
        // Keep the keys (newer events win) and retry; a reconnect also triggers a reconcile.
        for (const [k, v] of batch) if (!this.pending.has(k)) this.pending.set(k, v);
        this.log.warn({ err: String(err), keys: batch.size }, 'capture failed; retrying');
        await new Promise((r) => setTimeout(r, 500));
        if (this.closed) break;
      }
    }
    this.running = false;
    for (const resolve of this.idle.splice(0)) resolve();
  }
}
