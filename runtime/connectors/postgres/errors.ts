import { errorRule } from '../classify.ts';
import type { FailureKind } from '../types.ts';

/**
 * The SQLSTATEs this connector knows, as whole codes or as classes (their first two characters);
 * a whole code is looked up before its class. Anything else is retried: see `../classify.ts`.
 */
export const PG_ERRORS = errorRule<string>({
  // One row's values were refused: isolate it and dead-letter it.
  record: [
    '22', // data exception (value too long, out of range, invalid input syntax, bad encoding)
    '23', // integrity constraint violation (not null, unique, foreign key, check, exclusion)
    '21', // cardinality violation: the same key twice in one statement (bisection separates them)
    '27', // triggered data change violation
    '44', // WITH CHECK OPTION violation (writing through a view)
    'P0001', 'P0004', // RAISE EXCEPTION or ASSERT in a PL/pgSQL trigger refusing the row
    '40002', // a deferred constraint, checked at commit
    '54000', // index row too large for its value
  ],
  // The recipe and the table disagree: every row would fail alike.
  schema: [
    '42', // syntax error or access rule violation: 42P01 undefined table, 42703 undefined column, 42501 privilege, 42P10 no unique constraint for ON CONFLICT
    '3F', // invalid schema name
    '0A', // feature not supported (e.g. ON CONFLICT on a view that cannot take it)
  ],
  // The connection, the server's state or the credentials: reconnect and retry.
  transient: [
    '08', // connection exception
    '25', // invalid transaction state (e.g. 25006 read-only transaction on a standby)
    '28', // invalid authorization specification (wrong user or password)
    '40', // transaction rollback: 40001 serialization failure, 40P01 deadlock
    '53', // insufficient resources (too many connections, 53100 disk full)
    '55', // object not in prerequisite state (55P03 lock not available)
    '57', // operator intervention (57P01 admin shutdown / pg_terminate_backend, 57014 canceled)
    '58', // system error (I/O)
    'XX', // internal error
    '3D000', // the database does not exist (yet)
  ],
});

/**
 * Sorts a pg error by its SQLSTATE. Errors without one (ECONNREFUSED, "Connection terminated")
 * and any SQLSTATE not listed are retried.
 */
export function classifyPgError(err: unknown): FailureKind {
  const code = (err as { code?: unknown } | null | undefined)?.code;
  if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) return PG_ERRORS.classify([]);
  return PG_ERRORS.classify([code, code.slice(0, 2)]);
}

/** The column a pg error names (the server's `column` field, set e.g. for NOT NULL violations). */
export function pgErrorColumn(err: unknown): string | undefined {
  const column = (err as { column?: unknown } | null | undefined)?.column;
  return typeof column === 'string' && column !== '' ? column : undefined;
}
