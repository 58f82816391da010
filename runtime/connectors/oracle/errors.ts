import { errorRule } from '../classify.ts';
import type { FailureKind } from '../types.ts';

/** The driver's (NJS-) codes this connector knows; anything else is retried: see `../classify.ts`. */
export const NJS_ERRORS = errorRule<number>({
  // One value: isolate the row (we bind text of computed size, so they are rare).
  record: [
    11, // a column mixes JS types across rows (bisection separates them)
    56, 58, // a value larger than its bind's maxSize
  ],
  schema: [],
  // The network or the session: reconnect and retry.
  transient: [
    3, // invalid or closed connection
    40, // connection request timeout
    123, // callTimeout exceeded: the session is in an unknown state
    500, // connection closed or broken (wraps ORA-03113, ORA-03114, ORA-03135, ORA-12537, ...)
    501, 503, 504, 510, 511, 518, 519, 521, 530, // lost contact, refused, timed out, EOF, service unknown, host unresolved
  ],
});

/** The server's (ORA-) codes this connector knows; anything else is retried: see `../classify.ts`. */
export const ORA_ERRORS = errorRule<number>({
  // One row's value or a constraint it breaks: isolate and dead-letter it.
  record: [
    1, // unique constraint violated (another unique key than the primary one)
    1400, 1407, // NULL into a NOT NULL column
    1401, 1438, 1426, // value too large, precision exceeded, numeric overflow
    1461, 1489, // value too long for its bind or the result
    1465, // invalid hex number (RAW)
    1722, // invalid number
    2290, 2291, 2292, // check constraint; parent key not found; child record found
    6502, // PL/SQL value error (in a trigger)
    12899, // value too large for column
    40441, // JSON syntax error
    // A date or time that does not read with the session's formats, or is out of range:
    1830, 1839, 1840, 1841, 1843, 1847, 1849, 1850, 1851, 1852, 1857, 1858, 1861, 1862, 1864,
    1867, 1873, 1874, 1875, 1876, 1877, 1878, 1879, 1880, 1882, 1883,
    { from: 20000, to: 20999 }, // raise_application_error: a trigger refused the row
  ],
  // The recipe and the table (or the account) disagree: every row would fail alike.
  schema: [
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
  ],
  // The network, the instance or contention: reconnect and retry.
  transient: [
    28, // session killed
    54, 60, // resource busy, deadlock
    1012, // not logged on
    1013, // user requested cancel of current operation
    1033, 1034, 1089, 1092, // instance starting, unavailable or shutting down
    2396, // idle time exceeded
    3113, 3114, 3135, // end-of-file on channel, not connected, lost contact
    4021, 30006, // lock wait timeouts
    4068, // package state discarded
    8177, // cannot serialize access
    12170, 12514, 12516, 12519, 12520, 12528, 12537, 12541, 12547, // listener and network errors
    16000, // database open read-only (a standby during switchover)
    25408, // cannot safely replay call
  ],
});

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
 * Sorts a node-oracledb error by its NJS- or ORA- code. Errors without a code (sockets, timeouts)
 * and codes not listed are retried.
 */
export function classifyOracleError(err: unknown): FailureKind {
  const code = oracleErrorCode(err);
  if (code === undefined) return ORA_ERRORS.classify([]);
  return (code.prefix === 'NJS' ? NJS_ERRORS : ORA_ERRORS).classify([code.num]);
}

export { redactSecret } from '../redact.ts';
