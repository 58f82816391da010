import { readFileSync } from 'node:fs';
import type { ChainableCommander, Redis } from 'ioredis';
import { GROUP, type Keys } from '../keys.ts';
import { execChecked } from '../redis/exec.ts';
import { fieldsObject, type Fields } from '../writer/plan.ts';
import { decodeEntry, type RawEntry, type StreamEntry } from './entry.ts';

const DEAD_LETTER = readFileSync(new URL('./dead-letter.lua', import.meta.url), 'utf8');
const FINISH = readFileSync(new URL('./finish.lua', import.meta.url), 'utf8');

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
}

/** An acknowledgement for RGSync's `#` protocol, written to stream `{key}ack`. */
export interface AckOutcome {
  readonly key: string;
  readonly ack: string;
  readonly error?: string;
}

/** One finished stream entry and what its records came to. */
export interface FinishedEntry {
  readonly id: string;
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

/** Acks expire like RGSync's: an hour after the last one. */
const ACK_TTL_S = 3600;

/** What one read returned: stream entries (an entry deleted meanwhile has no records). */
export interface ReadResult {
  readonly entries: StreamEntry[];
}

/** A recipe's backlog stream, read through one consumer group. */
export class Backlog {
  private readonly redis: Redis;
  private readonly keys: Keys;
  private readonly recipe: string;
  readonly stream: string;

  constructor(
    redis: Redis,
    keys: Keys,
    recipe: string,
  ) {
    this.redis = redis;
    this.keys = keys;
    this.recipe = recipe;
    this.stream = keys.backlog(recipe);
  }

  async ensureGroup(): Promise<void> {
    try {
      await this.redis.xgroup('CREATE', this.stream, GROUP, '0', 'MKSTREAM');
    } catch (err) {
      if (!String(err).includes('BUSYGROUP')) throw err;
    }
  }

  /**
   * Up to `count` new entries for `consumer`, without waiting: captures usually deliver their
   * entries themselves (see CaptureQueue's Delivery), this read takes the rest.
   */
  async read(consumer: string, count: number): Promise<ReadResult> {
    const res = (await this.redis.xreadgroup('GROUP', GROUP, consumer, 'COUNT', count, 'STREAMS', this.stream, '>')) as
      | Array<[string, RawEntry[]]>
      | null;
    return decodeAll(res?.[0]?.[1] ?? []);
  }

  /** Entries delivered to `consumer` earlier and never acknowledged (a crash or a stop). */
  async readPending(consumer: string, count: number, after = '0'): Promise<ReadResult> {
    const res = (await this.redis.xreadgroup('GROUP', GROUP, consumer, 'COUNT', count, 'STREAMS', this.stream, after)) as
      | Array<[string, RawEntry[]]>
      | null;
    return decodeAll(res?.[0]?.[1] ?? []);
  }

  /**
   * One page of the entries left pending for at least `minIdleMs` (another consumer's, or ours
   * whose read a reconnect lost), taken over by `consumer`, scanning from `start`. `next` is
   * XAUTOCLAIM's cursor: '0-0' once the scan has been through the whole pending list.
   */
  async claim(consumer: string, minIdleMs: number, count: number, start = '0-0'): Promise<ReadResult & { readonly next: string }> {
    const res = (await this.redis.xautoclaim(this.stream, GROUP, consumer, minIdleMs, start, 'COUNT', count)) as [string, RawEntry[], string[]?];
    const decoded = decodeAll(res[1] ?? []);
    // Entries deleted while pending come back by id only: acknowledge them like empty ones.
    return { entries: [...decoded.entries, ...(res[2] ?? []).map((id) => ({ id, records: [] }))], next: res[0] };
  }

  /**
   * Claims every idle entry, page after page, handing each page on. It follows the cursor until
   * XAUTOCLAIM returns '0-0': a page can come back empty (or short) while idle entries lie
   * further on, since one call looks at no more than 10 × `count` pending entries, and starting
   * over from '0-0' would scan the same busy head again and never reach them.
   */
  async claimAll(consumer: string, minIdleMs: number, count: number, onPage: (entries: StreamEntry[]) => Promise<void>, stopped: () => boolean): Promise<void> {
    for (let cursor = '0-0'; ;) {
      const page = await this.claim(consumer, minIdleMs, count, cursor);
      if (page.entries.length > 0) await onPage(page.entries);
      cursor = page.next;
      if (cursor === '0-0' || stopped()) return;
    }
  }

  /** Acknowledges and removes entries, dead-letters the rejected ones and writes acks, in one transaction. */
  async finish(c: Completion): Promise<void> {
    const tx = this.redis.multi();
    const at = new Date().toISOString();
    for (const d of c.dead) {
      addDeadLetter(tx, this.keys, this.recipe, d.key, ['key', d.key, 'op', d.op, 'error', d.error, 'version', c.version, 'fields', JSON.stringify(fieldsObject(d.fields)), 'at', at]);
    }
    for (const a of c.acks) {
      const stream = `{${a.key}}${a.ack}`;
      if (a.error === undefined) tx.xadd(stream, '*', 'status', 'done');
      else tx.xadd(stream, '*', 'status', 'failed', 'error', a.error);
      tx.expire(stream, ACK_TTL_S);
    }
    // finish.lua counts an entry only if this call acknowledges it: a finish whose reply was
    // lost ran already, and its retry must not count (or take off `queued`) twice.
    if (c.entries.length) {
      tx.eval(FINISH, 2, this.stream, this.keys.status(this.recipe), GROUP, ...c.entries.flatMap((e) => [e.id, e.records, e.synced, e.deadLetters]));
    }
    // A command refused inside the transaction throws: the caller retries, nothing passes for done.
    await execChecked(tx);
  }

  /** Dead-letters a record that never reached the backlog (a key name that is not UTF-8). */
  async deadLetter(key: string, op: string, error: string, version: string): Promise<void> {
    const tx = this.redis.multi();
    addDeadLetter(tx, this.keys, this.recipe, key, ['key', key, 'op', op, 'error', error, 'version', version, 'fields', '{}', 'at', new Date().toISOString()]);
    await execChecked(tx.hincrby(this.keys.status(this.recipe), 'deadLetters', 1));
  }

  /** Entries waiting: not yet delivered plus delivered and unacknowledged. */
  async length(): Promise<number> {
    return this.redis.xlen(this.stream);
  }
}

export function decodeAll(raw: RawEntry[]): ReadResult {
  return { entries: raw.map(decodeEntry) };
}
