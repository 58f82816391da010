import type { Logger } from 'pino';
import type { KeyMatch } from '../../recipes/options.ts';
import type { DeadLetter } from '../backlog/backlog.ts';
import { DEFAULT_DB_TIMEOUTS, NoAnswerError } from '../connectors/timeouts.ts';
import type { ConnectorDriver, ConnectorSession, DbTimeouts, WriteBatch } from '../connectors/types.ts';
import { CommitRefused } from '../connectors/types.ts';
import { NO_METRICS, type RecipeMetrics } from '../metrics/metrics.ts';
import { Backoff, sleep } from './backoff.ts';
import type { RowWrite } from './plan.ts';
import { inexactKeyMessage } from '../connectors/check.ts';
import { fitToLimit, tooBigLetter } from './fit.ts';
import { columnsOf, convertRows, schemaProblem, SchemaMismatch } from './prepare.ts';

/** The writer was asked to stop while the database could not be reached; the batch stays pending. */
export class WriterStopped extends Error {
  override readonly name = 'WriterStopped';
}

/** A batch's partition lease ran out before it reached the database: it is not written here. */
export class LeaseExpired extends Error {
  override readonly name = 'LeaseExpired';
}

/**
 * How often a session re-reads the table's columns (by reconnecting), so an ALTER TABLE is seen
 * even when nothing is refused.
 */
const DESCRIBE_EVERY_MS = 60_000;

/** Reports a problem that is being retried (shown by `wb-cli status`), or its end (undefined). */
export type ProblemReporter = (message: string | undefined) => void;

/**
 * Writes batches through a driver: connects lazily (credentials read at each attempt), keeps the
 * session until it breaks, retries connection and schema failures with backoff until stopped,
 * and isolates refused records by bisection so that only they are dead-lettered.
 */
export class TableWriter {
  private readonly driver: ConnectorDriver;
  /** Mapped columns and the hash field of each, in the same order (for messages). */
  private readonly columns: readonly string[];
  private readonly fields: readonly string[];
  private readonly log: Logger;
  private readonly report: ProblemReporter;
  private readonly signal: AbortSignal;
  private session: ConnectorSession | undefined;
  private failing = false;
  private readonly backoff: Backoff;
  private readonly metrics: RecipeMetrics;
  private readonly keyMatch: KeyMatch;
  private readonly warn: ProblemReporter;
  /** Passed to every connect: how long the database may stay silent before the session is given up. */
  private readonly timeouts: DbTimeouts;
  /** When the session's table description was read (monotonic ms), and whether to re-read it. */
  private describedAt = 0;
  private stale = false;
  /** How long the current batch's write may still take (see write). */
  private budget: () => number = () => Infinity;

  constructor(
    driver: ConnectorDriver,
    columns: readonly string[],
    fields: readonly string[],
    log: Logger,
    report: ProblemReporter,
    signal: AbortSignal,
    retry: { minMs: number; maxMs: number },
    /**
     * The recipe's keyMatch, where a standing warning about the table goes (status), and the
     * database timeouts (`wb-runtime --db-*-timeout-ms`).
     */
    more: { readonly keyMatch?: KeyMatch; readonly warn?: ProblemReporter; readonly timeouts?: DbTimeouts; readonly metrics?: RecipeMetrics } = {},
  ) {
    this.keyMatch = more.keyMatch ?? 'exact';
    this.metrics = more.metrics ?? NO_METRICS;
    this.warn = more.warn ?? (() => undefined);
    this.timeouts = more.timeouts ?? DEFAULT_DB_TIMEOUTS;
    this.driver = driver;
    this.columns = columns;
    this.fields = fields;
    this.log = log;
    this.report = report;
    this.signal = signal;
    this.backoff = new Backoff(retry.minMs, retry.maxMs);
  }

  /**
   * Re-read the table's columns before the next write (`dlq --replay` and `verify --fix` ask
   * for it: the table may have been altered to take what was refused).
   */
  refresh(): void {
    this.stale = true;
  }

  /**
   * Writes the rows; returns the ones the database refused. Throws WriterStopped on stop, and
   * LeaseExpired when `budget` (asked right before each attempt reaches the database: how long
   * the write may take before the rows' partitions could belong to another runtime) is spent.
   * An attempt is given at most that long (and the query timeout), commit included.
   */
  async write(table: Omit<WriteBatch, 'rows'>, rows: readonly RowWrite[], budget: () => number = () => Infinity): Promise<DeadLetter[]> {
    this.budget = budget;
    const refused = await this.attempt(table, rows);
    // The batch is settled, written or refused: whatever was being retried for it is over. Said
    // here, not only after a clean write, so that a batch whose last row was refused (bisection,
    // conversion, size) clears status too, even when this partition writes nothing afterwards.
    this.recovered();
    return refused;
  }

  private recovered(): void {
    if (!this.failing) return;
    this.failing = false;
    this.report(undefined);
    this.log.info({ target: this.driver.describe() }, 'writing again');
  }

  private async attempt(table: Omit<WriteBatch, 'rows'>, rows: readonly RowWrite[]): Promise<DeadLetter[]> {
    if (rows.length === 0) return [];
    // A refusal for a shape reason is checked once against a fresh description of the table.
    let recheck = true;
    for (;;) {
      if (this.signal.aborted) throw new WriterStopped('stopped before the batch could be written');
      if (this.session && (this.stale || performance.now() - this.describedAt > DESCRIBE_EVERY_MS)) await this.dropSession();
      let stage = 'connect';
      // Parts of the batch written by further attempts, outside this try: a failure of theirs is
      // theirs to report (a stop inside one must not read as this batch's write failure).
      let rest: { readonly done: DeadLetter[]; readonly chunks: readonly (readonly RowWrite[])[] } | undefined;
      try {
        const session = await this.ensureSession(table);
        stage = 'write';
        const converted = convertRows(rows, columnsOf(session.table, table), this.fields, session.table.columns.get(table.pkColumn.toLowerCase()));
        if (converted.refused.length) {
          if (recheck && this.describedLongAgo()) {
            recheck = false;
            await this.dropSession();
            continue;
          }
          rest = { done: converted.refused, chunks: [converted.rows] };
        } else {
          // A statement larger than the server takes is not sent: MySQL closes the connection on
          // it (ECONNRESET), which would be retried forever as a connection failure.
          const limit = session.statementLimit;
          const fitted = limit && fitToLimit(converted.rows, table, limit);
          if (fitted && limit) {
            const done = fitted.tooBig.map(({ row, bytes }) => tooBigLetter(row, bytes, limit));
            if (done.length) this.log.warn({ rows: done.length, [limit.setting]: limit.maxBytes }, 'rows larger than one statement may be are dead-lettered');
            rest = { done, chunks: fitted.chunks };
          } else {
            const left = this.budget();
            if (left <= 0) throw new LeaseExpired('the lease deadline of a partition in this batch has passed');
            const started = performance.now();
            // Leased (a finite budget): one transaction, committed only if the leases still hold.
            const fenced = Number.isFinite(left) ? { mayCommit: () => this.budget() > 0 } : {};
            await session.write({ ...table, rows: converted.rows, ...fenced, ...(left < this.timeouts.queryTimeoutMs ? { timeoutMs: Math.floor(left) } : {}) });
            this.metrics.batch(converted.rows.length, (performance.now() - started) / 1000);
            this.backoff.reset();
            return [];
          }
        }
      } catch (err) {
        if (err instanceof LeaseExpired) throw err;
        if (err instanceof CommitRefused) throw new LeaseExpired(err.message);
        // No answer in time is a lost connection whatever the driver's codes say: the driver has
        // destroyed the session already, the batch is retried on a new one.
        const kind = err instanceof SchemaMismatch ? 'schema' : stage === 'connect' || err instanceof NoAnswerError ? 'connection' : this.driver.classify(err);
        if (kind === 'record' && recheck && this.describedLongAgo()) {
          recheck = false;
          await this.dropSession();
          continue;
        }
        if (kind === 'record') return this.isolate(table, rows, err);
        await this.dropSession(); // a schema problem too: the next attempt re-reads the table
        const what = err instanceof SchemaMismatch ? 'table check' : stage === 'connect' ? 'connect' : 'write';
        const message = `${this.driver.describe()}: ${what} failed: ${errorText(err)}`;
        const wait = this.backoff.next();
        this.metrics.retried(err instanceof NoAnswerError ? 'timeout' : kind);
        this.failing = true;
        this.report(message);
        this.log.error({ kind, retryInMs: wait, rows: rows.length }, message);
        await sleep(wait, this.signal);
      }
      if (rest) {
        const out = [...rest.done];
        for (const chunk of rest.chunks) out.push(...(await this.attempt(table, chunk)));
        return out;
      }
    }
  }

  async close(): Promise<void> {
    await this.dropSession();
  }

  private async isolate(table: Omit<WriteBatch, 'rows'>, rows: readonly RowWrite[], err: unknown): Promise<DeadLetter[]> {
    if (rows.length === 1) {
      const row = rows[0] as RowWrite;
      return [{ key: row.key, op: row.op, error: this.describeRefusal(row.key, err), acks: row.acks, ...(row.op === 'upsert' ? { fields: row.fields } : {}) }];
    }
    const mid = Math.ceil(rows.length / 2);
    const left = await this.attempt(table, rows.slice(0, mid));
    const right = await this.attempt(table, rows.slice(mid));
    return [...left, ...right];
  }

  /** The database's error, prefixed with the key and, when the error names a column, its field and type. */
  private describeRefusal(key: string, err: unknown): string {
    const column = this.driver.columnOf?.(err);
    const info = column === undefined ? undefined : this.session?.table.columns.get(column.toLowerCase());
    const i = info === undefined ? -1 : this.columns.findIndex((c) => c.toLowerCase() === info.name.toLowerCase());
    const where = info && i >= 0 ? ` field '${this.fields[i]}' -> column ${info.name} (${info.type}):` : '';
    return `key '${key}':${where} ${errorText(err)}`;
  }

  private async ensureSession(shape: Omit<WriteBatch, 'rows'>): Promise<ConnectorSession> {
    if (this.session && !this.session.broken) return this.session;
    await this.dropSession();
    const session = await this.driver.connect(shape.table, this.timeouts);
    const problem = schemaProblem(session.table, shape);
    if (problem !== undefined) {
      // Re-read on the next attempt: the table may be created or altered meanwhile.
      await session.close().catch(() => undefined);
      throw new SchemaMismatch(problem);
    }
    this.session = session;
    this.describedAt = performance.now();
    this.stale = false;
    this.log.info({ target: this.driver.describe() }, 'connected');
    // A recipe registered before its key column was checked keeps syncing; status says why not to.
    const inexact = session.table.columns.get(shape.pkColumn.toLowerCase())?.inexact;
    if (inexact !== undefined && this.keyMatch === 'exact') {
      const message = inexactKeyMessage(shape.table, shape.pkColumn, inexact);
      this.log.warn({ target: this.driver.describe() }, message);
      this.warn(message);
    } else {
      this.warn(undefined);
    }
    return session;
  }

  /** True when the table was described more than a second ago: a refusal may be from an old shape. */
  private describedLongAgo(): boolean {
    return performance.now() - this.describedAt > 1000;
  }

  private async dropSession(): Promise<void> {
    const s = this.session;
    this.session = undefined;
    await s?.close().catch(() => undefined);
  }
}

/** An error's message, without stack; drivers' messages carry no credentials. */
export function errorText(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}
