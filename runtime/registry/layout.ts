import type { Redis } from 'ioredis';
import type { Keys } from '../keys.ts';

/**
 * The version of the layout of wbsync's keys in Redis (which keys, what they hold). A namespace
 * records the layout its runtimes use in `<ns>:layout`; a runtime or a CLI of another layout
 * refuses to touch it, since it would read and write keys the others do not know. A release that
 * changes the layout raises this number and migrates the keys of the one before.
 *
 * 1: wbsync 0.1 (one backlog stream per recipe). 0.1 did not record it: a namespace without the
 * key is at layout 1.
 */
export const LAYOUT = 1;

/** This namespace's keys are in a layout this wbsync does not read. */
export class LayoutMismatch extends Error {
  override readonly name = 'LayoutMismatch';
}

/**
 * Records this wbsync's layout in a namespace that has none, and refuses one recorded by another
 * version. `who` names the caller in the message (`wb-runtime`, `wb-cli`).
 */
export async function checkLayout(redis: Redis, keys: Keys, who: string, opts: { readonly record: boolean } = { record: true }): Promise<void> {
  const found = opts.record ? ((await redis.set(keys.layout(), String(LAYOUT), 'NX', 'GET')) ?? String(LAYOUT)) : ((await redis.get(keys.layout())) ?? String(LAYOUT));
  if (found === String(LAYOUT)) return;
  const theirs = Number(found);
  const advice = Number.isInteger(theirs) && theirs > LAYOUT
    ? `a newer wbsync (key layout ${found}) serves it: upgrade this ${who} to the version the runtimes run`
    : `its key layout is '${found}', not one this wbsync knows`;
  throw new LayoutMismatch(`namespace '${keys.ns}' cannot be used by this ${who} (key layout ${LAYOUT}): ${advice}`);
}
