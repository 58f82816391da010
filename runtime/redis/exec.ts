import type { ChainableCommander } from 'ioredis';

/** What `exec()` resolves to: one `[error, reply]` per queued command, or null when a WATCH aborted it. */
export type ExecReplies = Array<[error: Error | null, reply: unknown]>;

/**
 * Runs a MULTI (or a pipeline) and throws the first command's error. ioredis rejects `exec()` only
 * when the whole transaction fails (EXECABORT, a lost connection); a command that fails inside it
 * (WRONGTYPE, OOM in a script, NOGROUP) comes back as an error in the reply array, and an unread
 * array would let a lost acknowledgement or dead letter pass for done. Null (a WATCHed key changed,
 * nothing ran) is returned as is for the caller to retry. `expected` names the errors a caller
 * reads from the replies itself (a WRONGTYPE that means "not a hash"): those stay in the array.
 */
export async function execChecked(tx: ChainableCommander, expected?: (err: Error) => boolean): Promise<ExecReplies | null> {
  const replies = await tx.exec();
  if (replies === null) return null;
  for (const [err] of replies) if (err && !expected?.(err)) throw err;
  return replies;
}

/** A command applied to a key of another type; callers that look at the type read it as an answer. */
export function isWrongType(err: Error): boolean {
  return err.message.startsWith('WRONGTYPE');
}
