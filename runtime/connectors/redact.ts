/**
 * Removes a secret from an error's message and stack before it travels (logs, `wb-cli status`).
 * Drivers do not echo passwords, but a connect string or a wrapped error could. The error's
 * `code` and `sqlState` survive, so it is still classified the same way.
 */
export function redactSecret(err: unknown, secret: string): unknown {
  if (secret === '') return err;
  const clean = (s: string): string => s.split(secret).join('***');
  if (typeof err === 'string') return clean(err);
  if (!(err instanceof Error) || !(err.message.includes(secret) || err.stack?.includes(secret))) return err;
  try {
    err.message = clean(err.message);
    if (err.stack !== undefined) err.stack = clean(err.stack);
  } catch {
    // read-only: replaced below
  }
  if (!err.message.includes(secret) && !err.stack?.includes(secret)) return err;
  const copy = new Error(clean(err.message));
  const { code, sqlState } = err as { code?: unknown; sqlState?: unknown };
  Object.assign(copy, sqlState === undefined ? { code } : { code, sqlState });
  return copy;
}
