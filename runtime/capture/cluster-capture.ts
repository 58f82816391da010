import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Keys } from '../keys.ts';
import { inRanges, slotOf, tagIn, type ClusterMaster } from '../redis/cluster.ts';
import { CaptureQueue, classifyEvent, mayBeEcho, type CaptureTarget, type ChangeKind } from './capture-queue.ts';
import { MasterSubscriptions } from './master-subscriptions.ts';
import { reconcileKeys } from './reconcile.ts';

/** What one recipe captures: its key glob and its capture target for a shard's keys. */
export interface ClusterRecipe {
  readonly name: string;
  /** The glob of its keys (capturePattern), without the keyspace channel's prefix. */
  readonly pattern: string;
  readonly target: (shard: Keys) => CaptureTarget;
}

export interface ClusterCaptureOptions {
  readonly seeds: ReadonlyArray<{ readonly host: string; readonly port: number }>;
  /** A plain connection to one node, with the bins' auth and TLS options. */
  readonly open: (host: string, port: number, role: 'subscriber' | 'topology' | 'config' | 'commands') => Redis;
  /** The namespace's keys on the cluster (`new Keys(ns, { cluster: true })`). */
  readonly keys: Keys;
  readonly recipes: readonly ClusterRecipe[];
  readonly log: Logger;
  readonly refreshMs?: number;
  /** The logical database of the keyspace channels (0 on a cluster). */
  readonly db?: number;
}

interface MasterCapture {
  readonly master: ClusterMaster;
  readonly tag: string;
  readonly conn: Redis;
  /** Per recipe. */
  readonly queues: Map<string, CaptureQueue>;
}

/**
 * Capture on a Redis Cluster: each master's events (MasterSubscriptions) are snapshotted on that
 * master, into the streams of its shard (`keys.shard(tagIn(master.slots))`), by one CaptureQueue
 * per recipe and master over a command connection to it. A key the script finds on another node
 * (its slot moved, or the topology here is behind) is captured again on the master that owns its
 * slot after the topology is read again: never taken for a delete. A master listened to anew (a
 * start, a promoted replica, an added master) or again (a dropped subscription) has its keys
 * reconciled: a SCAN of that node only.
 */
export class ClusterCapture {
  private readonly opts: ClusterCaptureOptions;
  private readonly subs: MasterSubscriptions;
  private readonly masters = new Map<string, MasterCapture>();
  private readonly prefix: string;
  private readonly reconciles = new Set<Promise<void>>();
  private stopped = false;

  constructor(opts: ClusterCaptureOptions) {
    this.opts = opts;
    this.prefix = `__keyspace@${opts.db ?? 0}__:`;
    this.subs = new MasterSubscriptions({
      seeds: opts.seeds,
      open: (host, port, role) => opts.open(host, port, role),
      log: opts.log,
      ...(opts.refreshMs === undefined ? {} : { refreshMs: opts.refreshMs }),
      onEvent: (master, pattern, channel, event) => this.onEvent(master, pattern, channel, event),
      onListening: (master, why) => this.reconcile(master, why === 'new' ? 'listening to a new master' : 'subscription restored'),
      onTopology: (masters) => this.follow(masters),
    });
  }

  async start(): Promise<void> {
    for (const r of this.opts.recipes) await this.subs.psubscribe(`${this.prefix}${r.pattern}`);
    await this.subs.start();
  }

  /** The masters as last read, with the shard tag each captures into. */
  get shards(): Array<{ master: ClusterMaster; tag: string }> {
    return [...this.masters.values()].map((m) => ({ master: m.master, tag: m.tag }));
  }

  /** Resolves once every capture and reconcile started so far has finished. */
  async flushed(): Promise<void> {
    while (this.reconciles.size) await Promise.all([...this.reconciles]);
    await Promise.all([...this.masters.values()].flatMap((m) => [...m.queues.values()].map((q) => q.flushed())));
  }

  stop(): void {
    this.stopped = true;
    this.subs.stop();
    for (const m of this.masters.values()) {
      for (const q of m.queues.values()) q.abandon();
      m.conn.disconnect();
    }
    this.masters.clear();
  }

  /** The capture of the master that owns `key`'s slot, as last read. */
  private ownerOf(key: string): MasterCapture | undefined {
    const slot = slotOf(key);
    for (const m of this.masters.values()) if (inRanges(slot, m.master.slots)) return m;
    return undefined;
  }

  private captureOf(master: ClusterMaster): MasterCapture {
    const known = this.masters.get(master.id);
    if (known) return known;
    const conn = this.opts.open(master.host, master.port, 'commands');
    conn.on('error', () => undefined);
    const m: MasterCapture = { master, tag: tagIn(master.slots), conn, queues: new Map() };
    for (const r of this.opts.recipes) {
      m.queues.set(r.name, new CaptureQueue(conn, this.targetOf(r, m), this.opts.log.child({ master: `${master.host}:${master.port}`, recipe: r.name })));
    }
    this.masters.set(master.id, m);
    return m;
  }

  /** Recipe `r`'s capture target on master `m`'s shard: keys found elsewhere go to their owner. */
  private targetOf(r: ClusterRecipe, m: MasterCapture): CaptureTarget {
    return { ...r.target(this.opts.keys.shard(m.tag)), elsewhere: (keys, kinds) => this.elsewhere(r.name, m, keys, kinds) };
  }

  /**
   * A new topology. A master gone (failed over, removed) or whose slots changed loses its
   * captures: what they had pending is dropped, and its keys are reconciled where they live now
   * (a promoted replica or an added master is reconciled when its subscription starts).
   */
  private follow(masters: readonly ClusterMaster[]): void {
    for (const [id, m] of this.masters) {
      const now = masters.find((x) => x.id === id);
      if (now && JSON.stringify(now.slots) === JSON.stringify(m.master.slots)) continue;
      this.masters.delete(id);
      for (const q of m.queues.values()) q.abandon();
      m.conn.disconnect();
      if (now) this.reconcile(now, 'its slots changed');
    }
    for (const master of masters) this.captureOf(master);
  }

  private onEvent(master: ClusterMaster, pattern: string, channel: Buffer, event: Buffer): void {
    const name = event.toString();
    const kind = classifyEvent(name);
    if (kind === undefined) return;
    const key = channel.toString('utf8', this.prefix.length);
    const m = this.captureOf(master);
    for (const r of this.opts.recipes) {
      if (`${this.prefix}${r.pattern}` !== pattern) continue;
      const q = m.queues.get(r.name);
      if (q?.accepts(key)) q.push(key, kind, mayBeEcho(name));
    }
  }

  /**
   * Keys master `from` does not hold: captured on their owner once the topology has been read
   * again. Still shown on `from` (the topology is behind the move), they are tried again shortly.
   */
  private elsewhere(recipe: string, from: MasterCapture, keys: readonly string[], kinds: readonly ChangeKind[]): void {
    void this.subs.refresh().catch((err) => this.opts.log.warn({ err: String(err) }, 'reading the cluster topology failed')).then(() => {
      if (this.stopped) return;
      const again: Array<[string, ChangeKind]> = [];
      keys.forEach((key, i) => {
        const owner = this.ownerOf(key);
        const kind = kinds[i] ?? 'c';
        if (owner && owner.master.id !== from.master.id) owner.queues.get(recipe)?.push(key, kind);
        else again.push([key, kind]);
      });
      if (again.length) setTimeout(() => this.elsewhere(recipe, from, again.map(([k]) => k), again.map(([, k]) => k)), 200).unref();
    });
  }

  private reconcile(master: ClusterMaster, why: string): void {
    if (this.stopped) return;
    const m = this.captureOf(master);
    const p = (async () => {
      for (const r of this.opts.recipes) {
        const n = await reconcileKeys(m.conn, r.pattern, this.targetOf(r, m), () => this.stopped);
        this.opts.log.info({ master: `${master.host}:${master.port}`, recipe: r.name, keys: n, why }, 'reconciled a master');
      }
    })().catch((err) => this.opts.log.warn({ master: `${master.host}:${master.port}`, err: String(err) }, 'reconcile of a master failed')).finally(() => this.reconciles.delete(p));
    this.reconciles.add(p);
  }
}
