import type { RowWrite } from '../writer/plan.ts';

/** One transaction's worth of rows for one table. */
export interface WriteBatch {
  readonly table: string;
  readonly pkColumn: string;
  /** Mapped columns, in the order of each upsert's `values`. */
  readonly columns: readonly string[];
  readonly rows: readonly RowWrite[];
}

/**
 * How a failed write is handled: `connection` (reconnect and retry with backoff), `schema`
 * (the table or a column is wrong: retry with backoff, loudly), `record` (some row was refused:
 * isolate it and dead-letter it).
 */
export type FailureKind = 'connection' | 'schema' | 'record';

/** A live connection to a database. */
export interface ConnectorSession {
  /** Writes all rows in one transaction, or none of them. */
  write(batch: WriteBatch): Promise<void>;
  /** Rows with these primary keys: id -> column -> value as text (null for NULL). */
  readRows(table: TableShape, ids: readonly string[]): Promise<Map<string, Record<string, string | null>>>;
  /** Up to `limit` primary keys greater than `after` (or from the start), in order. */
  scanIds(table: TableShape, after: string | undefined, limit: number): Promise<string[]>;
  /** True once the connection is known to be unusable. */
  readonly broken: boolean;
  close(): Promise<void>;
}

/** What reading a table needs: its name, primary-key column and mapped columns. */
export type TableShape = Omit<WriteBatch, 'rows'>;

/** The minimal contract each database implements; retries and reconnects live in the writer. */
export interface ConnectorDriver {
  /** Where it connects, safe to log (never credentials). */
  describe(): string;
  /** Connects, reading credentials now (they may have been tuned since the last attempt). */
  connect(): Promise<ConnectorSession>;
  classify(err: unknown): FailureKind;
}
