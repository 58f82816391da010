/**
 * Every key wbsync keeps in Redis, under one namespace (`--namespace`, default `wb`). The
 * runtime never captures keys under its own namespace.
 */
export class Keys {
  readonly ns: string;

  constructor(ns: string) {
    this.ns = ns;
  }

  /** Hash: recipe name -> JSON metadata (version, sha, uploadedAt, file). */
  recipes(): string { return `${this.ns}:recipes`; }
  /** String: the bundled code of a recipe. */
  code(name: string): string { return `${this.ns}:code:${name}`; }
  /** Set: names of paused recipes (captured, not written). */
  paused(): string { return `${this.ns}:paused`; }
  /** Hash: parameter name -> value (the store behind configGet). */
  params(): string { return `${this.ns}:params`; }
  /** Pub/sub channel: uploads and unregistrations. */
  control(): string { return `${this.ns}:control`; }
  /** String with a TTL: a bundle being uploaded, which every live runtime evaluates before it is stored (`upload`'s prepare). */
  candidate(nonce: string): string { return `${this.ns}:candidate:${nonce}`; }
  /** Stream: a runtime's verdict on each uploaded recipe. */
  verdicts(): string { return `${this.ns}:verdicts`; }
  /** Set of runtime ids that have run; each is alive while its heartbeat key exists. */
  runtimes(): string { return `${this.ns}:runtimes`; }
  /** String with a TTL: a live runtime's heartbeat. */
  runtime(id: string): string { return `${this.ns}:runtime:${id}`; }
  /**
   * Stream: partition `p` of a recipe's durable backlog (kept across versions). The partition
   * is the hash tag, so that on a Redis Cluster the partitions of one recipe spread over slots.
   */
  backlog(name: string, p: number): string { return `${this.ns}:backlog:{${name}/${p}}`; }
  /** Every partition stream of a recipe's backlog. */
  backlogs(name: string, partitions: number): string[] { return Array.from({ length: partitions }, (_, p) => this.backlog(name, p)); }
  /** Stream: layout 1's single backlog of a recipe, migrated into the partitions (`registry/migrate.ts`). */
  legacyBacklog(name: string): string { return `${this.ns}:backlog:${name}`; }
  /** Hash: recipe name -> its backlog's partition count, fixed while the backlog exists. */
  partitions(): string { return `${this.ns}:partitions`; }
  /** String with a TTL: the fenced lease on partition `p` of a recipe ("<token> <runtime>"). */
  lease(name: string, p: number): string { return `${this.ns}:lease:{${name}/${p}}`; }
  /** String with a TTL: the lease on capture (one runtime subscribes and snapshots). */
  captureLease(): string { return `${this.ns}:lease:capture`; }
  /** String: the counter every lease's tokens come from (each grant gets a larger one). */
  leaseTokens(): string { return `${this.ns}:lease-tokens`; }
  /** Stream: records the database rejected, at most one per key (the newest). */
  deadLetters(name: string): string { return `${this.ns}:dlq:${name}`; }
  /** Hash: key -> id of its entry in the dead-letter stream. */
  deadLetterIndex(name: string): string { return `${this.ns}:dlqidx:${name}`; }
  /** String without TTL: gone means Redis lost our keys (FLUSHDB/FLUSHALL, restart without persistence). */
  sentinel(): string { return `${this.ns}:sentinel`; }
  /** Hash: key -> events the capture script caused itself and must not take for changes. */
  echoes(name: string): string { return `${this.ns}:echoes:${name}`; }
  /**
   * Hash: write-through marks, the stream id of the last change applied per key and field, so
   * that a redelivered older entry never overwrites a newer one (`writer/through-marks.ts`).
   */
  throughMarks(name: string): string { return `${this.ns}:wtmarks:${name}`; }
  /** Stream: the recipe's last hour of samples (backlog, rows/s, lag) for the status page; trimmed by MINID. */
  history(name: string): string { return `${this.ns}:history:${name}`; }
  /** String: the version of the layout of these keys (`registry/layout.ts`). */
  layout(): string { return `${this.ns}:layout`; }
  /** Hash: counters and state of a recipe as the runtime last reported them. */
  status(name: string): string { return `${this.ns}:status:${name}`; }
}

/** The consumer group every runtime reads a backlog with. */
export const GROUP = 'writers';
