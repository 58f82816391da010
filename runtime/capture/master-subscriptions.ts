import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { withDeadline } from '../connectors/timeouts.ts';
import { errorText } from '../writer/table-writer.ts';
import { mastersOf, type ClusterMaster, type SlotsReply } from '../redis/cluster.ts';
import { ensureKeyspaceEvents } from './keyspace-config.ts';

/** How long one node may take to answer a topology read or a configuration (ms). */
const NODE_TIMEOUT_MS = 2000;

export interface MasterSubscriptionsOptions {
  /** Nodes to read the topology from before any is known (the one the bins were given). */
  readonly seeds: ReadonlyArray<{ readonly host: string; readonly port: number }>;
  /** A plain connection to one node, with the bins' auth and TLS options. */
  readonly open: (host: string, port: number, role: 'subscriber' | 'topology' | 'config') => Redis;
  readonly log: Logger;
  /** A keyspace event from the subscription on `master`. */
  readonly onEvent: (master: ClusterMaster, pattern: string, channel: Buffer, event: Buffer) => void;
  /**
   * The subscription on `master` started (`new`: a master not listened to before, a promoted
   * replica among them) or came back after a drop (`reconnect`): events published meanwhile
   * are lost, so that master's keys need a reconcile.
   */
  readonly onListening: (master: ClusterMaster, why: 'new' | 'reconnect') => void;
  /** The masters changed (added, removed, promoted, slots moved). */
  readonly onTopology?: (masters: readonly ClusterMaster[]) => void;
  /** How often the topology is read again (ms); also soon after a subscription drops. */
  readonly refreshMs?: number;
}

interface Listener {
  shard: ClusterMaster;
  readonly conn: Redis;
  dropped: boolean;
}

/**
 * Keyspace notifications on a Redis Cluster: each node publishes only its own keys' events, and
 * a cluster client's PSUBSCRIBE reaches one node. So one plain subscriber connection per master,
 * each subscribed to every pattern; the topology (CLUSTER SLOTS) is read again every few
 * seconds and soon after a subscription drops, which is how a failover's promoted replica, an
 * added master or a removed one is found. notify-keyspace-events is set on every node, replicas
 * included (a promoted replica publishes only if it was configured before).
 */
export class MasterSubscriptions {
  private readonly opts: MasterSubscriptionsOptions;
  private readonly patterns = new Set<string>();
  private readonly listeners = new Map<string, Listener>();
  private shards: ClusterMaster[] = [];
  private timer: NodeJS.Timeout | undefined;
  private soon: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;
  private stopped = false;
  /** Problems setting notify-keyspace-events, per node address ('' when none). */
  private readonly configProblems = new Map<string, string>();

  constructor(opts: MasterSubscriptionsOptions) {
    this.opts = opts;
  }

  /** Reads the topology and subscribes on every master; then keeps the subscriptions current. */
  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => void this.refresh().catch(() => undefined), this.opts.refreshMs ?? 5000);
    this.timer.unref();
  }

  /** The masters as last read. */
  get masters(): readonly ClusterMaster[] {
    return this.shards;
  }

  /** What could not be set on which node (notify-keyspace-events), or [] when every node is set. */
  get problems(): string[] {
    return [...this.configProblems.entries()].filter(([, m]) => m !== '').map(([at, m]) => `${at}: ${m}`);
  }

  async psubscribe(pattern: string): Promise<void> {
    if (this.patterns.has(pattern)) return;
    this.patterns.add(pattern);
    // A listener whose node does not answer (dead, until the topology drops it) subscribes when
    // its connection comes back, or is replaced: it does not hold the others up.
    await Promise.all([...this.listeners.values()].map((l) => withDeadline(NODE_TIMEOUT_MS, () => l.conn.psubscribe(pattern)).catch((err: unknown) => {
      this.opts.log.warn({ master: `${l.shard.host}:${l.shard.port}`, err: errorText(err) }, 'subscribing on a master did not answer');
    })));
  }

  async punsubscribe(pattern: string): Promise<void> {
    if (!this.patterns.delete(pattern)) return;
    await Promise.all([...this.listeners.values()].map((l) => withDeadline(NODE_TIMEOUT_MS, () => l.conn.punsubscribe(pattern)).catch(() => undefined)));
  }

  /** Reads CLUSTER SLOTS again (one read at a time) and follows it. */
  refresh(): Promise<void> {
    this.refreshing ??= this.follow().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.soon);
    for (const l of this.listeners.values()) l.conn.disconnect();
    this.listeners.clear();
  }

  /**
   * The topology from the first node that answers within NODE_TIMEOUT_MS: known masters, their
   * replicas, then the seeds (a dead master's address must not hold the others up).
   */
  private async readTopology(): Promise<ClusterMaster[]> {
    const candidates = [...this.shards.flatMap((s) => [s, ...s.replicas]), ...this.opts.seeds];
    let last: unknown;
    for (const { host, port } of candidates) {
      const conn = this.opts.open(host, port, 'topology');
      conn.on('error', () => undefined);
      try {
        const shards = mastersOf((await withDeadline(NODE_TIMEOUT_MS, () => conn.call('CLUSTER', 'SLOTS'))) as SlotsReply);
        if (shards.length) return shards;
      } catch (err) {
        last = err;
      } finally {
        conn.disconnect();
      }
    }
    throw new Error(`no node of the cluster answered CLUSTER SLOTS (${candidates.map((c) => `${c.host}:${c.port}`).join(', ')}): ${errorText(last)}`);
  }

  private async follow(): Promise<void> {
    if (this.stopped) return;
    const shards = await this.readTopology();
    if (this.stopped) return;
    const changed = JSON.stringify(shards) !== JSON.stringify(this.shards);
    this.shards = shards;
    const ids = new Set(shards.map((s) => s.id));
    // Gone or demoted masters: their subscription ends (their slots' events come from the new owner).
    for (const [id, l] of this.listeners) {
      if (ids.has(id)) continue;
      this.listeners.delete(id);
      l.conn.disconnect();
      this.opts.log.info({ master: `${l.shard.host}:${l.shard.port}` }, 'no longer a master: its subscription ends');
    }
    // Notifications set first: a master listened to anew is reconciled at once, and must publish
    // every change after that reconcile's scan.
    if (changed) await this.configure(shards);
    for (const shard of shards) {
      const l = this.listeners.get(shard.id);
      if (l) {
        l.shard = shard;
        continue;
      }
      try {
        await this.listen(shard);
      } catch (err) {
        // The others are listened to; this one is tried again soon.
        this.opts.log.warn({ master: `${shard.host}:${shard.port}`, err: errorText(err) }, 'cannot listen to a master; trying again');
        clearTimeout(this.soon);
        this.soon = setTimeout(() => void this.refresh().catch(() => undefined), 1000);
      }
    }
    if (changed) this.opts.onTopology?.(shards);
  }

  /** notify-keyspace-events on every node, replicas included. */
  private async configure(shards: readonly ClusterMaster[]): Promise<void> {
    const nodes = shards.flatMap((s) => [s, ...s.replicas]);
    // Nodes gone from the topology have no problem any more.
    const current = new Set(nodes.map(({ host, port }) => `${host}:${port}`));
    for (const at of this.configProblems.keys()) if (!current.has(at)) this.configProblems.delete(at);
    await Promise.all(nodes.map(async ({ host, port }) => {
      const at = `${host}:${port}`;
      const conn = this.opts.open(host, port, 'config');
      conn.on('error', () => undefined);
      try {
        const check = await withDeadline(NODE_TIMEOUT_MS, () => ensureKeyspaceEvents(conn));
        this.configProblems.set(at, check.kind === 'ok' ? '' : check.message);
      } catch (err) {
        // A node that does not answer (down, a replica resyncing) is not a capture problem: a
        // master that is down has no changes, and it is configured again when the topology
        // changes (a replica promoted is listened to, and set, as a new master).
        this.configProblems.set(at, '');
        this.opts.log.warn({ node: at, err: errorText(err) }, 'cannot set notify-keyspace-events on a node that does not answer; it is set when the topology next changes');
      } finally {
        conn.disconnect();
      }
    }));
  }

  private async listen(shard: ClusterMaster): Promise<void> {
    const conn = this.opts.open(shard.host, shard.port, 'subscriber');
    const l: Listener = { shard, conn, dropped: false };
    this.listeners.set(shard.id, l);
    conn.on('error', () => undefined);
    conn.on('pmessageBuffer', (pattern: string, channel: Buffer, event: Buffer) => this.opts.onEvent(l.shard, String(pattern), channel, event));
    conn.on('close', () => {
      if (this.stopped || this.listeners.get(shard.id) !== l) return;
      l.dropped = true;
      // A failover shows in the topology once the replica is promoted: look again soon.
      clearTimeout(this.soon);
      this.soon = setTimeout(() => void this.refresh().catch(() => undefined), 1000);
    });
    conn.on('ready', () => {
      if (!l.dropped || this.listeners.get(shard.id) !== l) return;
      l.dropped = false;
      this.opts.onListening(l.shard, 'reconnect');
    });
    try {
      // A node the topology names but that does not answer (a dead master a lagging node still
      // lists, around a failover) must not hold the topology up: every later read would wait for it.
      await withDeadline(NODE_TIMEOUT_MS, async () => {
        for (const p of this.patterns) await conn.psubscribe(p);
      });
    } catch (err) {
      this.listeners.delete(shard.id);
      conn.disconnect();
      throw err;
    }
    this.opts.log.info({ master: `${shard.host}:${shard.port}` }, 'listening to a master');
    this.opts.onListening(shard, 'new');
  }
}
