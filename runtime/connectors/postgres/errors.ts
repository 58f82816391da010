import type { FailureKind } from '../types.ts';

// SQLSTATE classes (first two characters) about the connection, the server's state or the
// credentials: reconnect and retry.
const CONNECTION_CLASSES = new Set([
  '08', // connection exception
  '25', // invalid transaction state (e.g. 25006 read-only transaction on a standby)
  '28', // invalid authorization specification (wrong user or password)
  '40', // transaction rollback: 40001 serialization failure, 40P01 deadlock
  '53', // insufficient resources (too many connections, disk full)
  '55', // object not in prerequisite state (55P03 lock not available)
  '57', // operator intervention (57P01 admin shutdown / pg_terminate_backend, 57014 canceled)
  '58', // system error (I/O)
  'XX', // internal error
]);
// Classes where the recipe and the table disagree: every row would fail alike.
const SCHEMA_CLASSES = new Set([
  '42', // syntax error or access rule violation: 42P01 undefined table, 42703 undefined column, 42501 privilege, 42P10 no unique constraint for ON CONFLICT
  '3F', // invalid schema name
  '0A', // feature not supported (e.g. ON CONFLICT on a view that cannot take it)
]);
// Classes where one row's values were refused: isolate it and dead-letter it.
const RECORD_CLASSES = new Set([
  '21', // cardinality violation: the same key twice in one statement (bisection separates them)
  '22', // data exception (value too long, out of range, invalid input syntax)
  '23', // integrity constraint violation (not null, unique, foreign key, check)
  '27', // triggered data change violation
  '44', // WITH CHECK OPTION violation (writing through a view)
  'P0', // raised by a PL/pgSQL trigger refusing the row
]);
const RECORD_CODES = new Set(['40002', '54000']); // deferred constraint at commit; index row too large
const CONNECTION_CODES = new Set(['3D000']); // the database does not exist (yet)

/**
 * Sorts a pg error by its SQLSTATE. Errors without one (ECONNREFUSED, "Connection terminated")
 * are about the connection; so is any unknown SQLSTATE, because retrying is harmless while
 * treating it as a record error could dead-letter every row of a batch.
 */
export function classifyPgError(err: unknown): FailureKind {
  const code = (err as { code?: unknown } | null | undefined)?.code;
  if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) return 'connection';
  const cls = code.slice(0, 2);
  if (RECORD_CODES.has(code)) return 'record';
  if (CONNECTION_CODES.has(code) || CONNECTION_CLASSES.has(cls)) return 'connection';
  if (SCHEMA_CLASSES.has(cls)) return 'schema';
  if (RECORD_CLASSES.has(cls)) return 'record';
  return 'connection';
}

/** The column a pg error names (the server's `column` field, set e.g. for NOT NULL violations). */
export function pgErrorColumn(err: unknown): string | undefined {
  const column = (err as { column?: unknown } | null | undefined)?.column;
  return typeof column === 'string' && column !== '' ? column : undefined;
}
