import type { Logger } from 'pino';
import type { DeadLetter } from '../backlog/backlog.ts';
import type { ConnectorDriver, ConnectorSession, WriteBatch } from '../connectors/types.ts';
import { Backoff, sleep } from './backoff.ts';
import type { RowWrite } from './plan.ts';
import { columnsOf, convertRows, schemaProblem, SchemaMismatch } from './prepare.ts';

/** The writer was asked to stop while the database could not be reached; the batch stays pending. */
export class WriterStopped extends Error {
  override readonly name = 'WriterStopped';
}

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

  constructor(
    driver: ConnectorDriver,
    columns: readonly string[],
    fields: readonly string[],
    log: Logger,
    report: ProblemReporter,
    signal: AbortSignal,
    retry: { minMs: number; maxMs: number },
  ) {
    this.driver = driver;
    this.columns = columns;
    this.fields = fields;
    this.log = log;
    this.report = report;
    this.signal = signal;
    this.backoff = new Backoff(retry.minMs, retry.maxMs);
  }

  /** Writes the rows; returns the ones the database refused. Throws WriterStopped on stop. */
  async write(table: Omit<WriteBatch, 'rows'>, rows: readonly RowWrite[]): Promise<DeadLetter[]> {
    if (rows.length === 0) return [];
    for (;;) {
      if (this.signal.aborted) throw new WriterStopped('stopped before the batch could be written');
      let stage = 'connect';
      try {
        const session = await this.ensureSession(table);
        stage = 'write';
        let toWrite = rows;
        if (!session.checksValues) {
          const converted = convertRows(rows, columnsOf(session.table, table), this.fields);
          if (converted.refused.length) {
            return [...converted.refused, ...(await this.write(table, converted.rows))];
          }
          toWrite = converted.rows;
        }
        await session.write({ ...table, rows: toWrite });
        this.backoff.reset();
        if (this.failing) {
          this.failing = false;
          this.report(undefined);
          this.log.info({ target: this.driver.describe() }, 'writing again');
        }
        return [];
      } catch (err) {
        const kind = err instanceof SchemaMismatch ? 'schema' : stage === 'connect' ? 'connection' : this.driver.classify(err);
        if (kind === 'record') return this.isolate(table, rows, err);
        await this.dropSession(); // a schema problem too: the next attempt re-reads the table
        const what = err instanceof SchemaMismatch ? 'table check' : stage === 'connect' ? 'connect' : 'write';
        const message = `${this.driver.describe()}: ${what} failed: ${errorText(err)}`;
        const wait = this.backoff.next();
        this.failing = true;
        this.report(message);
        this.log.error({ kind, retryInMs: wait, rows: rows.length }, message);
        await sleep(wait, this.signal);
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
    const left = await this.write(table, rows.slice(0, mid));
    const right = await this.write(table, rows.slice(mid));
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
    const session = await this.driver.connect(shape.table);
    const problem = schemaProblem(session.table, shape);
    if (problem !== undefined) {
      // Re-read on the next attempt: the table may be created or altered meanwhile.
      await session.close().catch(() => undefined);
      throw new SchemaMismatch(problem);
    }
    this.session = session;
    this.log.info({ target: this.driver.describe() }, 'connected');
    return session;
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
