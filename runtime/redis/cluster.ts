import calculateSlot from 'cluster-key-slot';
import type { Redis } from 'ioredis';

/** The hash slot of a key on a Redis Cluster (CRC16 of its hash tag, or of the key, mod 16384). */
export function slotOf(key: string): number {
  return calculateSlot(key);
}

/** A master of a Redis Cluster, as CLUSTER SLOTS lists it. */
export interface ClusterMaster {
  readonly id: string;
  readonly host: string;
  readonly port: number;
  /** The slot ranges it serves, inclusive: [[from, to], ...]. */
  readonly slots: ReadonlyArray<readonly [number, number]>;
}

/** CLUSTER SLOTS: per range, its first and last slot, then its master and replicas as [host, port, id, ...]. */
type SlotsReply = Array<[number, number, [string, number, string?, ...unknown[]], ...unknown[]]>;

/** The masters of the cluster `node` belongs to, with their slots (CLUSTER SLOTS, which managed clusters allow). */
export async function clusterMasters(node: Redis): Promise<ClusterMaster[]> {
  const reply = (await node.call('CLUSTER', 'SLOTS')) as SlotsReply;
  const byId = new Map<string, { id: string; host: string; port: number; slots: Array<[number, number]> }>();
  for (const [from, to, master] of reply) {
    const [host, port, id = `${host}:${port}`] = master;
    const m = byId.get(id) ?? { id, host, port: Number(port), slots: [] as Array<[number, number]> };
    m.slots.push([Number(from), Number(to)]);
    byId.set(id, m);
  }
  return [...byId.values()].sort((a, b) => (a.slots[0]?.[0] ?? 0) - (b.slots[0]?.[0] ?? 0));
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
