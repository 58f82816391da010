/**
 * What a recipe's worker and its write pipeline may do with each partition of its backlog: the
 * runtime answers from its partition leases (`partitions.ts`).
 */
export interface PartitionAccess {
  /** The lease value finish.lua checks for partition `p`. */
  fence(p: number): string;
  /** True while a write of `p` may still commit (held, deadline ahead). */
  valid(p: number): boolean;
  /** How long a write of `p` starting now may take (Infinity: no lease limits it). */
  writeBudgetMs(p: number): number;
  /** A finish found the lease of `p` gone. */
  lostByFinish(p: number): void;
}

/** Every partition, no fence: a worker that is the only writer by construction. */
export const ALL_PARTITIONS: PartitionAccess = { fence: () => '', valid: () => true, writeBudgetMs: () => Infinity, lostByFinish: () => undefined };
