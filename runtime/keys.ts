/**
 * Every key wbsync keeps in Redis, under one namespace (`--namespace`, default `wb`). The
 * runtime never captures keys under its own namespace.
 *
 * Two scopes. Namespace-wide keys (the registry, parameters, heartbeats, runtime-reported
 * status) are written together: on a Redis Cluster they all carry the hash tag `{<ns>}`, one
 * slot. Shard keys (a backlog's streams and what its scripts touch with them: counters, leases
 * and their tokens, dead letters, echoes, write-through marks) live next to the data they
 * capture: on a cluster, under a shard's tag (`<ns>:{<tag>}:…`, a slot of one master; see
 * redis/cluster.ts `tagIn`). On a single server both scopes are the plain `<ns>:…` names, and
 * `shard()` is the keys themselves: the layout there does not change.
 */
export class Keys {
  /** The namespace as given (`--namespace`). */
  readonly ns: string;
  /** Prefix of namespace-wide keys. */
  private readonly g: string;
  /** Prefix of shard keys; undefined for a cluster's namespace-wide keys, which name no shard. */
  private readonly s: string | undefined;

  constructor(ns: string, layout: { readonly cluster?: boolean; readonly shard?: string } = {}) {
    this.ns = ns;
    this.g = layout.cluster ? `{${ns}}` : ns;
    this.s = !layout.cluster ? ns : layout.shard === undefined ? undefined : `${ns}:{${layout.shard}}`;
  }

  /** Whether these are a cluster's keys. */
  get cluster(): boolean {
    return this.g !== this.ns;
  }

  /** The keys of shard `tag` (a cluster's); on a single server, these keys. */
  shard(tag: string): Keys {
    return this.cluster ? new Keys(this.ns, { cluster: true, shard: tag }) : this;
  }

  /** The prefix of shard keys; a cluster's namespace-wide keys name no shard. */
  private get sp(): string {
    if (this.s === undefined) throw new Error(`a shard key of namespace '${this.ns}' was asked for without a shard (Keys.shard)`);
    return this.s;
  }

  /** Hash: recipe name -> JSON metadata (version, sha, uploadedAt, file). */
  recipes(): string { return `${this.g}:recipes`; }
  /** String: the bundled code of a recipe. */
  code(name: string): string { return `${this.g}:code:${name}`; }
  /** Set: names of paused recipes (captured, not written). */
  paused(): string { return `${this.g}:paused`; }
  /** Hash: parameter name -> value (the store behind configGet). */
  params(): string { return `${this.g}:params`; }
  /** Pub/sub channel: uploads and unregistrations. */
  control(): string { return `${this.g}:control`; }
  /** Set: a cluster's shard tags that ever held streams (so none is orphaned when slots move); unused on a single server. */
  shards(): string { return `${this.g}:shards`; }
  /** String with a TTL: a bundle being uploaded, which every live runtime evaluates before it is stored (`upload`'s prepare). */
  candidate(nonce: string): string { return `${this.g}:candidate:${nonce}`; }
  /** Stream: a runtime's verdict on each uploaded recipe. */
  verdicts(): string { return `${this.g}:verdicts`; }
  /** Set of runtime ids that have run; each is alive while its heartbeat key exists. */
  runtimes(): string { return `${this.g}:runtimes`; }
  /** String with a TTL: a live runtime's heartbeat. */
  runtime(id: string): string { return `${this.g}:runtime:${id}`; }
  /**
   * Stream: partition `p` of a recipe's durable backlog (kept across versions). On a cluster
   * the shard's tag comes first and decides the slot; the partition's braces after it are a
   * single server's layout, kept as it was.
   */
  backlog(name: string, p: number): string { return `${this.sp}:backlog:{${name}/${p}}`; }
  /** Every partition stream of a recipe's backlog. */
  backlogs(name: string, partitions: number): string[] { return Array.from({ length: partitions }, (_, p) => this.backlog(name, p)); }
  /** Stream: layout 1's single backlog of a recipe, migrated into the partitions (`registry/migrate.ts`). */
  legacyBacklog(name: string): string { return `${this.g}:backlog:${name}`; }
  /** Hash: recipe name -> its backlog's partition count, fixed while the backlog exists. */
  partitions(): string { return `${this.g}:partitions`; }
  /** String with a TTL: the fenced lease on partition `p` of a recipe ("<token> <runtime>"). */
  lease(name: string, p: number): string { return `${this.sp}:lease:{${name}/${p}}`; }
  /** String with a TTL: the lease on capture (one runtime subscribes and snapshots). */
  captureLease(): string { return `${this.sp}:lease:capture`; }
  /** String: the counter every lease's tokens come from (each grant gets a larger one). */
  leaseTokens(): string { return `${this.sp}:lease-tokens`; }
  /** Stream: records the database rejected, at most one per key (the newest). */
  deadLetters(name: string): string { return `${this.sp}:dlq:${name}`; }
  /** Hash: key -> id of its entry in the dead-letter stream. */
  deadLetterIndex(name: string): string { return `${this.sp}:dlqidx:${name}`; }
  /** String without TTL: gone means Redis lost our keys (FLUSHDB/FLUSHALL, restart without persistence). */
  sentinel(): string { return `${this.sp}:sentinel`; }
  /** Hash: key -> events the capture script caused itself and must not take for changes. */
  echoes(name: string): string { return `${this.sp}:echoes:${name}`; }
  /**
   * Hash: write-through marks, the stream id of the last change applied per key and field, so
   * that a redelivered older entry never overwrites a newer one (`writer/through-marks.ts`).
   */
  throughMarks(name: string): string { return `${this.sp}:wtmarks:${name}`; }
  /** Stream: the recipe's last hour of samples (backlog, rows/s, lag) for the status page; trimmed by MINID. */
  history(name: string): string { return `${this.g}:history:${name}`; }
  /** String: the version of the layout of these keys (`registry/layout.ts`). */
  layout(): string { return `${this.g}:layout`; }
  /** Hash: state of a recipe as the runtimes last reported it (version, state, errors, warnings). */
  status(name: string): string { return `${this.g}:status:${name}`; }
  /**
   * Hash: the counters the backlog's scripts keep with its streams (`queued`, `synced`,
   * `deadLettered`, `deadLetters`). On a single server the status hash itself.
   */
  counters(name: string): string { return this.cluster ? `${this.sp}:counters:${name}` : this.status(name); }
}

/** The consumer group every runtime reads a backlog with. */
export const GROUP = 'writers';
