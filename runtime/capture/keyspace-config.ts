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
 * What is wrong with keyspace notifications: `off` when the setting was read, lacks flags capture
 * needs and could not be set (changes then arrive only through reconcile: every recipe shows it
 * as an error); `unknown` when it could not be read (CONFIG refused, as the least-privilege user
 * of docs/security.md is): it may well be right, so it is logged, not shown as a failure.
 */
export interface KeyspaceProblem {
  readonly kind: 'off' | 'unknown';
  readonly message: string;
}

/** The outcome of a check: a problem, or fine (`setFrom`: the value it had before this check set it). */
export type KeyspaceCheck = KeyspaceProblem | { readonly kind: 'ok'; readonly setFrom?: string };

/** Makes sure keyspace notifications carry what capture needs. */
export async function ensureKeyspaceEvents(redis: Redis): Promise<KeyspaceCheck> {
  let current: string;
  try {
    const res = (await redis.config('GET', 'notify-keyspace-events')) as string[];
    current = res[1] ?? '';
  } catch (err) {
    return { kind: 'unknown', message: `cannot read notify-keyspace-events (${String(err)}); make sure it includes ${NEEDED_FLAGS.join('')}, e.g. CONFIG SET notify-keyspace-events Kgh$xe` };
  }
  const merged = mergeFlags(current);
  if (merged === undefined) return { kind: 'ok' };
  try {
    await redis.config('SET', 'notify-keyspace-events', merged);
    return { kind: 'ok', setFrom: current };
  } catch (err) {
    return { kind: 'off', message: `notify-keyspace-events is '${current}' and CONFIG SET is not allowed (${String(err)}); changes are only picked up by reconcile until an operator sets it to include ${NEEDED_FLAGS.join('')}, e.g. notify-keyspace-events ${merged}` };
  }
}

/** The replicas a master lists in INFO replication (`slaveN:ip=…,port=…`). */
export function replicasOf(info: string): Array<{ host: string; port: number }> {
  const out: Array<{ host: string; port: number }> = [];
  for (const m of info.matchAll(/^slave\d+:ip=([^,]+),port=(\d+)/gm)) out.push({ host: m[1] as string, port: Number(m[2]) });
  return out;
}

/**
 * Sets notify-keyspace-events on the master's replicas too: a replica promoted by a failover
 * publishes events only if it was configured before. Returns what could not be done, per
 * replica (an address the replica announces that is unreachable from here, CONFIG refused).
 */
export async function ensureOnReplicas(master: Redis, open: (host: string, port: number) => Redis): Promise<string[]> {
  const problems: string[] = [];
  for (const { host, port } of replicasOf(await master.info('replication'))) {
    const conn = open(host, port);
    conn.on('error', () => undefined);
    try {
      const check = await ensureKeyspaceEvents(conn);
      if (check.kind !== 'ok') problems.push(`replica ${host}:${port}: ${check.message}`);
    } catch (err) {
      problems.push(`replica ${host}:${port}: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      conn.disconnect();
    }
  }
  return problems;
}
