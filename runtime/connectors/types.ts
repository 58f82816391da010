import type { RowWrite } from '../writer/plan.ts';

/** What reading or writing a table needs: its name, primary-key column and mapped columns. */
export interface TableShape {
  readonly table: string;
  readonly pkColumn: string;
  /** Mapped columns, in the order of each upsert's `values`. */
  readonly columns: readonly string[];
}

/** One transaction's worth of rows for one table; upsert values already converted to their columns. */
export interface WriteBatch extends TableShape {
  readonly rows: readonly RowWrite[];
  /**
   * How long the whole batch may take, commit included, when shorter than the query timeout:
   * what is left of the lease of the batch's partitions (a write must end before another
   * runtime may own them). The query timeout when absent.
   */
  readonly timeoutMs?: number;
  /**
   * When given, the batch is one explicit transaction whatever its size, and its COMMIT is sent
   * only while this says yes (the batch's partition leases are still this runtime's); otherwise
   * it is rolled back and the write throws {@link CommitRefused}. A statement held up in a frozen
   * database or network then never commits: without a COMMIT its transaction is rolled back.
   */
  readonly mayCommit?: () => boolean;
}

/** A write rolled back before its COMMIT because `mayCommit` said no. */
export class CommitRefused extends Error {
  override readonly name = 'CommitRefused';
}

/** How a hash value (always a string) is converted for a column. */
export type TypeFamily = 'text' | 'integer' | 'decimal' | 'float' | 'boolean' | 'date' | 'timestamp' | 'time' | 'json' | 'uuid' | 'binary' | 'other';

/** A column as the database describes it. */
export interface ColumnInfo {
  readonly name: string;
  /** The database's own type name, e.g. `int(11)`, `character varying`, `NUMBER(10,0)`. */
  readonly type: string;
  readonly family: TypeFamily;
  /** Most characters (text) when the database says. */
  readonly maxLength?: number;
  /** Text: the column drops trailing spaces (MySQL/MariaDB CHAR), so a value ending in one is refused. */
  readonly dropsTrailingSpaces?: boolean;
  /** Integer range when the type bounds it. */
  readonly min?: bigint;
  readonly max?: bigint;
  /** Decimal: total digits and digits after the point, when the type bounds them. */
  readonly precision?: number;
  readonly scale?: number;
  /** Timestamp and time: the digits of fractional seconds the column keeps, when it says. */
  readonly fraction?: number;
  /** Timestamp: true when the column keeps the UTC offset (`timestamptz`); others get UTC. */
  readonly zoned?: boolean;
  /**
   * A text key column whose comparison is not exact (case- or accent-insensitive, or padding
   * trailing spaces): why, naming the collation. Undefined when two different ids are two rows.
   */
  readonly inexact?: string;
}

/** A table as the database describes it; read once per connection. */
export interface TableInfo {
  readonly exists: boolean;
  /** Columns by lower-cased name. */
  readonly columns: ReadonlyMap<string, ColumnInfo>;
  /** Primary-key columns in key order (as the database spells them). */
  readonly primaryKey: readonly string[];
}

/**
 * How a failed write is handled: `connection` (reconnect and retry with backoff), `schema`
 * (the table or a column is wrong: retry with backoff, loudly), `record` (some row was refused:
 * isolate it and dead-letter it).
 */
export type FailureKind = 'connection' | 'schema' | 'record';

/** A live connection to a database. */
export interface ConnectorSession {
  /** The table as it was when this session connected. */
  readonly table: TableInfo;
  /** Writes all rows in one transaction, or none of them. */
  write(batch: WriteBatch): Promise<void>;
  /** Rows with these primary keys: id -> column -> value as text (null for NULL). */
  readRows(table: TableShape, ids: readonly string[]): Promise<Map<string, Record<string, string | null>>>;
  /** Up to `limit` primary keys greater than `after` (or from the start), in order. */
  scanIds(table: TableShape, after: string | undefined, limit: number): Promise<string[]>;
  /** True once the connection is known to be unusable. */
  readonly broken: boolean;
  /**
   * The database's limit on one statement, when it has one that a large hash value can reach
   * (MySQL's max_allowed_packet, read at connect): the writer refuses a row that alone exceeds it
   * and cuts a batch into statements that fit, instead of sending what the server cannot take.
   */
  readonly statementLimit?: StatementLimit;
  close(): Promise<void>;
}

/** The most bytes one statement may take, and what a statement's parts take. */
export interface StatementLimit {
  /** The limit, with the setting it comes from (for the dead letter's reason). */
  readonly maxBytes: number;
  readonly setting: string;
  /** Bytes of a statement writing `shape`, its rows apart. */
  baseBytes(shape: TableShape): number;
  /**
   * Bytes `row` adds to a statement: an upper bound, cheap unless `exact` (a large value's bytes
   * are then counted as sent, escapes included), never below what is sent.
   */
  rowBytes(row: RowWrite, exact: boolean): number;
}

/**
 * How long a database may stay silent before its connection is taken for lost (`wb-runtime
 * --db-connect-timeout-ms`, `--db-query-timeout-ms`; defaults in `timeouts.ts`).
 */
export interface DbTimeouts {
  /** Opening a session: TCP, TLS and authentication. */
  readonly connectTimeoutMs: number;
  /** One call on an open session: a whole batch (commit included), a read, a set-up query. */
  readonly queryTimeoutMs: number;
  /**
   * The server-side statement timeout where the database has one (MariaDB `max_statement_time`,
   * PostgreSQL `statement_timeout`): a little below the query timeout when absent
   * (`serverStatementTimeoutMs`). The runtime lowers it below its lease margin.
   */
  readonly statementTimeoutMs?: number;
  /**
   * How long the server lets a transaction wait for its next statement before it rolls it back
   * (MariaDB `idle_transaction_timeout`, PostgreSQL `idle_in_transaction_session_timeout`), where
   * the database has it: a COMMIT held up in the network arrives to a transaction already gone.
   * The server's default (none) when absent.
   */
  readonly idleInTransactionMs?: number;
}

/** The minimal contract each database implements; retries and reconnects live in the writer. */
export interface ConnectorDriver {
  /** Where it connects, safe to log (never credentials). */
  describe(): string;
  /**
   * Connects, reading credentials now (they may have been tuned since), and describes `table`.
   * A connect or a later call that outlives its timeout rejects with `NoAnswerError` and leaves
   * the session destroyed and `broken`. Without `timeouts`, the defaults apply.
   */
  connect(table: string, timeouts?: DbTimeouts): Promise<ConnectorSession>;
  classify(err: unknown): FailureKind;
  /** The column a record-level error names, when the database says. */
  columnOf?(err: unknown): string | undefined;
}
