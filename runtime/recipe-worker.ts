import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Registration } from '../recipes/options.ts';
import { Backlog, type DeadLetter, type ReadResult } from './backlog/backlog.ts';
import type { BacklogEntry } from './backlog/entry.ts';
import { CaptureQueue, type ChangeKind } from './capture/capture-queue.ts';
import { reconcilePrefix } from './capture/reconcile.ts';
import { driverFor } from './connectors/drivers.ts';
import type { Keys } from './keys.ts';
import { sleep } from './writer/backoff.ts';
import { planBatch } from './writer/plan.ts';
import { errorText, TableWriter, WriterStopped } from './writer/table-writer.ts';

/** Tunables shared by every worker of a runtime. */
export interface WorkerOptions {
  readonly consumer: string;
  readonly retry: { readonly minMs: number; readonly maxMs: number };
  /** Entries another consumer left pending this long are taken over. */
  readonly claimIdleMs: number;
  /** Opens a dedicated connection for blocking reads. */
  readonly openReader: () => Redis;
}

/** The life of a worker: one explicit state at a time. */
export type WorkerState = 'created' | 'running' | 'draining' | 'stopped';

/**
 * Syncs one registration: snapshots its changes into the backlog (capture) and writes the backlog
 * to its table in batches (writer), acknowledging entries only after the database committed.
 */
export class RecipeWorker {
  state: WorkerState = 'created';
  readonly capture: CaptureQueue;
  private readonly backlog: Backlog;
  private readonly abort = new AbortController();
  private readonly writer: TableWriter;
  private reader: Redis | undefined;
  private loop: Promise<void> | undefined;

  constructor(
    readonly reg: Registration,
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly log: Logger,
    private readonly opts: WorkerOptions,
  ) {
    this.backlog = new Backlog(redis, keys, reg.name);
    this.capture = new CaptureQueue(redis, this.backlog.stream, reg.onExpire === 'delete', log);
    this.writer = new TableWriter(driverFor(reg.connector), log, (m) => void this.reportProblem(m), this.abort.signal, opts.retry);
  }

  onChange(key: string, kind: ChangeKind): void {
    this.capture.push(key, kind);
  }

  /** Re-snapshots every key under the prefix (start-up, reconnect, new prefix). */
  async reconcile(reason: string): Promise<void> {
    const started = Date.now();
    const n = await reconcilePrefix(this.redis, this.reg.keysPrefix, this.backlog.stream, this.reg.onExpire === 'delete', () => this.abort.signal.aborted);
    this.log.info({ reason, keys: n, ms: Date.now() - started }, 'reconciled');
  }

  async start(): Promise<void> {
    await this.backlog.ensureGroup();
    this.reader = this.opts.openReader();
    this.state = 'running';
    await this.redis.hset(this.keys.status(this.reg.name), { version: this.reg.version, state: 'running', runtime: this.opts.consumer, error: '' });
    this.loop = this.run(this.reader);
  }

  /** Stops after the in-flight batch; what is not written stays pending for the next version. */
  async stop(): Promise<void> {
    if (this.state === 'stopped' || this.state === 'draining') return this.loop;
    this.state = 'draining';
    await this.capture.close();
    this.abort.abort();
    this.reader?.disconnect();
    await this.loop;
    await this.writer.close();
    this.state = 'stopped';
  }

  private async run(reader: Redis): Promise<void> {
    const { consumer } = this.opts;
    let lastClaim = 0;
    // Our own pending entries first (left by a crash or by the previous version), oldest first.
    for (let after = '0'; !this.abort.signal.aborted; ) {
      const res = await this.guard(() => this.backlog.readPending(consumer, this.reg.batchSize, after));
      if (res === undefined) continue;
      if (res.ids.length === 0) break;
      after = res.ids[res.ids.length - 1] as string;
      await this.process(res, true);
    }
    while (!this.abort.signal.aborted) {
      if (Date.now() - lastClaim > this.opts.claimIdleMs / 2) {
        lastClaim = Date.now();
        const claimed = await this.guard(() => this.backlog.claim(consumer, this.opts.claimIdleMs, this.reg.batchSize));
        if (claimed && claimed.ids.length) await this.process(claimed, true);
      }
      const res = await this.guard(() => this.backlog.read(reader, consumer, this.reg.batchSize, 1000));
      if (res && res.ids.length) await this.process(res, false);
    }
  }

  /** Runs a Redis step; on failure (other than a stop) logs, waits and yields undefined. */
  private async guard<T>(step: () => Promise<T>): Promise<T | undefined> {
    try {
      return await step();
    } catch (err) {
      if (this.abort.signal.aborted) return undefined;
      this.log.warn({ err: errorText(err) }, 'backlog read failed; retrying');
      await sleep(1000, this.abort.signal);
      // A Redis restarted without persistence has lost the group (and the stream): recreate it.
      if (String(err).includes('NOGROUP')) await this.backlog.ensureGroup().catch(() => undefined);
      return undefined;
    }
  }

  private async process(res: ReadResult, redelivered: boolean): Promise<void> {
    const entries = redelivered ? await this.refresh(res.entries) : res.entries;
    const plan = planBatch(entries, this.reg);
    let refused: DeadLetter[];
    try {
      refused = await this.writer.write({ table: this.reg.connector.table, pkColumn: this.reg.connector.pkColumn, columns: plan.columns }, plan.rows);
    } catch (err) {
      if (err instanceof WriterStopped) return; // stays pending; the next start picks it up
      throw err;
    }
    const dead = [...plan.rejects, ...refused];
    for (const d of dead) this.log.warn({ key: d.key, op: d.op, error: d.error }, 'dead-lettered');
    for (;;) {
      try {
        await this.backlog.finish(res.ids, plan.rows.length - refused.length, dead, this.reg.version);
        return;
      } catch (err) {
        // The rows are committed; acking again later is harmless, losing the dead letters is not.
        this.log.warn({ err: errorText(err) }, 'acknowledging failed; retrying');
        await sleep(1000);
      }
    }
  }

  /**
   * Entries delivered before (a crash, a stop, a claim) may be older than rows written since:
   * re-read their keys so that a late replay never writes stale values.
   */
  private async refresh(entries: readonly BacklogEntry[]): Promise<BacklogEntry[]> {
    const keys = [...new Set(entries.map((e) => e.key))];
    if (keys.length === 0) return [];
    const p = this.redis.pipeline();
    for (const k of keys) p.type(k).hgetall(k);
    const res = (await p.exec()) ?? [];
    const deletes = new Set(entries.filter((e) => e.op === 'd').map((e) => e.key));
    const out: BacklogEntry[] = [];
    keys.forEach((key, i) => {
      const type = res[2 * i]?.[1] as string;
      const hash = res[2 * i + 1]?.[1] as Record<string, string> | undefined;
      const id = entries[0]?.id ?? '0-0';
      if (type === 'hash' && hash) out.push({ id, key, op: 'u', fields: new Map(Object.entries(hash)) });
      else if (type === 'none') {
        if (deletes.has(key)) out.push({ id, key, op: 'd' });
      } else out.push({ id, key, op: 't', type });
    });
    return out;
  }

  private async reportProblem(message: string | undefined): Promise<void> {
    const fields = message === undefined ? { error: '' } : { error: message, lastError: message, lastErrorAt: new Date().toISOString() };
    await this.redis.hset(this.keys.status(this.reg.name), fields).catch(() => undefined);
  }
}
