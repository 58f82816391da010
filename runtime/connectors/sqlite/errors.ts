import { errorRule } from '../classify.ts';
import type { FailureKind } from '../types.ts';

/**
 * The result codes this connector knows: primary codes (`SQLITE_BUSY`) stand for their extended
 * ones (`SQLITE_BUSY_SNAPSHOT`) unless an extended one is listed itself. Anything else is
 * retried: see `../classify.ts`.
 */
export const SQLITE_ERRORS = errorRule<string>({
  // A row's values were refused: isolate it and dead-letter it.
  record: [
    'SQLITE_CONSTRAINT', // NOT NULL, UNIQUE, PRIMARY KEY, CHECK, FOREIGN KEY, DATATYPE (STRICT), a trigger's RAISE(ABORT)
    'SQLITE_MISMATCH', // a value for an INTEGER PRIMARY KEY (rowid) that is no integer
    'SQLITE_TOOBIG', // a string or blob larger than the limit
  ],
  // "no such table", "no such column", "has no column named", an ON CONFLICT target that is no
  // key: the table and the recipe disagree.
  schema: ['SQLITE_ERROR'],
  // The file, locks or the process: reopen and retry.
  transient: [
    'SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_IOERR', 'SQLITE_CANTOPEN', 'SQLITE_READONLY', 'SQLITE_FULL',
    'SQLITE_NOMEM', 'SQLITE_PROTOCOL', 'SQLITE_NOLFS', 'SQLITE_CORRUPT', 'SQLITE_NOTADB', 'SQLITE_INTERRUPT',
    'SQLITE_PERM', 'SQLITE_AUTH',
    'SQLITE_SCHEMA', // the schema changed under a statement; preparing again fixes it
    'SQLITE_CONSTRAINT_COMMITHOOK', // a commit hook said no: nothing to do with the rows
  ],
});

/**
 * Sorts a better-sqlite3 error by its result code, an extended code (`SQLITE_CONSTRAINT_NOTNULL`)
 * by itself and then by its primary code. Errors without a code ("the database connection is not
 * open") and codes not listed are retried.
 */
export function classifySqliteError(err: unknown): FailureKind {
  const code = (err as { code?: unknown } | null | undefined)?.code;
  if (typeof code !== 'string') return SQLITE_ERRORS.classify([]);
  return SQLITE_ERRORS.classify([code, /^SQLITE_[A-Z]+/.exec(code)?.[0]]);
}
