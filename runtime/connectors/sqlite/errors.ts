import type { FailureKind } from '../types.ts';

// Primary result codes about the file, locks or the process: reopen and retry.
const CONNECTION = new Set([
  'SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_IOERR', 'SQLITE_CANTOPEN', 'SQLITE_READONLY', 'SQLITE_FULL',
  'SQLITE_NOMEM', 'SQLITE_PROTOCOL', 'SQLITE_NOLFS', 'SQLITE_CORRUPT', 'SQLITE_NOTADB', 'SQLITE_INTERRUPT',
  'SQLITE_PERM', 'SQLITE_AUTH', 'SQLITE_SCHEMA', // SCHEMA: the schema changed under a statement; preparing again fixes it
]);
// A row's values were refused: isolate it and dead-letter it.
const RECORD = new Set(['SQLITE_CONSTRAINT', 'SQLITE_MISMATCH', 'SQLITE_TOOBIG']);

/**
 * Sorts a better-sqlite3 error by its result code (extended codes such as
 * `SQLITE_CONSTRAINT_NOTNULL` by their primary code). `SQLITE_ERROR` is what "no such table",
 * "no such column", "has no column named" and an ON CONFLICT target that is not a key raise:
 * the table and the recipe disagree. Anything else, including errors without a code ("the
 * database connection is not open"), is retried: that is harmless, while treating it as a
 * record error could dead-letter every row of a batch.
 */
export function classifySqliteError(err: unknown): FailureKind {
  const code = (err as { code?: unknown } | null | undefined)?.code;
  if (typeof code !== 'string') return 'connection';
  const primary = /^SQLITE_[A-Z]+/.exec(code)?.[0];
  if (primary === undefined || CONNECTION.has(primary)) return 'connection';
  if (RECORD.has(primary)) return 'record';
  if (primary === 'SQLITE_ERROR') return 'schema';
  return 'connection';
}
