import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ChainableCommander, Redis } from 'ioredis';
import { GROUP, type Keys } from '../keys.ts';
import { execChecked } from '../redis/exec.ts';
import { fieldsObject, type Fields } from '../writer/plan.ts';
import { decodeEntry, type RawEntry, type StreamEntry } from './entry.ts';
import { backlogLength } from './streams.ts';

const DEAD_LETTER = readFileSync(new URL('./dead-letter.lua', import.meta.url), 'utf8');
const FINISH = readFileSync(new URL('./finish.lua', import.meta.url), 'utf8');
const SETTLE = readFileSync(new URL('./settle.lua', import.meta.url), 'utf8');
const FINISH_SHA = createHash('sha1').update(FINISH).digest('hex');
const SETTLE_SHA = createHash('sha1').update(SETTLE).digest('hex');

/**
 * Sockets on which a finish's EXEC ran the scripts' text (EVAL), so Redis has them cached: later
 * finishes there send only their SHA1 (EVALSHA), a fraction of the bytes and of Redis's work per
 * batch. A new socket (a reconnect, a restarted Redis) sends the text again; a NOSCRIPT (the
 * cache flushed under a live connection) forgets the socket, and the retried finish sends the
 * text. As ioredis does for its own defined commands, without `SCRIPT LOAD` (not in the ACL).
 */
const scriptsOn = new WeakMap<object, Set<string>>();

/**
 * A dead letter's `op` as `dlq` shows it: what was refused, in words, not the backlog's record
 * codes (`u`, `d`, `t`, `p`, `w`).
 */
export function opName(op: string): string {
  switch (op) {
    case 'u': return 'upsert';
    case 'd': return 'delete';
    case 't': return 'not a hash';
    case 'p': return 'malformed';
    case 'w': return 'write-through';
    default: return op;
  }
}

/** Queues one dead letter on `tx`, replacing the key's previous one (dead-letter.lua). */
export function addDeadLetter(tx: ChainableCommander, keys: Keys, recipe: string, key: string, fields: readonly string[]): void {
  tx.eval(DEAD_LETTER, 2, keys.deadLetters(recipe), keys.deadLetterIndex(recipe), key, ...fields);
}

/** A record the database (or the runtime) refused, bound for the dead-letter stream. */
export interface DeadLetter {
  readonly key: string;
  readonly op: string;
  readonly error: string;
  readonly fields?: Fields;
  /** Ack ids waiting for this record's outcome (`status failed`). */
  readonly acks: readonly string[];
  /** The backlog partition of the entry it came from: it is written under that partition's lease. */
  readonly partition?: number;
  /** The backlog entry the refused record came from: a later change applied supersedes it (apply.lua). */
  readonly entry?: string;
}

/** An acknowledgement for RGSync's `#` protocol, written to stream `{key}ack`. */
export interface AckOutcome {
  readonly key: string;
  readonly ack: string;
  readonly error?: string;
  /** The backlog partition of the entry it came from: it is written under that partition's lease. */
  readonly partition?: number;
}

/** One finished stream entry and what its records came to. */
export interface FinishedEntry {
  readonly id: string;
  /** The partition (stream) the entry is in. */
  readonly partition: number;
  /** Records the entry held (they leave the `queued` count). */
  readonly records: number;
  readonly synced: number;
  /** Dead letters its records came to (the `deadLetters` count). */
  readonly deadLetters: number;
}

/** Everything that ends one batch, committed to Redis in one transaction. */
export interface Completion {
  /**
   * Stream entries to acknowledge and remove. Their counts are per entry: a retried finish
   * (or an entry another consumer finished) counts only the entries it acknowledges itself.
   */
  readonly entries: readonly FinishedEntry[];
  readonly dead: readonly DeadLetter[];
  readonly acks: readonly AckOutcome[];
  readonly version: string;
}

/** What a finish did: the partitions whose lease was no longer this runtime's (nothing of theirs was acknowledged). */
export interface FinishResult {
  readonly lost: readonly number[];
}

/** Acks expire like RGSync's: an hour after the last one. */
const ACK_TTL_S = 3600;

/** What one read returned: stream entries (an entry deleted meanwhile has no records). */
export interface ReadResult {
  readonly entries: StreamEntry[];
}

/** XREADGROUP's reply: per stream, its entries. */
export type ReadReply = Array<[string, RawEntry[]]> | null;

/**
 * A recipe's backlog: one stream per partition, each read through one consumer group. A key's
 * records are always in its partition's stream (`partition.lua`), so they stay in order; each
 * partition is written by one runtime at a time, the holder of its lease (`lease/partitions.ts`).
 */
export class Backlog {
  private readonly redis: Redis;
  private readonly keys: Keys;
  private readonly recipe: string;
  readonly streams: readonly string[];
  private readonly partitionOf: ReadonlyMap<string, number>;
  /** The value of partition p's lease while this runtime holds it ('' when unfenced). */
  private readonly fence: (p: number) => string;

  constructor(redis: Redis, keys: Keys, recipe: string, partitions: number, fence: (p: number) => string = () => '') {
    this.redis = redis;
    this.keys = keys;
    this.recipe = recipe;
    this.streams = keys.backlogs(recipe, partitions);
    this.partitionOf = new Map(this.streams.map((s, p) => [s, p]));
    this.fence = fence;
  }

  get partitions(): number {
    return this.streams.length;
  }

  /** The streams of partitions `parts`, for a read. */
  streamsOf(parts: readonly number[]): string[] {
    return parts.map((p) => this.streams[p] as string);
  }

  /** Decodes an XREADGROUP reply over several partitions' streams. */
  decodeReply(reply: ReadReply): StreamEntry[] {
    const out: StreamEntry[] = [];
    for (const [stream, raw] of reply ?? []) {
      const p = this.partitionOf.get(stream) ?? 0;
      for (const r of raw) out.push(decodeEntry(r, p));
    }
    return out;
  }

  async ensureGroup(): Promise<void> {
    await Promise.all(this.streams.map(async (stream) => {
      try {
        await this.redis.xgroup('CREATE', stream, GROUP, '0', 'MKSTREAM');
      } catch (err) {
        if (!String(err).includes('BUSYGROUP')) throw err;
      }
    }));
  }

  /**
   * Up to `count` new entries per partition of `parts` for `consumer`; waits up to `blockMs`
   * when given (on a connection of its own: a blocked read holds it). Captures usually deliver
   * their entries themselves (see CaptureQueue's Delivery), this read takes the rest.
   */
  async read(consumer: string, count: number, parts: readonly number[], blockMs?: number, redis: Redis = this.redis): Promise<ReadResult> {
    if (parts.length === 0) return { entries: [] };
    const streams = this.streamsOf(parts);
    const block = blockMs === undefined ? [] : ['BLOCK', blockMs];
    const res = (await redis.call('XREADGROUP', 'GROUP', GROUP, consumer, 'COUNT', count, ...block, 'STREAMS', ...streams, ...streams.map(() => '>'))) as ReadReply;
    return { entries: this.decodeReply(res) };
  }

  /** Entries of partition `p` delivered to `consumer` earlier and never acknowledged (a crash or a stop). */
  async readPending(consumer: string, count: number, p: number, after = '0'): Promise<ReadResult> {
    const res = (await this.redis.xreadgroup('GROUP', GROUP, consumer, 'COUNT', count, 'STREAMS', this.streams[p] as string, after)) as ReadReply;
    return { entries: this.decodeReply(res) };
  }

  /**
   * One page of partition `p`'s entries left pending for at least `minIdleMs` (another
   * consumer's, or ours whose read a reconnect lost), taken over by `consumer`, scanning from
   * `start`. `next` is XAUTOCLAIM's cursor: '0-0' once the scan has been through the whole
   * pending list.
   */
  async claim(consumer: string, minIdleMs: number, count: number, p: number, start = '0-0'): Promise<ReadResult & { readonly next: string }> {
    const res = (await this.redis.xautoclaim(this.streams[p] as string, GROUP, consumer, minIdleMs, start, 'COUNT', count)) as [string, RawEntry[], string[]?];
    const decoded = (res[1] ?? []).map((r) => decodeEntry(r, p));
    // Entries deleted while pending come back by id only: acknowledge them like empty ones.
    return { entries: [...decoded, ...(res[2] ?? []).map((id) => ({ id, partition: p, records: [] }))], next: res[0] };
  }

  /**
   * Claims every idle entry of partition `p`, page after page, handing each page on. It follows
   * the cursor until XAUTOCLAIM returns '0-0': a page can come back empty (or short) while idle
   * entries lie further on, since one call looks at no more than 10 × `count` pending entries,
   * and starting over from '0-0' would scan the same busy head again and never reach them.
   */
  async claimAll(consumer: string, minIdleMs: number, count: number, p: number, onPage: (entries: StreamEntry[]) => Promise<void>, stopped: () => boolean): Promise<void> {
    for (let cursor = '0-0'; ;) {
      const page = await this.claim(consumer, minIdleMs, count, p, cursor);
      if (page.entries.length > 0) await onPage(page.entries);
      cursor = page.next;
      if (cursor === '0-0' || stopped()) return;
    }
  }

  /**
   * Acknowledges and removes entries, dead-letters the rejected ones and writes acks, in one
   * transaction. Per partition, finish.lua (the entries, the counters) and settle.lua (its dead
   * letters and `#` acks) check first that this runtime still holds the partition's lease: a
   * partition whose lease is gone is finished by nobody here (its next owner writes and finishes
   * its entries) and comes back in `lost`. Dead letters and acks of no partition are written
   * unfenced.
   */
  async finish(c: Completion): Promise<FinishResult> {
    const tx = this.redis.multi();
    const socket = (this.redis as unknown as { stream?: object }).stream;
    const cached = (socket !== undefined ? scriptsOn.get(socket) : undefined) ?? new Set<string>();
    const sent: string[] = [];
    const script = (lua: string, sha: string, ...args: Array<string | number>): void => {
      sent.push(sha);
      if (cached.has(sha)) tx.evalsha(sha, 3, ...args);
      else tx.eval(lua, 3, ...args);
    };
    const at = new Date().toISOString();
    const letter = (d: DeadLetter): string[] => ['key', d.key, 'op', opName(d.op), 'error', d.error, 'version', c.version, 'fields', JSON.stringify(fieldsObject(d.fields)), 'at', at, ...(d.entry ? ['entry', d.entry] : [])];
    // finish.lua counts an entry only if this call acknowledges it: a finish whose reply was
    // lost ran already, and its retry must not count (or take off `queued`) twice.
    const parts = [...new Set([...c.entries, ...c.dead, ...c.acks].flatMap((e) => (e.partition === undefined ? [] : [e.partition])))].sort((a, b) => a - b);
    const checked: Array<{ p: number; at: number }> = [];
    let n = 0;
    for (const p of parts) {
      const lease = this.keys.lease(this.recipe, p);
      const mine = c.entries.filter((e) => e.partition === p);
      if (mine.length) {
        script(FINISH, FINISH_SHA, this.streams[p] as string, this.keys.counters(this.recipe), lease, GROUP, this.fence(p), ...mine.flatMap((e) => [e.id, e.records, e.synced, e.deadLetters]));
        checked.push({ p, at: n++ });
      }
      const dead = c.dead.filter((d) => d.partition === p);
      const acks = c.acks.filter((a) => a.partition === p);
      if (dead.length || acks.length) {
        script(SETTLE, SETTLE_SHA, lease, this.keys.deadLetters(this.recipe), this.keys.deadLetterIndex(this.recipe), this.fence(p), dead.length,
          ...dead.flatMap((d) => { const f = letter(d); return [d.key, f.length / 2, ...f]; }),
          ...acks.flatMap((a) => [`{${a.key}}${a.ack}`, a.error === undefined ? 'done' : 'failed', a.error ?? '']));
        checked.push({ p, at: n++ });
      }
    }
    for (const d of c.dead) if (d.partition === undefined) addDeadLetter(tx, this.keys, this.recipe, d.key, letter(d));
    for (const a of c.acks) {
      if (a.partition !== undefined) continue;
      const stream = `{${a.key}}${a.ack}`;
      if (a.error === undefined) tx.xadd(stream, '*', 'status', 'done');
      else tx.xadd(stream, '*', 'status', 'failed', 'error', a.error);
      tx.expire(stream, ACK_TTL_S);
    }
    // A command refused inside the transaction throws: the caller retries, nothing passes for done.
    let res: Awaited<ReturnType<typeof execChecked>>;
    try {
      res = await execChecked(tx);
    } catch (err) {
      if (socket !== undefined && /NOSCRIPT/.test(String(err))) scriptsOn.delete(socket);
      throw err;
    }
    if (socket !== undefined && sent.some((sha) => !cached.has(sha))) scriptsOn.set(socket, new Set([...cached, ...sent]));
    return { lost: [...new Set(checked.filter((x) => Number(res?.[x.at]?.[1]) === -1).map((x) => x.p))] };
  }

  /** Dead-letters a record that never reached the backlog (a key name that is not UTF-8). */
  async deadLetter(key: string, op: string, error: string, version: string): Promise<void> {
    const tx = this.redis.multi();
    addDeadLetter(tx, this.keys, this.recipe, key, ['key', key, 'op', op, 'error', error, 'version', version, 'fields', '{}', 'at', new Date().toISOString()]);
    await execChecked(tx.hincrby(this.keys.counters(this.recipe), 'deadLetters', 1));
  }

  /** Entries waiting in every partition: not yet delivered plus delivered and unacknowledged. */
  async length(): Promise<number> {
    return backlogLength(this.redis, this.keys, this.recipe, this.partitions);
  }
}
