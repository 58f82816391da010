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
  /** Stream: a runtime's verdict on each uploaded recipe. */
  verdicts(): string { return `${this.ns}:verdicts`; }
  /** Set of runtime ids that have run; each is alive while its heartbeat key exists. */
  runtimes(): string { return `${this.ns}:runtimes`; }
  /** String with a TTL: a live runtime's heartbeat. */
  runtime(id: string): string { return `${this.ns}:runtime:${id}`; }
  /** Stream: the durable backlog of a recipe (kept across versions). */
  backlog(name: string): string { return `${this.ns}:backlog:${name}`; }
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
