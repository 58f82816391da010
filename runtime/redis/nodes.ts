import type { Cluster, Redis } from 'ioredis';
import { slotOf } from './cluster.ts';
import { execChecked } from './exec.ts';

/**
 * What commands that span many keys need to know on a Redis Cluster. An ioredis `Cluster` client
 * routes each command by its keys' slot, but a pipeline must stay on one node, and SCAN, CONFIG
 * and INFO answer for one node only. On a single server (or Sentinel's master) each of these is
 * the connection itself, so callers are written once for both.
 */

/**
 * Whether `err` says Redis does not answer for now rather than that something is wrong: a
 * connection lost or refused, a server still loading, a master being replaced (Sentinel's
 * MASTERDOWN, a demoted master's READONLY), or a cluster in the middle of a failover or a slot
 * move (a master down, slots without a node, keys being migrated). Only for errors of Redis calls:
 * such a step is tried again; any other error is reported as it is.
 */
export function redisUnavailable(err: unknown): boolean {
  return /Too many Cluster redirections|\bCLUSTERDOWN\b|\bTRYAGAIN\b|\bMASTERDOWN\b|\bREADONLY\b|\bLOADING\b|Connection is closed|\bECONNREFUSED\b|\bECONNRESET\b|\bETIMEDOUT\b|\bEPIPE\b|Failed to refresh slots cache|None of startup nodes|\bMOVED \d|\bASK \d/.test(err instanceof Error ? err.message : String(err));
}

/** Whether `redis` is an ioredis cluster client. */
export function isCluster(redis: Redis | Cluster): redis is Cluster {
  return (redis as { isCluster?: boolean }).isCluster === true;
}

/** The connection of every master (the client's own, ready to use); the connection itself on a single server. */
export function masterNodes(redis: Redis): Redis[] {
  const c = redis as unknown as Redis | Cluster;
  return isCluster(c) ? c.nodes('master') : [redis];
}

/**
 * Groups `keys` by the node that serves them now (the client's slot map), each group in the
 * order given, so that one pipeline per group stays on one node. One group on a single server.
 * A slot not known yet (the map is being read) is a group of its own: ioredis routes it.
 */
export function byNode(redis: Redis, keys: readonly string[]): string[][] {
  const c = redis as unknown as Redis | Cluster;
  if (!isCluster(c) || keys.length === 0) return keys.length ? [[...keys]] : [];
  const groups = new Map<string, string[]>();
  for (const k of keys) {
    const slot = slotOf(k);
    const node = c.slots[slot]?.[0] ?? `slot:${slot}`;
    const g = groups.get(node);
    if (g) g.push(k);
    else groups.set(node, [k]);
  }
  return [...groups.values()];
}

/**
 * Runs `build` on a pipeline per node group of `keys` and gives each key's replies (error first,
 * as ioredis' exec does): `build` adds `per` commands for each key. With `expected`, a failed
 * command throws (execChecked) unless `expected` names its error as an answer.
 */
export async function pipelinedPerKey(
  redis: Redis, keys: readonly string[], per: number, build: (p: ReturnType<Redis['pipeline']>, key: string) => void,
  expected?: (err: Error) => boolean,
): Promise<Map<string, Array<[Error | null, unknown]>>> {
  const out = new Map<string, Array<[Error | null, unknown]>>();
  await Promise.all(byNode(redis, keys).map(async (group) => {
    const p = redis.pipeline();
    for (const k of group) build(p, k);
    const res = (expected ? await execChecked(p, expected) : await p.exec()) ?? [];
    group.forEach((k, i) => out.set(k, res.slice(i * per, (i + 1) * per) as Array<[Error | null, unknown]>));
  }));
  return out;
}

/** `text` with the characters a SCAN MATCH pattern treats specially escaped. */
export function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/**
 * The shard tags whose backlog streams (`<ns>:{<tag>}:backlog:…`) one node holds: a SCAN of its
 * whole keyspace, for streams only.
 */
export async function shardTagsOn(node: Redis, ns: string): Promise<Set<string>> {
  const head = `${ns}:{`;
  const tags = new Set<string>();
  for (let cursor = '0'; ;) {
    const [next, keys] = await node.scan(cursor, 'MATCH', `${globEscape(head)}*}:backlog:*`, 'COUNT', 1000, 'TYPE', 'stream');
    for (const k of keys) {
      const end = k.indexOf('}:backlog:', head.length);
      if (k.startsWith(head) && end > head.length) tags.add(k.slice(head.length, end));
    }
    cursor = next;
    if (cursor === '0') return tags;
  }
}
