import type { Redis } from 'ioredis';

/** Flags capture needs: keyspace channel, generic, hash, string (wrong type), expired, evicted. */
export const NEEDED_FLAGS = ['K', 'g', 'h', '$', 'x', 'e'] as const;
const ALL = 'g$lshzxet'; // what the alias 'A' stands for

/** The flags of `current` plus whatever capture still needs; undefined when nothing is missing. */
export function mergeFlags(current: string): string | undefined {
  const have = new Set(current.includes('A') ? current + ALL : current);
  const missing = NEEDED_FLAGS.filter((f) => !have.has(f));
  return missing.length ? current + missing.join('') : undefined;
}

/**
 * Makes sure keyspace notifications carry what capture needs. Returns a message for the operator
 * when CONFIG is not allowed (managed Redis), undefined when all is well.
 */
export async function ensureKeyspaceEvents(redis: Redis): Promise<string | undefined> {
  let current: string;
  try {
    const res = (await redis.config('GET', 'notify-keyspace-events')) as string[];
    current = res[1] ?? '';
  } catch (err) {
    return `cannot read notify-keyspace-events (${String(err)}); make sure it includes ${NEEDED_FLAGS.join('')}, e.g. CONFIG SET notify-keyspace-events Kgh$xe`;
  }
  const merged = mergeFlags(current);
  if (merged === undefined) return undefined;
  try {
    await redis.config('SET', 'notify-keyspace-events', merged);
    return undefined;
  } catch (err) {
    return `notify-keyspace-events is '${current}' and CONFIG SET is not allowed (${String(err)}); changes are only picked up by reconcile until an operator sets it to include ${NEEDED_FLAGS.join('')}, e.g. notify-keyspace-events ${merged}`;
  }
}
