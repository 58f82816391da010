import type { FailureKind } from '../types.ts';

// Driver (NJS-) errors about the network or the session: reconnect and retry.
const NJS_CONNECTION = new Set([
  3, // invalid or closed connection
  40, // connection request timeout
  123, // callTimeout exceeded: the session is in an unknown state
  500, // connection closed or broken (wraps ORA-03113, ORA-03114, ORA-03135, ORA-12537, ...)
  501, 503, 504, 510, 511, 518, 519, 521, 530, // lost contact, refused, timed out, EOF, service unknown, host unresolved
]);
// Driver errors about one value: isolate the row (we bind text of computed size, so they are rare).
const NJS_RECORD = new Set([
  11, // a column mixes JS types across rows
  56, 58, // a value larger than its bind's maxSize
]);

// Server errors about the network, the instance or contention: reconnect and retry.
const ORA_CONNECTION = new Set([
  28, // session killed
  54, 60, // resource busy, deadlock
  1012, // not logged on
  1033, 1034, 1089, 1092, // instance starting, unavailable or shutting down
  2396, // idle time exceeded
  3113, 3114, 3135, // end-of-file on channel, not connected, lost contact
  4021, 30006, // lock wait timeouts
  4068, // package state discarded
  8177, // cannot serialize access
  12170, 12514, 12516, 12519, 12520, 12528, 12537, 12541, 12547, // listener and network errors
  16000, // database open read-only (a standby during switchover)
  25408, // cannot safely replay call
]);
// Server errors that mean the recipe and the table (or the account) disagree: every row would fail alike.
const ORA_SCHEMA = new Set([
  904, // invalid identifier (no such column)
  918, 957, // column ambiguously defined, duplicate column name
  932, // inconsistent datatypes
  942, // table or view does not exist
  1008, // not all variables bound
  1017, 28000, 28001, // invalid credentials, account locked, password expired
  1031, // insufficient privileges
  1502, // index unusable
  1536, 1653, 1654, 1688, 1950, // quota or tablespace full, no privilege on tablespace
  4098, // trigger invalid
  38104, // key column in UPDATE SET
]);
// Server errors about one row's value or a constraint it breaks: isolate and dead-letter it.
const ORA_RECORD = new Set([
  1, // unique constraint violated (another unique key than the primary one)
  1400, 1407, // NULL into a NOT NULL column
  1401, 1438, 1426, // value too large, precision exceeded, numeric overflow
  1461, 1489, // value too long for its bind or the result
  1465, // invalid hex number (RAW)
  1722, // invalid number
  6502, // PL/SQL value error (in a trigger)
  12899, // value too large for column
  40441, // JSON syntax error
]);

/** The ORA- or NJS- code of an error: its `code`, else the first one its message names. */
export function oracleErrorCode(err: unknown): { prefix: 'ORA' | 'NJS'; num: number } | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; message?: unknown };
  for (const text of [e.code, e.message]) {
    // thin mode's per-row batch errors carry only a message, e.g. "ORA-12899: value too large ..."
    const m = typeof text === 'string' ? /\b(ORA|NJS)-(\d+)/.exec(text) : null;
    if (m) return { prefix: m[1] as 'ORA' | 'NJS', num: Number(m[2]) };
  }
  return undefined;
}

/**
 * Sorts a node-oracledb error. Errors without a code (sockets, timeouts) are about the
 * connection; an ORA- error we do not know is retried loudly as `schema` rather than guessed to
 * be one row's fault, so nothing is dead-lettered by mistake.
 */
export function classifyOracleError(err: unknown): FailureKind {
  const code = oracleErrorCode(err);
  if (code === undefined) return 'connection';
  const n = code.num;
  if (code.prefix === 'NJS') return NJS_RECORD.has(n) ? 'record' : 'connection';
  if (ORA_CONNECTION.has(n)) return 'connection';
  if (ORA_SCHEMA.has(n)) return 'schema';
  if (ORA_RECORD.has(n)) return 'record';
  if (n >= 1800 && n <= 1899) return 'record'; // date and time conversion (ORA-01830, 01843, 01861, ...)
  if (n >= 2290 && n <= 2299) return 'record'; // check, foreign-key and referential constraints
  if (n >= 20000 && n <= 20999) return 'record'; // raise_application_error in a trigger refused the row
  return 'schema';
}

export { redactSecret } from '../redact.ts';
