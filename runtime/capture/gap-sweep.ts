import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Registration } from '../../recipes/options.ts';
import type { ConnectorSession, TableShape } from '../connectors/types.ts';
import type { Keys } from '../keys.ts';
import { deleteGoneRowsCommand, goneRowPages } from '../verify/gone-rows.ts';
import { Backoff, sleep } from '../writer/backoff.ts';
import { errorText } from '../writer/table-writer.ts';
import { snapshotKeys, type ChangeKind } from './capture-queue.ts';
import { lowWater } from './overflow.ts';
import { capturePattern, captureTarget, pacedTarget } from './targets.ts';

/** Ids per page: one scanIds query and one pipelined EXISTS each. */
const PAGE = 500;
/**
 * Reconcile reasons that mean events were lost while the worker ran (not before it started): a
 * sweep that began before the reconcile does not cover them.
 */
const LIVE_GAPS = new Set(['subscription restored', 'capture overflow', 'backlog overflow', 'keyspace notifications restored', 'capture taken over']);

/**
 * What a recipe mirrors: its key pattern and its connector's database and table. A reconcile
 * records it in status when it finishes; a later reconcile over the same scope follows a gap.
 */
export function scopeOf(reg: Registration): string {
  return `${capturePattern(reg)} -> ${reg.connector.describe()}`;
}

export interface GapSweepOptions {
  readonly reg: Registration;
  readonly redis: Redis;
  readonly keys: Keys;
  readonly log: Logger;
  /** The worker's stop: the sweep ends between pages and leaves `sweeping` set for the next start. */
  readonly signal: AbortSignal;
  readonly retry: { readonly minMs: number; readonly maxMs: number };
  /** A session on the recipe's table; throws while the database is away. */
  readonly connect: () => Promise<ConnectorSession>;
  /** Told after candidates went into the backlog, so that the writer reads them at once. */
  readonly queued: () => void;
  /** Waits until the backlog is below half its bound again (candidates never overflow it). */
  readonly room: () => Promise<void>;
  /**
   * Other recipes writing the same table (upload --force accepts it): their rows are not this
   * recipe's keys gone, so the sweep then only counts.
   */
  readonly sharedWith?: () => readonly string[];
  /** On a cluster: where candidates found on another node than the shard's go (see RecipeWorker). */
  readonly elsewhere?: (keys: readonly string[], kinds: readonly ChangeKind[]) => void;
}

interface Progress {
  after: string | undefined;
  rows: number;
  candidates: number;
  kept: number;
  /** The sentinel vanished: Redis lost its keys, and onFlush, not this sweep, decides. */
  flushed: boolean;
}

/**
 * A reconcile sees only keys that exist, so a key deleted in a gap (no runtime, a cut
 * subscription, a capture or backlog overflow) leaves its row. After a gap this sweeps the table, in the
 * background and one sweep at a time, for rows whose key is gone. It deletes nothing itself:
 * each candidate goes through the capture script as an expiry, which reads the key again
 * atomically. A key that is back becomes an upsert; one still gone becomes a delete with
 * `onExpire: 'delete'`, and nothing with `keep`, since it may have expired and expired keys keep
 * their rows. Those are counted in status (`goneRows`, `goneRowsAt`) and the log names the
 * command that deletes them. Rows whose keys a flush took are not the sweep's: while
 * `flushKeptAt` is set (onFlush: 'keep' kept them) it only counts. Write-through recipes are
 * left alone: deleting a target key never deletes its row there.
 */
export class GapSweep {
  readonly scope: string;
  private readonly o: GapSweepOptions;
  private running: Promise<void> | undefined;
  /** When the newest sweep began (performance.now()): a gap that ended before it is covered. */
  private began: number | undefined;
  /** A gap that ended while a sweep ran: the pages it already passed may hide its deletes. */
  private again: string | undefined;

  constructor(o: GapSweepOptions) {
    this.o = o;
    this.scope = scopeOf(o.reg);
  }

  /**
   * After a reconcile that began at `since` (performance.now()): sweeps when the previous one
   * mirrored the same scope. A first reconcile over a scope is no gap, since rows Redis never held
   * are not deletes: a new recipe, a new prefix or table, and Redis that lost its keys (and with
   * them this status) on a restart without persistence, whose rows onFlush decides about.
   */
  afterReconcile(reason: string, previousScope: string | null, since: number): void {
    if (previousScope !== this.scope) return;
    // A gap other than the worker's own ended before it started: capture was subscribed by then.
    this.request(reason, LIVE_GAPS.has(reason) ? since : 0);
  }

  /** Sweeps for a gap that ended at `gapEnd` (performance.now()), unless a sweep since covers it. */
  request(reason: string, gapEnd = 0): void {
    if (this.o.reg.kind !== 'writeBehind' || this.o.signal.aborted) return;
    if (this.began !== undefined && this.began >= gapEnd) return;
    if (this.running) {
      this.again = reason;
      return;
    }
    this.running = this.loop(reason)
      .catch((err) => this.o.log.error({ err: errorText(err) }, 'sweep for rows whose key is gone failed'))
      .finally(() => (this.running = undefined));
  }

  /** Resolves once no sweep runs; after a stop, by the end of the page in hand. */
  async settled(): Promise<void> {
    await this.running;
  }

  private async loop(first: string): Promise<void> {
    for (let reason: string | undefined = first; reason !== undefined && !this.o.signal.aborted; ) {
      this.again = undefined;
      this.began = performance.now();
      await this.sweep(reason);
      reason = this.again;
    }
  }

  /**
   * One sweep of the whole table. A database that is away is waited for with backoff, and the
   * sweep goes on from the page it reached: the gap's deletes are found once it is back, with no
   * other gap needed to trigger it, and a runtime started together with its database is covered.
   */
  private async sweep(reason: string): Promise<void> {
    const { reg, redis, keys, log, signal } = this.o;
    const status = keys.status(reg.name);
    const started = Date.now();
    await redis.hset(status, 'sweeping', reason);
    const flushKeptAt = await redis.hget(status, 'flushKeptAt');
    const shared = this.o.sharedWith?.() ?? [];
    const deleting = reg.onExpire === 'delete' && !flushKeptAt && shared.length === 0;
    log.info({ reason, deleting }, 'sweeping the table for rows whose key is gone');
    const p: Progress = { after: undefined, rows: 0, candidates: 0, kept: 0, flushed: false };
    const backoff = new Backoff(this.o.retry.minMs, this.o.retry.maxMs);
    let lastError = '';
    while (!signal.aborted) {
      try {
        await this.pass(p, deleting);
        break;
      } catch (err) {
        if (signal.aborted) break;
        const ms = backoff.next();
        const text = errorText(err);
        // The writer reports a database that is away in status; here a new error is enough.
        log[text === lastError ? 'debug' : 'warn']({ reason, err: text, after: p.after, retryInMs: ms }, 'sweep for rows whose key is gone failed; it goes on from there');
        lastError = text;
        await sleep(ms, signal);
      }
    }
    if (signal.aborted) return; // `sweeping` stays set: the next start of this scope sweeps again
    if (p.flushed) {
      await redis.hset(status, 'sweeping', '');
      log.warn({ reason }, 'Redis lost its keys during the sweep: it stops, and onFlush decides about the rows');
      return;
    }
    await redis.hset(status, 'sweeping', '', 'goneRows', p.kept, 'goneRowsAt', new Date().toISOString());
    const deletes = deleting ? p.candidates : 0;
    log.info({ reason, rows: p.rows, gone: p.candidates, deletes, kept: p.kept, ms: Date.now() - started }, 'swept');
    if (p.kept > 0) {
      const why = shared.length
        ? `the table is written by ${shared.map((n) => `'${n}'`).join(', ')} too, whose rows a sweep cannot tell from this recipe's deleted keys`
        : flushKeptAt
          ? `Redis lost its keys at ${flushKeptAt} and onFlush: 'keep' keeps their rows, which a sweep cannot tell from deleted keys`
          : `onExpire: '${reg.onExpire}'; their keys may have expired`;
      log.warn({ goneRows: p.kept }, `${p.kept} rows whose key is gone are kept (${why}); \`${deleteGoneRowsCommand(reg.name, keys.ns)}\` deletes them`);
    }
  }

  /** Pages on from `p.after`; `p` moves only once a page's candidates are in the backlog. */
  private async pass(p: Progress, deleting: boolean): Promise<void> {
    const { reg, redis, keys, signal } = this.o;
    const table: TableShape = { table: reg.connector.table, pkColumn: reg.connector.pkColumn, columns: Object.values(reg.mappings) };
    // The script's expiry flag: '1' deletes the rows of keys still gone, '0' leaves them.
    const base = { ...captureTarget(reg, keys), args: ['', deleting ? '1' : '0', String(reg.partitions)], ...(this.o.elsewhere ? { elsewhere: this.o.elsewhere } : {}) };
    const target = pacedTarget(base, lowWater(reg.maxBacklog), this.o.room);
    const session = await this.o.connect();
    try {
      for await (const page of goneRowPages(redis, session, table, reg.keysPrefix, PAGE, p.after)) {
        if (page.gone.length) {
          // Checked after the page's EXISTS: keys a flush took are never taken for deletes.
          if ((await redis.exists(keys.sentinel())) === 0) {
            p.flushed = true;
            return;
          }
          const candidates = page.gone.map((id) => `${reg.keysPrefix}:${id}`);
          // 'x': an expiry, so the recipe's onExpire decides. '0' events: an echo of the
          // script's own recent DEL (a `#` op) is respected, not consumed.
          const added = await snapshotKeys(redis, target, candidates, candidates.map(() => 'x0'));
          if (added > 0) this.o.queued();
          p.candidates += candidates.length;
          // Not deleting, a key still gone adds nothing: what was added is keys that came back.
          if (!deleting) p.kept += candidates.length - added;
        }
        p.rows += page.ids.length;
        p.after = page.after;
        if (signal.aborted) return;
      }
    } finally {
      await session.close().catch(() => undefined);
    }
  }
}
