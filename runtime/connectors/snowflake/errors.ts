import type { FailureKind } from '../types.ts';

// Server errors about the session: log in again and retry.
const CONNECTION = new Set([
  390104, 390111, 390112, 390114, // session gone, expired, or its token expired
  604, // statement canceled
  625, 630, // lock wait or statement timeout
]);
// Server errors that mean the recipe and the table (or the account) disagree: every row would fail alike.
const SCHEMA = new Set([
  390100, // incorrect username or password
  1003, // SQL compilation error (syntax)
  2003, // object does not exist or not authorized
  2043, // object does not exist, or operation cannot be performed
  904, // invalid identifier (no such column)
  606, // no active warehouse selected
  3001, // insufficient privileges
]);

/** The numeric code of a Snowflake error: server codes are strings (`'002003'`), driver codes numbers. */
export function snowflakeErrorCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  const n = typeof code === 'number' ? code : typeof code === 'string' && /^\d+$/.test(code) ? Number(code) : undefined;
  return n !== undefined && Number.isFinite(n) ? n : undefined;
}

/**
 * Sorts a snowflake-sdk error. Errors without a numeric code (sockets, timeouts) and the
 * driver's own 4xxxxx codes are about the connection; a server error we do not know is retried
 * loudly as `schema` rather than guessed to be one row's fault, so nothing is dead-lettered by
 * mistake.
 */
export function classifySnowflakeError(err: unknown): FailureKind {
  if (typeof err !== 'object' || err === null) return 'connection';
  const code = snowflakeErrorCode(err);
  const state = (err as { sqlState?: unknown }).sqlState;
  const sqlState = typeof state === 'string' ? state : '';
  if (code === 409008) return 'record'; // an unbindable value in some row
  if (code !== undefined && code >= 400000 && code < 500000) return 'connection'; // driver: network, session state
  if (code !== undefined && CONNECTION.has(code)) return 'connection';
  if (code !== undefined && SCHEMA.has(code)) return 'schema';
  // 100xxx: a value or a row was refused (numeric 100038, dates 100035/100040, too long 100078, NULL 100072, duplicate 100090).
  if (code !== undefined && code >= 100000 && code < 101000) return 'record';
  // Otherwise the SQL state's class: connection (08), canceled (57014), serialization (40001), data (22), integrity (23).
  if (sqlState.startsWith('08') || sqlState === '57014' || sqlState === '40001') return 'connection';
  if (sqlState.startsWith('22') || sqlState.startsWith('23')) return 'record';
  if (code === undefined) return 'connection';
  return 'schema';
}

export { redactSecret } from '../redact.ts';
