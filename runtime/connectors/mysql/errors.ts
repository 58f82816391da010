import type { FailureKind } from '../types.ts';

// Server errors that are about the connection, the server's state or the credentials: retry.
const TRANSIENT = new Set([
  1040, // ER_CON_COUNT_ERROR
  1044, // ER_DBACCESS_DENIED_ERROR
  1045, // ER_ACCESS_DENIED_ERROR
  1049, // ER_BAD_DB_ERROR
  1053, // ER_SERVER_SHUTDOWN
  1205, // ER_LOCK_WAIT_TIMEOUT
  1213, // ER_LOCK_DEADLOCK
  1290, // ER_OPTION_PREVENTS_STATEMENT (read-only)
  1927, // ER_CONNECTION_KILLED
  1836, // ER_READ_ONLY_MODE
]);
// Errors that mean the recipe and the table disagree: every row would fail alike.
const SCHEMA = new Set([
  1054, // ER_BAD_FIELD_ERROR
  1064, // ER_PARSE_ERROR
  1110, // ER_FIELD_SPECIFIED_TWICE
  1364, // ER_NO_DEFAULT_FOR_FIELD: an unmapped NOT NULL column without a default
  1142, // ER_TABLEACCESS_DENIED_ERROR
  1143, // ER_COLUMNACCESS_DENIED_ERROR
  1146, // ER_NO_SUCH_TABLE
]);

/** Sorts a mysql2 error: server errors about a value or a constraint are record-level. */
export function classifyMysqlError(err: unknown): FailureKind {
  const e = err as { errno?: unknown; fatal?: unknown };
  if (typeof e?.errno !== 'number' || e.fatal === true) return 'connection';
  if (TRANSIENT.has(e.errno)) return 'connection';
  if (SCHEMA.has(e.errno)) return 'schema';
  // Client-side network errnos are negative or >= 2000 (CR_* codes).
  if (e.errno < 1000 || e.errno >= 2000 && e.errno < 3000) return 'connection';
  return 'record';
}
