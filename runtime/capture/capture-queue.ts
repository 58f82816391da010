import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { ReadReply } from '../backlog/backlog.ts';
import { GROUP } from '../keys.ts';

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

/**
 * Whether an event may be the echo of the capture script's own write (its `HDEL #` and `DEL`
 * of a `#` op): only those are counted against the echoes it expects (capture.lua, isEcho).
 */
export function mayBeEcho(event: string): boolean {
  return event === 'del' || event === 'hdel';
}

/** A Lua script run with EVALSHA (ioredis falls back to EVAL after a Redis restart). */
export interface Script {
  readonly name: string;
  readonly lua: string;
}

/** Reads `<name>.lua`, with the shared Lua files of `includes` prepended (Redis scripts cannot import). */
export function loadScript(name: string, includes: readonly string[] = []): Script {
  const read = (file: string): string => readFileSync(new URL(`./${file}.lua`, import.meta.url), 'utf8');
  return { name, lua: [...includes.map(read), read(name)].join('\n') };
}

/** A read of the backlog's new entries for `consumer`, sent right behind a capture call. */
export interface FollowRead {
  /** The delivery's own mark of this read's place in its order. */
  readonly ticket: number;
  /** The partition streams to read (those this runtime holds). */
  readonly streams: readonly string[];
  readonly consumer: string;
  /** Most entries per stream. */
  readonly count: number;
}

/** What a capture call did: records appended, and the entries of its follow read. */
export interface CaptureResult {
  readonly added: number;
  /** The follow read's reply, per stream; undefined when none was asked or it failed. */
  readonly entries: ReadReply | undefined;
  /** How many entries the follow read returned, over every stream (0 when none was asked). */
  readonly delivered: number;
  /** Whether some stream returned as many entries as the read asked for (more may wait). */
  readonly full: boolean;
  /** The first failure of a script call (the others and the read may still have run). */
  readonly error?: Error;
  /**
   * Set when a script call stopped at the backlog's bound: the index of the first item it left
   * untouched (items from there on may be untouched too).
   */
  readonly refusedAt?: number;
  /** Keys (staging keys for write-through) the scripts found on another node of a cluster: not captured. */
  readonly elsewhere?: readonly string[];
}

/** What a recipe's capture needs to snapshot keys into its backlog. */
export interface CaptureTarget {
  readonly script: Script;
  /** The script's keys (the backlog streams, ...): all of one slot on a cluster. */
  readonly keys: readonly string[];
  /** Arguments before the per-item ones (each changed key, its partner if any, and why). */
  readonly args: readonly string[];
  /** Write-through passes each staging key's target key too. */
  readonly partner?: (key: string) => string;
  /** False for a key that matches the pattern but is not one the registration covers. */
  readonly accepts: (key: string) => boolean;
  /** How `snapshotKeys` waits when the script stops at the bound, before it goes on (see pacedTarget). */
  readonly room?: () => Promise<void>;
  /** On a cluster: captures keys the script found on another node where they live (see cluster-capture.ts). */
  readonly elsewhere?: (keys: readonly string[], kinds: readonly ChangeKind[]) => void;
}

/**
 * Runs the target's script with its keys and arguments followed, per item, by the changed key
 * (`keys[i]`), `partner(keys[i])` when given, and the item's argument, in chunks: one atomic
 * call per chunk, all chunks sent in one write (Redis runs them in order, with no round trip
 * between them), then `read`, if given: on the same connection, so it sees every entry the calls
 * added. The changed keys are arguments, not declared keys: on a cluster a script's declared keys
 * must share one slot.
 */
export async function runPerKey(
  redis: Redis, target: CaptureTarget, keys: readonly string[], args: readonly string[], read?: FollowRead,
): Promise<CaptureResult> {
  const { script, keys: fixedKeys, args: fixedArgs, partner } = target;
  if (typeof (redis as unknown as Record<string, unknown>)[script.name] !== 'function') redis.defineCommand(script.name, { lua: script.lua });
  const batch = redis.pipeline();
  const run = (batch as unknown as Record<string, (...a: Array<string | number>) => unknown>)[script.name] as (...a: Array<string | number>) => unknown;
  const starts: number[] = [];
  for (let i = 0; i < keys.length; i += CHUNK) {
    const n = Math.min(CHUNK, keys.length - i);
    // One flat argument list per call: no array per key on this hot path.
    const callArgs: Array<string | number> = [fixedKeys.length, ...fixedKeys, ...fixedArgs];
    for (let j = i; j < i + n; j++) {
      const k = keys[j] as string;
      callArgs.push(k);
      if (partner) callArgs.push(partner(k));
      callArgs.push(args[j] as string);
    }
    run.apply(batch, callArgs);
    starts.push(i);
  }
  const calls = starts.length;
  if (read) batch.xreadgroup('GROUP', GROUP, read.consumer, 'COUNT', read.count, 'STREAMS', ...read.streams, ...read.streams.map(() => '>'));
  const results = (await batch.exec()) ?? [];
  let added = 0;
  let error: Error | undefined;
  let refusedAt: number | undefined;
  let elsewhere: string[] | undefined;
  for (let i = 0; i < calls; i++) {
    const [err, n] = results[i] ?? [new Error('no reply'), 0];
    if (err) error ??= err;
    else if (Array.isArray(n)) {
      // {added, handled, elsewhere...}: the call stopped at the bound after `handled` items, or
      // found some keys on another node.
      const [got, handled, ...away] = n as [number, number, ...string[]];
      added += Number(got);
      const start = starts[i] as number;
      if (Number(handled) < Math.min(CHUNK, keys.length - start)) refusedAt ??= start + Number(handled);
      if (away.length) (elsewhere ??= []).push(...away.map(String));
    } else added += Number(n);
  }
  let entries: ReadReply | undefined;
  let delivered = 0;
  let full = false;
  if (read) {
    const [err, res] = results[calls] ?? [new Error('no reply'), null];
    if (!err) {
      entries = (res as ReadReply) ?? [];
      for (const [, raw] of entries) {
        delivered += raw.length;
        if (raw.length >= read.count) full = true;
      }
    }
  }
  return { added, entries, delivered, full, ...(error ? { error } : {}), ...(refusedAt === undefined ? {} : { refusedAt }), ...(elsewhere ? { elsewhere } : {}) };
}

/**
 * Keys a capture found on another node of a cluster go to the target's `elsewhere`, with the
 * kind of their last event; without one, the call fails (and is retried).
 */
function handOver(target: CaptureTarget, away: readonly string[], keys: readonly string[], why: readonly string[]): void {
  if (!target.elsewhere) throw new Error(`${away.length} keys are not on this Redis node (a cluster moved their slots), e.g. '${away[0] ?? ''}'; not captured here`);
  const kindOf = new Map(keys.map((k, i) => [k, (why[i] as string)[0] as ChangeKind]));
  target.elsewhere(away, away.map((k) => kindOf.get(k) ?? 'c'));
}

/**
 * Snapshots `keys` (each with why it changed and how many events were coalesced); returns the
 * records added. When the script stops at the backlog's bound, waits with the target's `room`
 * and goes on from the first key left (one snapshotted twice meanwhile costs only a record).
 */
export async function snapshotKeys(redis: Redis, target: CaptureTarget, keys: readonly string[], why: readonly string[]): Promise<number> {
  let added = 0;
  for (let from = 0; from < keys.length; ) {
    const res = await runPerKey(redis, target, from ? keys.slice(from) : keys, from ? why.slice(from) : why);
    if (res.error) throw res.error;
    if (res.elsewhere) handOver(target, res.elsewhere, keys, why);
    added += res.added;
    if (res.refusedAt === undefined) break;
    if (!target.room) throw new Error(`the backlog is full: ${keys.length - from - res.refusedAt} keys were not snapshotted`);
    await target.room();
    from += res.refusedAt;
  }
  return added;
}

/**
 * Whether a capture call may have left new entries in the backlog that nobody read: it failed,
 * added records with no read behind it, its read failed or filled its count (more may wait), or
 * its read found nothing although records were added (the script ran after the read: ioredis
 * resends a script Redis had forgotten).
 */
export function leftBehind(read: FollowRead | undefined, result: CaptureResult | undefined, allHeld = true): boolean {
  if (result === undefined || result.error !== undefined) return true;
  // Partitions held by other runtimes are theirs to read: records added there leave nothing here.
  if (read === undefined) return allHeld && result.added > 0;
  if (result.entries === undefined || result.full) return true;
  return allHeld && result.added > 0 && result.delivered === 0;
}

/**
 * Lets a capture hand its new entries straight to the writer: `begin` is asked right before a
 * call is sent and returns the read to send behind it (undefined: none, the writer has no room);
 * `end` gets what the call did, whether it succeeded or not, so every read is answered.
 */
export interface Delivery {
  begin(): FollowRead | undefined;
  end(read: FollowRead | undefined, result: CaptureResult | undefined): void;
}

/**
 * Coalesces change events of one recipe and snapshots them into its backlog: at most one
 * script call in flight, everything that arrives meanwhile goes into the next call. Per-key order
 * holds because each call is atomic and appends to the stream in execution order.
 */
export class CaptureQueue {
  private readonly redis: Redis;
  private readonly target: CaptureTarget;
  private readonly log: Logger;
  private readonly onOverflow: () => void;
  private readonly maxPending: number;
  private readonly delivery?: Delivery;
  /** Key -> events coalesced since its last snapshot, and the kind of the last one (see encode). */
  private pending = new Map<string, number>();
  /** Key -> how many of its pending events may be echoes (`del`, `hdel`); absent when none. */
  private echoable = new Map<string, number>();
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
    redis: Redis,
    target: CaptureTarget,
    log: Logger,
    onOverflow: () => void = () => undefined,
    maxPending = 200_000,
    delivery?: Delivery,
  ) {
    this.redis = redis;
    this.target = target;
    this.log = log;
    this.onOverflow = onOverflow;
    this.maxPending = maxPending;
    this.delivery = delivery;
  }

  /** Whether the registration covers this key (the pattern may match more). */
  accepts(key: string): boolean {
    return this.target.accepts(key);
  }

  push(key: string, kind: ChangeKind, echo = false): void {
    if (this.closed) return;
    if (this.pending.size >= this.maxPending && !this.pending.has(key)) {
      if (!this.overflowed) this.log.warn({ maxPending: this.maxPending }, 'capture is behind: dropping events, a reconcile will catch up once it drains');
      this.overflowed = true;
      return;
    }
    // A number per key, not an object: a burst of a million events allocates nothing here.
    this.pending.set(key, ((this.pending.get(key) ?? 0) & ~3) + 4 + KIND_CODE[kind]);
    if (echo) this.echoable.set(key, (this.echoable.get(key) ?? 0) + 1);
    if (!this.running) {
      this.running = true;
      setImmediate(() => void this.drain());
    }
  }

  /**
   * Stops at once, dropping what is pending: its connection is gone (a cluster master removed,
   * its slots moved), and a reconcile where the keys live now takes them.
   */
  abandon(): void {
    this.closed = true;
    this.pending.clear();
    this.echoable.clear();
    for (const resolve of this.idle.splice(0)) resolve();
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
        // `<kind><events>`, and `/<events that may be echoes>` when some may (see capture.lua).
        const echoes = this.echoable.get(k);
        why.push(echoes ? `${KINDS[v & 3]}${v >> 2}/${echoes}` : `${KINDS[v & 3]}${v >> 2}`);
        this.pending.delete(k);
        if (echoes) this.echoable.delete(k);
        if (keys.length === PASS) break;
      }
      try {
        const started = performance.now();
        const read = this.delivery?.begin();
        let res: CaptureResult | undefined;
        try {
          res = await runPerKey(this.redis, this.target, keys, why, read);
        } finally {
          this.delivery?.end(read, res);
        }
        if (res.error) throw res.error;
        // Only on a cluster whose slots moved: handed to where the keys live, or retried.
        if (res.elsewhere) handOver(this.target, res.elsewhere, keys, why);
        this.log.trace({ keys: keys.length, delivered: res.delivered, ms: +(performance.now() - started).toFixed(1) }, 'captured');
      } catch (err) {
        // Keep the keys (newer events win, counts add up) and retry; a reconnect also reconciles.
        keys.forEach((k, i) => {
          const w = why[i] as string;
          const code = KIND_CODE[w[0] as ChangeKind];
          const [n, e] = w.slice(1).split('/').map(Number) as [number, number | undefined];
          const newer = this.pending.get(k);
          this.pending.set(k, newer === undefined ? n * 4 + code : newer + n * 4);
          if (e) this.echoable.set(k, (this.echoable.get(k) ?? 0) + e);
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
