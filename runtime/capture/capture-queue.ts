import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

const CHUNK = 1000;
/** Most keys one drain pass snapshots (in chunks of CHUNK, sent together). */
const PASS = 10_000;
const KINDS = ['c', 'x', 'r'] as const;
const KIND_CODE: Record<ChangeKind, number> = { c: 0, x: 1, r: 2 };

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
 * Runs `script` with `fixedKeys` and `fixedArgs` followed by the keys (`keys[i]`, then
 * `partner(keys[i])` when given) and the argument of each item, in chunks: one atomic call per
 * chunk, all chunks sent at once (Redis runs them in order, with no round trip between them).
 */
export async function runPerKey(
  redis: Redis, script: Script, fixedKeys: readonly string[], fixedArgs: readonly string[],
  keys: readonly string[], args: readonly string[], partner?: (key: string) => string,
): Promise<number> {
  const client = redis as unknown as Record<string, (...a: Array<string | number>) => Promise<number>>;
  if (typeof client[script.name] !== 'function') redis.defineCommand(script.name, { lua: script.lua });
  const run = client[script.name] as (...a: Array<string | number>) => Promise<number>;
  const perItem = partner ? 2 : 1;
  const calls: Array<Promise<number>> = [];
  for (let i = 0; i < keys.length; i += CHUNK) {
    const n = Math.min(CHUNK, keys.length - i);
    // One flat argument list per call: no array per key on this hot path.
    const callArgs: Array<string | number> = [fixedKeys.length + n * perItem, ...fixedKeys];
    for (let j = i; j < i + n; j++) {
      const k = keys[j] as string;
      callArgs.push(k);
      if (partner) callArgs.push(partner(k));
    }
    callArgs.push(...fixedArgs);
    for (let j = i; j < i + n; j++) callArgs.push(args[j] as string);
    calls.push(run.apply(redis, callArgs));
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
  /** Write-through passes each staging key's target key too. */
  readonly partner?: (key: string) => string;
  /** False for a key that matches the pattern but is not one the registration covers. */
  readonly accepts: (key: string) => boolean;
}

/** Snapshots `keys` (each with why it changed and how many events were coalesced). */
export function snapshotKeys(redis: Redis, target: CaptureTarget, keys: readonly string[], why: readonly string[]): Promise<number> {
  return runPerKey(redis, target.script, target.keys, target.args, keys, why, target.partner);
}

/**
 * Coalesces change events of one recipe and snapshots them into its backlog: at most one
 * script call in flight, everything that arrives meanwhile goes into the next call. Per-key order
 * holds because each call is atomic and appends to the stream in execution order.
 */
export class CaptureQueue {
  /** Key -> events coalesced since its last snapshot, and the kind of the last one (see encode). */
  private pending = new Map<string, number>();
  private running = false;
  private closed = false;
  private overflowed = false;
  private idle: Array<() => void> = [];

  /**
   * @param onOverflow - called once the queue has drained after events were dropped because more
   *   than `maxPending` distinct keys waited: a reconcile then catches up with them (memory stays
   *   bounded however fast the application writes).
   */
  constructor(
    private readonly redis: Redis,
    private readonly target: CaptureTarget,
    private readonly log: Logger,
    private readonly onOverflow: () => void = () => undefined,
    private readonly maxPending = 200_000,
  ) {}

  /** Whether the registration covers this key (the pattern may match more). */
  accepts(key: string): boolean {
    return this.target.accepts(key);
  }

  push(key: string, kind: ChangeKind): void {
    if (this.closed) return;
    if (this.pending.size >= this.maxPending && !this.pending.has(key)) {
      if (!this.overflowed) this.log.warn({ maxPending: this.maxPending }, 'capture is behind: dropping events, a reconcile will catch up once it drains');
      this.overflowed = true;
      return;
    }
    // A number per key, not an object: a burst of a million events allocates nothing here.
    this.pending.set(key, ((this.pending.get(key) ?? 0) & ~3) + 4 + KIND_CODE[kind]);
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
      // At most PASS keys per pass: bounded argument lists however long the burst.
      const keys: string[] = [];
      const why: string[] = [];
      for (const [k, v] of this.pending) {
        keys.push(k);
        why.push(`${KINDS[v & 3]}${v >> 2}`);
        this.pending.delete(k);
        if (keys.length === PASS) break;
      }
      try {
        const started = performance.now();
        await snapshotKeys(this.redis, this.target, keys, why);
        this.log.trace({ keys: keys.length, ms: +(performance.now() - started).toFixed(1) }, 'captured');
      } catch (err) {
        // Keep the keys (newer events win, counts add up) and retry; a reconnect also reconciles.
        keys.forEach((k, i) => {
          const code = KIND_CODE[(why[i] as string)[0] as ChangeKind];
          const n = Number((why[i] as string).slice(1));
          const newer = this.pending.get(k);
          this.pending.set(k, newer === undefined ? n * 4 + code : newer + n * 4);
        });
        this.log.warn({ err: String(err), keys: keys.length }, 'capture failed; retrying');
        await new Promise((r) => setTimeout(r, 500));
        if (this.closed) break;
      }
    }
    this.running = false;
    if (this.overflowed && !this.closed) {
      this.overflowed = false;
      this.onOverflow();
    }
    for (const resolve of this.idle.splice(0)) resolve();
  }
}
