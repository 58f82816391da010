/**
 * A connection credential: a literal string, or a function (possibly async) evaluated at every
 * connection attempt, such as `() => configGet('MySqlPassword')`.
 */
export type Credential = string | (() => string | Promise<string>);

/** True when `value` is acceptable as a {@link Credential}. */
export function isCredential(value: unknown): value is Credential {
  return typeof value === 'string' || typeof value === 'function';
}

/** Evaluates a credential; the result is never logged by wbsync. */
export async function resolveCredential(value: Credential, what: string): Promise<string> {
  const resolved = typeof value === 'function' ? await value() : value;
  if (typeof resolved !== 'string') {
    throw new TypeError(`${what} must resolve to a string (got ${typeof resolved})`);
  }
  return resolved;
}
