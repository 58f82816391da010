import calculateSlot from 'cluster-key-slot';
import type { Redis } from 'ioredis';

/** The hash slot of a key on a Redis Cluster (CRC16 of its hash tag, or of the key, mod 16384). */
export function slotOf(key: string): number {
  return calculateSlot(key);
}

/** A node of a Redis Cluster as CLUSTER SLOTS names it. */
export interface ClusterNode {
  readonly id: string;
  readonly host: string;
  readonly port: number;
}

/** A master of a Redis Cluster with the slot ranges it serves (inclusive: [[from, to], ...]) and its replicas. */
export interface ClusterMaster extends ClusterNode {
  readonly slots: ReadonlyArray<readonly [number, number]>;
  readonly replicas: readonly ClusterNode[];
}

/** CLUSTER SLOTS: per range, its first and last slot, its master, then its replicas, each [host, port, id, ...]. */
export type SlotsReply = Array<[number, number, ...Array<[string, number, string?, ...unknown[]]>]>;

/** The masters of a CLUSTER SLOTS reply with their slots and replicas, in slot order. */
export function mastersOf(reply: SlotsReply): ClusterMaster[] {
  const byId = new Map<string, { id: string; host: string; port: number; slots: Array<[number, number]>; replicas: Map<string, ClusterNode> }>();
  const node = (n: [string, number, string?, ...unknown[]]): ClusterNode => ({ id: n[2] ?? `${n[0]}:${n[1]}`, host: n[0], port: Number(n[1]) });
  for (const [from, to, ...nodes] of reply) {
    const [master, ...replicas] = nodes;
    if (!master) continue;
    const m = node(master);
    const entry = byId.get(m.id) ?? { ...m, slots: [] as Array<[number, number]>, replicas: new Map<string, ClusterNode>() };
    entry.slots.push([Number(from), Number(to)]);
    for (const r of replicas) entry.replicas.set(node(r).id, node(r));
    byId.set(m.id, entry);
  }
  return [...byId.values()]
    .map((m) => ({ id: m.id, host: m.host, port: m.port, slots: m.slots.sort((a, b) => a[0] - b[0]), replicas: [...m.replicas.values()] }))
    .sort((a, b) => (a.slots[0]?.[0] ?? 0) - (b.slots[0]?.[0] ?? 0));
}

/** The masters of the cluster `node` belongs to (CLUSTER SLOTS, which managed clusters allow). */
export async function clusterMasters(node: Redis): Promise<ClusterMaster[]> {
  return mastersOf((await node.call('CLUSTER', 'SLOTS')) as SlotsReply);
}

/** Whether `slot` lies in one of `ranges`. */
export function inRanges(slot: number, ranges: ReadonlyArray<readonly [number, number]>): boolean {
  return ranges.some(([from, to]) => slot >= from && slot <= to);
}

/**
 * A hash tag whose slot lies in `ranges` (a master's slots): the first of `s0`, `s1`, … that does,
 * so that every runtime picks the same one for the same slots. wbsync's keys of a shard (its
 * backlog streams, their counters, leases, dead letters, echoes) carry it, so that they all live
 * on that master, next to the keys they capture, and one script can touch them together.
 */
export function tagIn(ranges: ReadonlyArray<readonly [number, number]>): string {
  if (ranges.length === 0) throw new Error('a master without slots has no shard tag');
  for (let i = 0; ; i++) {
    const tag = `s${i}`;
    if (inRanges(slotOf(`{${tag}}`), ranges)) return tag;
  }
}
