import cassandra from 'cassandra-driver';
import type { FailureKind } from '../types.ts';

const { NoHostAvailableError, ResponseError } = cassandra.errors;

/**
 * A value that cannot be bound for its column's CQL type: only its row is refused. The message is
 * short for a mapped column (the writer prefixes field, column and type, see `columnOf`) and names
 * the column for the key column (its value is the id, not a field).
 */
export class CassandraValueError extends Error {
  readonly column: string;
  readonly type: string;
  readonly key: boolean;
  override readonly name = 'CassandraValueError';

  constructor(
    column: string,
    type: string,
    key: boolean,
    value: string,
    reason: string,
  ) {
    const shown = value.length > 40 ? `${value.slice(0, 40)}...` : value;
    super(key ? `key column ${column} (${type}) cannot take id '${shown}': ${reason}` : `value '${shown}': ${reason}`);
    this.column = column;
    this.type = type;
    this.key = key;
  }
}

/** The table lacks a column the recipe writes or reads (it changed since it was described). */
export class CassandraSchemaError extends Error {
  override readonly name = 'CassandraSchemaError';
}

// Errors that mean the recipe and the table disagree: every row would fail alike.
const SCHEMA = new Set([
  0x2000, // syntax error
  0x2100, // unauthorized
  0x2300, // config error
  0x2400, // already exists
]);
// Invalid (0x2200) messages about the table rather than a value.
const SCHEMA_INVALID = [
  /unconfigured table/i, // Cassandra < 4.1
  /\btable .* does not exist/i,
  /\bkeyspace .* does not exist/i,
  /no keyspace has been specified/i,
  /undefined column name/i,
  /undefined name/i,
  /unknown identifier/i,
  /primary key part/i,
  /(clustering keys|partition key parts) are missing/i,
  /counter/i, // a counter column or table cannot be set
];
const INVALID = 0x2200;
const FUNCTION_FAILURE = 0x1400;

/**
 * Sorts a cassandra-driver error. Client-side failures (no host, timeouts, busy connections,
 * authentication) are `connection`; server errors by their code; an `Invalid` about the table or a
 * column is `schema`, any other `Invalid` (a value the server refuses) is `record`, and so are the
 * driver's own encoding errors (TypeError/RangeError for one value) and {@link CassandraValueError}.
 */
export function classifyCassandraError(err: unknown): FailureKind {
  if (err instanceof CassandraValueError) return 'record';
  if (err instanceof CassandraSchemaError) return 'schema';
  if (err instanceof ResponseError) {
    const code = err.code;
    if (code === INVALID) return SCHEMA_INVALID.some((re) => re.test(err.message)) ? 'schema' : 'record';
    if (code === FUNCTION_FAILURE) return 'record';
    if (SCHEMA.has(code)) return 'schema';
    // Server error (0x0000), protocol error, bad credentials (0x0100), unavailable (0x1000),
    // overloaded (0x1001), bootstrapping (0x1002), truncate error, write/read timeout (0x1100,
    // 0x1200), read/write failure, unprepared, and any code not known here: retry.
    return 'connection';
  }
  if (err instanceof TypeError || err instanceof RangeError) return 'record';
  // NoHostAvailableError, OperationTimedOutError, BusyConnectionError, AuthenticationError,
  // DriverInternalError, socket errors and anything unknown.
  return 'connection';
}

/** The column a record-level error names, when it says. */
export function cassandraErrorColumn(err: unknown): string | undefined {
  return err instanceof CassandraValueError && !err.key ? err.column : undefined;
}

/**
 * The driver's NoHostAvailableError quotes each host's error with its stack; this one says the
 * same on one line (`host: Class: message; ...`). Other errors are returned as they are.
 */
export function cleanError(err: unknown): unknown {
  if (!(err instanceof NoHostAvailableError)) return err;
  const inner = (err.innerErrors ?? {}) as Record<string, unknown>;
  const hosts = Object.entries(inner).map(([host, e]) => {
    const message = (e instanceof Error ? e.message : String(e)).split('\n')[0];
    return `${host}: ${e instanceof Error ? `${e.name}: ` : ''}${message}`;
  });
  const first = (err.message.split('\n')[0] as string).replace(/ First host tried.*$/, '');
  return new NoHostAvailableError(err.innerErrors, hosts.length ? `${first.replace(/\.$/, '')}: ${hosts.join('; ')}` : first);
}
