import cassandra from 'cassandra-driver';
import { errorRule } from '../classify.ts';
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

// Pseudo-codes for what is not a numbered server error.
const VALUE_ERROR = 'CassandraValueError';
const SCHEMA_ERROR = 'CassandraSchemaError';
const INVALID_TABLE = 'Invalid: about the table';
const INVALID_VALUE = 'Invalid: about a value';
const INVALID = 0x2200;

/**
 * The errors this connector knows: the server's codes (`ResponseError.code`), an `Invalid` (0x2200)
 * by what its message is about, and this connector's own errors. Anything else is retried: see
 * `../classify.ts`. A value that cannot be bound for its column's CQL type is refused before it is
 * sent ({@link CassandraValueError}, from values.ts), so the driver's own TypeError or RangeError
 * while encoding means the conversion and the column disagree for every row (or a bug): retried.
 */
export const CASSANDRA_ERRORS = errorRule<number | string>({
  // One row's values were refused: isolate it and dead-letter it.
  record: [
    VALUE_ERROR,
    INVALID_VALUE,
    0x1400, // function failure: a function (e.g. fromJson) refused its argument
  ],
  // The recipe and the table disagree: every row would fail alike.
  schema: [
    SCHEMA_ERROR,
    INVALID_TABLE,
    0x2000, // syntax error
    0x2100, // unauthorized
    0x2300, // config error
    0x2400, // already exists
  ],
  // The cluster's state or the credentials.
  transient: [
    0x0000, // server error
    0x000a, // protocol error
    0x0100, // bad credentials
    0x1000, 0x1001, 0x1002, // unavailable, overloaded, bootstrapping
    0x1003, // truncate error
    0x1100, 0x1200, // write and read timeouts
    0x1300, 0x1500, // read and write failures (a replica failed)
    0x2500, // unprepared
  ],
});

// Invalid (0x2200) messages about the table rather than a value.
const INVALID_ABOUT_TABLE = [
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
// Invalid (0x2200) messages about one row's value.
const INVALID_ABOUT_VALUE = [
  /invalid byte for ascii/i,
  /invalid utf-?8/i,
  /key may not be empty/i,
  /key length of \d+ is longer than maximum/i,
  /invalid version for timeuuid/i,
  /invalid null value (for|in condition for) (partition key part|clustering column)/i,
  /index expression values may not be larger than 64k/i,
  /sum of all clustering columns is too long/i,
  /guardrail (collection_size|items_per_collection|column_value_size) violated/i,
];

/** The codes a cassandra-driver error is known by, most specific first. */
function codesOf(err: unknown): Array<number | string> {
  if (err instanceof CassandraValueError) return [VALUE_ERROR];
  if (err instanceof CassandraSchemaError) return [SCHEMA_ERROR];
  if (!(err instanceof ResponseError)) return []; // no host, timeouts, busy connections, sockets, TypeError, ...
  if (err.code !== INVALID) return [err.code];
  if (INVALID_ABOUT_TABLE.some((re) => re.test(err.message))) return [INVALID_TABLE];
  if (INVALID_ABOUT_VALUE.some((re) => re.test(err.message))) return [INVALID_VALUE];
  return [INVALID];
}

/**
 * Sorts a cassandra-driver error. Client-side failures (no host, timeouts, busy connections,
 * authentication) have no code and are retried; server errors go by their code; an `Invalid` by
 * whether its message is known to be about the table (`schema`) or about a value (`record`), any
 * other `Invalid` is retried.
 */
export function classifyCassandraError(err: unknown): FailureKind {
  return CASSANDRA_ERRORS.classify(codesOf(err));
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
