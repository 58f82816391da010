import { errorRule } from '../classify.ts';
import type { FailureKind } from '../types.ts';

/**
 * The codes this connector knows: numeric error codes (server codes come as strings, `'002003'`,
 * driver codes as numbers) and, as strings, SQL states whole or by class (their first two
 * characters). An error's code is looked up first, then its SQL state, then its class. Anything
 * else, the driver's own 4xxxxx network and session errors included, is retried: see
 * `../classify.ts`.
 */
export const SNOWFLAKE_ERRORS = errorRule<number | string>({
  // A value or a row was refused: isolate it and dead-letter it.
  record: [
    409008, // driver: an unbindable value in some row
    100035, // timestamp not recognized
    100037, // boolean not recognized
    100038, // numeric value not recognized
    100039, 100046, // numeric value out of range, number out of representable range
    100040, // date not recognized
    100069, // error parsing JSON
    100072, // NULL result in a non-nullable column
    100078, // string too long and would be truncated
    100090, // duplicate row detected during DML action (the target has the key twice)
    100096, // can't parse as timestamp with format
    '22', // SQL state class: data exception
    '23', // SQL state class: integrity constraint violation
  ],
  // The recipe and the table (or the account) disagree: every row would fail alike.
  schema: [
    390100, // incorrect username or password
    1003, // SQL compilation error (syntax)
    2003, // object does not exist or not authorized
    2043, // object does not exist, or operation cannot be performed
    904, // invalid identifier (no such column)
    606, // no active warehouse selected
    3001, // insufficient privileges
    '42', // SQL state class: syntax error or access rule violation
  ],
  // The session: log in again and retry.
  transient: [
    390104, 390111, 390112, 390114, // session gone, expired, or its token expired
    604, // statement canceled
    625, 630, // lock wait or statement timeout
    '08', // SQL state class: connection exception
    '57014', // SQL state: query canceled
    '40001', // SQL state: serialization failure
  ],
});

/** The numeric code of a Snowflake error: server codes are strings (`'002003'`), driver codes numbers. */
export function snowflakeErrorCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  const n = typeof code === 'number' ? code : typeof code === 'string' && /^\d+$/.test(code) ? Number(code) : undefined;
  return n !== undefined && Number.isFinite(n) ? n : undefined;
}

/**
 * Sorts a snowflake-sdk error by its code, then by its SQL state. Errors without either (sockets,
 * timeouts) and codes not listed are retried.
 */
export function classifySnowflakeError(err: unknown): FailureKind {
  if (typeof err !== 'object' || err === null) return SNOWFLAKE_ERRORS.classify([]);
  const state = (err as { sqlState?: unknown }).sqlState;
  const sqlState = typeof state === 'string' && /^[0-9A-Z]{5}$/.test(state) ? state : undefined;
  return SNOWFLAKE_ERRORS.classify([snowflakeErrorCode(err), sqlState, sqlState?.slice(0, 2)]);
}

export { redactSecret } from '../redact.ts';
