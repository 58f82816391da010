import { isUtf8 } from 'node:buffer';
import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Registration } from '../recipes/options.ts';
import { classifyEvent, mayBeEcho } from './capture/capture-queue.ts';
import { FlushWatch } from './capture/flush-notice.ts';
import { ensureKeyspaceEvents, ensureOnReplicas, type KeyspaceCheck } from './capture/keyspace-config.ts';
import { assertDriverInstalled } from './connectors/drivers.ts';
import type { DbTimeouts } from './connectors/types.ts';
import { capturePattern } from './capture/targets.ts';
import { beat, claimRuntimeId, DEFAULT_HEARTBEAT_TTL_MS, liveRuntimes, type RuntimeInfo } from './heartbeat.ts';
import { Lease, type LeaseOptions } from './lease/lease.ts';
import { PartitionLeases, statementTimeoutFor } from './lease/partitions.ts';
import { DEFAULT_DB_TIMEOUTS, serverStatementTimeoutMs } from './connectors/timeouts.ts';
import { Keys } from './keys.ts';
import { ParamStore } from './params/param-store.ts';
import { RecipeWorker, type WorkerOptions } from './recipe-worker.ts';
import { ONLY_SHARD, RecipeShards } from './recipe-shards.ts';
import { MasterSubscriptions } from './capture/master-subscriptions.ts';
import type { ChangeKind } from './capture/capture-queue.ts';
import { clusterMasters, inRanges, slotOf, tagIn, type ClusterMaster } from './redis/cluster.ts';
import { connectCluster, connectNode, type RedisShape } from './redis/cluster-client.ts';
import { backlogTotals, oldestEntryMs, partitionCounts, shardTags } from './backlog/streams.ts';
import { connectRedis, keepConnected } from './redis/connect.ts';
import { redisTarget, replicaFlags } from './redis/flags.ts';
import { refuseCluster, serverIdentity } from './redis/topology.ts';
import { execChecked } from './redis/exec.ts';
import { redisUnavailable, shardTagsOn } from './redis/nodes.ts';
import { entryFields, streamIdMs } from './redis/stream.ts';
import { EvictionPolicyWatch } from './redis/eviction-policy.ts';
import { FlagError, type RedisFlags } from './redis/flags.ts';
import { LAYOUT, migrateLayout } from './registry/layout.ts';
import { loadRegistration } from './registry/load.ts';
import { HttpServer, type HttpAddress, type Readiness, type StatusReport } from './http/server.ts';
import { Metrics, type RecipeSnapshot } from './metrics/metrics.ts';
import { RecipeStore, type RecipeMeta } from './registry/store.ts';
import type { SandboxLimits } from './sandbox/limits.ts';
import type { RecipeSandbox } from './sandbox/sandbox.ts';
import { errorText } from './writer/table-writer.ts';

export interface RuntimeOptions {
  readonly flags: RedisFlags;
  /** What the flags point at (`redis/cluster-client.ts` detectShape): a single server when absent. */
  readonly shape?: RedisShape;
  /** Runtime id, also its consumer name in every backlog group. */
  readonly id: string;
  readonly retry: { readonly minMs: number; readonly maxMs: number };
  readonly claimIdleMs: number;
  /** How often stored recipes are re-read (a safety net for a missed control message). */
  readonly pollMs: number;
  /** Run under an `allkeys-*` maxmemory-policy, which can evict wbsync's own keys. */
  readonly allowEviction: boolean;
  /** Database connect and call timeouts for every worker (the drivers' defaults when absent). */
  readonly db?: DbTimeouts;
  /** Time limits on recipe code (the defaults when absent). */
  readonly sandbox?: SandboxLimits;
  /** Where /metrics, /healthz, /readyz and the status page are served; off when absent. */
  readonly http?: HttpAddress;
  /** How often each recipe's sample (backlog, rows/s, lag) is added to its hour of history (10 s when absent). */
  readonly historyEveryMs?: number;
  /**
   * The address is the default, not asked for: when it is taken (another runtime on this host),
   * the runtime warns and runs without it instead of refusing to start.
   */
  readonly httpIsDefault?: boolean;
  /** How long a partition or capture lease (and a heartbeat) lasts without renewal; 10 s when absent. */
  readonly leaseTtlMs?: number;
  /**
   * How much earlier than a lease's TTL this runtime stops committing (`lease/lease.ts`): it
   * covers the database's server-side statement timeout plus clock drift. TTL/2 when absent.
   */
  readonly leaseMarginMs?: number;
}

/** The runtime's life, one state at a time. */
export type RuntimeState = 'created' | 'starting' | 'running' | 'stopping' | 'stopped';

/** Control messages on the namespace's control channel. */
export interface ControlMessage {
  /**
   * sync: re-read the stored recipes; prepare: evaluate the bundle in `<ns>:candidate:<nonce>`
   * for `names` and say whether it would load (an upload's first phase); backlog: entries were queued for `names` (verify --fix,
   * dlq --replay); leases: a runtime joined, left or released partitions, look now;
   * capture-handover / capture-ready / capture-released: the capture lease changes hands
   * gracefully (see Runtime.handOverCapture).
   */
  readonly op: 'sync' | 'prepare' | 'backlog' | 'leases' | 'capture-handover' | 'capture-ready' | 'capture-released';
  /** The runtime that sent it, and the one it is meant for (capture handover). */
  readonly from?: string;
  readonly to?: string;
  /** With sync: the runtime reports a verdict for each of `names` on the verdicts stream. */
  readonly nonce?: string;
  readonly names?: readonly string[];
}

interface Outcome {
  readonly stamp: string;
  /** Loading it started a reconcile (a new recipe or prefix): `upload --wait` waits for it. */
  readonly reconciles?: boolean;
  readonly status: 'loaded' | 'failed';
  readonly error: string;
}

/** Rounds (200 ms apart, each after a topology read) before keys found elsewhere are captured again in the shard whose master the topology still names. */
const ELSEWHERE_SAME_SHARD_TRIES = 5;
/** Rounds (a minute) before keys found elsewhere that no master serves are logged as an error; they are tried every 2 s after. */
const ELSEWHERE_PATIENCE_TRIES = 300;

/** A recipe's install that failed only because Redis did not answer (`redisUnavailable`). */
class RedisUnavailableError extends Error {
  constructor(cause: unknown) {
    super(errorText(cause));
  }
}

/** Wires capture, backlog, writers and the recipe registry; one per process. */
export class Runtime {
  private readonly opts: RuntimeOptions;
  private readonly log: Logger;
  state: RuntimeState = 'created';
  private readonly keys: Keys;
  private readonly redis: Redis;
  private readonly sub: Redis;
  private readonly store: RecipeStore;
  /** Per recipe name: its workers, one per shard (one on a single server). */
  private readonly workers = new Map<string, RecipeShards>();
  /** Whether Redis is a cluster: its keys, capture and workers are per shard (see RecipeShards). */
  private readonly cluster: boolean;
  /** A cluster's seed nodes (the one the flags name). */
  private readonly seeds: ReadonlyArray<{ readonly host: string; readonly port: number }>;
  /** A cluster's masters as last read. */
  private masters: ClusterMaster[] = [];
  /** A cluster's shard tags that hold (or held) streams, and the master each lives on now. */
  private readonly tagOwners = new Map<string, string | undefined>();
  /** On a cluster: the masters (ids) whose keys were scanned for shard streams (`discoverShards`). */
  private readonly scannedMasters = new Set<string>();
  private discovering: Promise<void> | undefined;
  /** On a cluster: a node dropped since the topology was last read. */
  private inDoubt = false;
  /** While capturing on a cluster: one subscription per master. */
  private subs: MasterSubscriptions | undefined;
  /** Per recipe name: what is running, kept to restore the store after Redis loses it. */
  private readonly running = new Map<string, { meta: RecipeMeta; code: string }>();
  /** Per recipe name: the stored upload last acted on, and how that went. */
  private readonly outcomes = new Map<string, Outcome>();
  /** Per recipe name: the sandbox the running version's code runs in. */
  private readonly sandboxes = new Map<string, RecipeSandbox>();
  private readonly params: ParamStore;
  /** The prefix of its connections' names (CLIENT SETNAME): `wbsync-runtime:<id>`. */
  private readonly clientName: string;
  /** Counters and histograms for /metrics (none when --http is off). */
  private readonly metrics: Metrics | undefined;
  private http: HttpServer | undefined;
  /** The address it serves, advertised in its heartbeat (status shows it). */
  private httpAt: string | undefined;
  private historyTimer: NodeJS.Timeout | undefined;
  private sampledAt = performance.now();
  /** Redis's clock minus this host's, in ms, measured with TIME at start and at every sync. */
  private clockOffsetMs = 0;
  /** Paused recipe names as of the last sync, restored with the recipes after a flush. */
  private paused = new Set<string>();
  private readonly policy: EvictionPolicyWatch;
  private flushWatch: FlushWatch | undefined;
  /** The warning last written into the heartbeat, shown by `wb-cli status`. */
  private shownWarning: string | undefined;
  /** What the last keyspace-notification check found (re-checked at every sync). */
  private keyspace: KeyspaceCheck | undefined;
  private readonly patterns = new Map<string, Set<string>>();
  private channelPrefix = '';
  private replicaProblem = '';
  /** The run_id of the Redis server the commands connection talks to (a new one after a failover or a restart). */
  private serverId: string | undefined;
  private me: RuntimeInfo | undefined;
  private timer: NodeJS.Timeout | undefined;
  private syncing: Promise<void> = Promise.resolve();
  private readonly reconciles = new Set<Promise<void>>();
  private readonly leaseOpts: LeaseOptions;
  /** The database timeouts of every worker: the flags', with a statement timeout below the lease margin. */
  private readonly dbTimeouts: DbTimeouts;
  /** The partition leases this runtime holds, over every recipe. */
  private readonly leases: PartitionLeases;
  /** The capture lease, while this runtime holds it. */
  private captureLease: Lease | undefined;
  /** Another runtime held the capture lease at the last look. */
  private capturingElsewhere = false;
  /** Whether the change subscription is on: with the capture lease, or while taking capture over gracefully. */
  private capturing = false;
  /** Set while this runtime listens ahead of a graceful capture handover: no reconcile is needed when it takes the lease. */
  private listeningAhead = false;
  /** A graceful handover of capture waiting for the successor's `capture-ready`. */
  private handoverReady: (() => void) | undefined;
  private leaseTimer: NodeJS.Timeout | undefined;
  private leaseTicking: Promise<void> | undefined;
  /** Rows written as of the last heartbeat, for its rows/s. */
  private rowsAtBeat = { rows: 0, at: performance.now() };
  private rowsPerSec = 0;

  constructor(
    opts: RuntimeOptions,
    log: Logger,
  ) {
    this.opts = opts;
    this.log = log;
    const shape = opts.shape ?? { cluster: false };
    this.cluster = shape.cluster;
    this.seeds = shape.cluster ? shape.seeds : [];
    this.keys = new Keys(opts.flags.namespace, { cluster: this.cluster });
    // Named (CLIENT SETNAME), so CLIENT LIST shows which runtime and which role holds each.
    this.clientName = `wbsync-runtime:${clientNamePart(opts.id)}`;
    this.redis = this.connect('commands');
    this.sub = this.connect('subscriber');
    this.store = new RecipeStore(this.redis, this.keys);
    this.params = new ParamStore(this.redis, this.keys);
    this.metrics = opts.http ? new Metrics(() => this.snapshot(), () => this.captureLease !== undefined) : undefined;
    this.policy = new EvictionPolicyWatch(this.redis, opts.allowEviction, log);
    const ttlMs = opts.leaseTtlMs ?? DEFAULT_HEARTBEAT_TTL_MS;
    this.leaseOpts = { ttlMs, marginMs: opts.leaseMarginMs ?? Math.floor(ttlMs / 2) };
    if (this.leaseOpts.marginMs >= ttlMs) throw new FlagError(`--lease-margin-ms (${this.leaseOpts.marginMs}) must be below --lease-ttl-ms (${ttlMs})`);
    this.leases = new PartitionLeases(this.redis, this.keys, opts.id, this.leaseOpts, log);
    // Every statement ends on the server before its partition's lease could expire.
    const db = opts.db ?? DEFAULT_DB_TIMEOUTS;
    const statementTimeoutMs = statementTimeoutFor(this.leaseOpts.marginMs, db.statementTimeoutMs ?? serverStatementTimeoutMs(db.queryTimeoutMs));
    this.dbTimeouts = { ...db, statementTimeoutMs, idleInTransactionMs: statementTimeoutMs };
    for (const [name, conn] of [['redis', this.redis], ['subscriber', this.sub]] as const) {
      conn.on('error', (err: Error) => this.log.warn({ conn: name, err: err.message }, 'redis connection error'));
      keepConnected(conn, () => this.connectionsWanted(), () => this.log.warn({ conn: name }, 'redis connection ended; connecting again'));
    }
  }

  /**
   * A connection for `role`: to the server (or Sentinel's master), or on a cluster a cluster
   * client, which routes each command by its keys' slot (typed as a connection: the commands
   * the runtime sends are the same).
   */
  private connect(role: string): Redis {
    const extra = { maxRetriesPerRequest: null, connectionName: `${this.clientName}:${role}` };
    return this.cluster ? connectCluster(this.opts.flags, this.seeds, extra) as unknown as Redis : connectRedis(this.opts.flags, extra);
  }

  /**
   * The sentinel beside the namespace-wide keys: gone means Redis lost them (a flush, a restart
   * without persistence). On a cluster it is a shard key under the namespace's own tag, so in
   * the slot of the namespace-wide keys (`{<ns>}`).
   */
  private nsSentinel(): string {
    return this.cluster ? this.keys.shard(this.keys.ns).sentinel() : this.keys.sentinel();
  }

  /** A recipe's unit of partition leases: the recipe on a single server, one of its shards on a cluster. */
  private unit(name: string, tag: string): string {
    return this.cluster ? `${name}@${tag}` : name;
  }

  /** Whether the runtime's connections should live (not once it stops). */
  private connectionsWanted(): boolean {
    return this.state === 'created' || this.state === 'starting' || this.state === 'running';
  }

  /** Starts the runtime; a stop() meanwhile ends the start (it then rejects, and that is expected). */
  start(): Promise<void> {
    this.startPromise ??= this.run();
    return this.startPromise;
  }

  private startPromise: Promise<void> | undefined;

  private async run(): Promise<void> {
    this.state = 'starting';
    // First, so that /healthz answers (and /readyz says why not yet) while the start waits.
    if (this.opts.http && this.metrics) {
      const http = new HttpServer({ metrics: this.metrics, readiness: () => this.readiness(), status: () => this.statusReport() }, this.log);
      try {
        const at = await http.listen(this.opts.http);
        this.http = http;
        this.httpAt = `${at.host.includes(':') ? `[${at.host}]` : at.host}:${at.port}`;
        this.log.info({ http: this.httpAt }, 'serving /metrics, /healthz and /readyz');
      } catch (err) {
        if (!this.opts.httpIsDefault) throw err;
        this.log.warn({ err: errorText(err) }, 'not serving /metrics, /healthz and /readyz: the default address is taken; pass --http <port> (or --http off)');
      }
    }
    // Before anything is written: a Redis Cluster node is refused with what to do (not a bare
    // MOVED), and so is an allkeys-* policy without --allow-eviction.
    if (!this.cluster) await refuseCluster(this.redis, redisTarget(this.opts.flags).describe);
    await this.policy.atStart();
    // A namespace written by another wbsync key layout is left alone, one of an older layout is
    // migrated first (registry/layout.ts).
    await migrateLayout(this.redis, this.keys, this.opts.id, async () => (await liveRuntimes(this.redis, this.keys)).map((r) => r.id).filter((id) => id !== this.opts.id), this.log);
    this.me = await claimRuntimeId(this.redis, this.keys, this.opts.id, this.leaseOpts.ttlMs);
    if (this.httpAt) {
      this.me = { ...this.me, http: this.httpAt };
      await this.beat();
    }
    if (this.cluster) {
      // The shards: one per master, and any that held streams before; a sentinel key in each,
      // and one beside the namespace-wide keys (gone means their node lost its keys).
      await this.redis.set(this.nsSentinel(), this.opts.id, 'NX');
      await this.followTopology();
      // A node dropped from the client's pool (a master failed, or was removed): until the
      // topology is read again, every shard re-reads the entries it reads before writing them.
      (this.redis as unknown as Cluster).on('-node', () => {
        if (!this.connectionsWanted()) return;
        for (const w of this.workers.values()) w.serverInDoubt();
        this.inDoubt = true;
        void this.followTopology().catch((err) => this.topologyFailed(err));
      });
    } else {
      await this.redis.set(this.keys.sentinel(), this.opts.id, 'NX');
      this.flushWatch = new FlushWatch(this.opts.flags, this.keys.sentinel(), this.log, () => {
        if (this.state === 'running') this.requestSync();
      }, this.clientName);
      await this.flushWatch.start();
    }
    this.channelPrefix = `__keyspace@${this.cluster ? 0 : this.redis.options.db ?? 0}__:`;
    await this.checkKeyspaceEvents();
    // As bytes: a key name that is not UTF-8 must not be decoded into another key's name.
    this.sub.on('pmessageBuffer', (pattern: string, channel: Buffer, event: Buffer) => this.route(pattern, channel, event));
    this.sub.on('message', (_channel: string, message: string) => this.onControl(message));
    await this.sub.subscribe(this.keys.control());
    let first = true;
    this.sub.on('ready', () => {
      if (first) return;
      void this.checkKeyspaceEvents();
      this.requestSync();
      // On a cluster the change subscriptions are per master (MasterSubscriptions), not this one.
      if (!this.capturing || this.cluster) return;
      this.log.warn('change subscription was cut and is restored; events in between are lost, reconciling');
      for (const w of this.workers.values()) this.reconcileInBackground(w, 'subscription restored');
    });
    first = false;
    // A reconnect may be to a Redis restarted with another configuration: the sync re-checks it.
    // It may also be to another server (a failover): until that is known, entries read are
    // re-read before they are written.
    // On a cluster each shard's master is followed in the topology instead (followTopology).
    if (!this.cluster) {
      this.serverId = await this.readServerId();
      this.redis.on('close', () => {
        for (const w of this.workers.values()) w.serverInDoubt();
      });
      let firstReady = true;
      this.redis.on('ready', () => {
        if (firstReady) return;
        this.requestSync();
        void this.checkServer();
      });
      firstReady = false;
    }
    this.requestSync(undefined, true);
    await this.syncing;
    if (this.state !== 'starting') throw new Error('stopped while starting');
    this.timer = setInterval(() => this.requestSync(), this.opts.pollMs);
    // Leases: taken now (partitions spread over the live runtimes, capture by one of them),
    // renewed every fifth of their TTL with the heartbeat, and looked at again at once when a
    // runtime joins, leaves or hands partitions over (the `leases` control message).
    await this.tickLeases();
    this.leaseTimer = setInterval(() => void this.tickLeases(), Math.max(100, Math.floor(this.leaseOpts.ttlMs / 5)));
    await this.redis.publish(this.keys.control(), JSON.stringify({ op: 'leases', from: this.opts.id })).catch(() => 0);
    this.state = 'running';
    if (this.metrics) {
      this.sampledAt = performance.now();
      this.historyTimer = setInterval(() => void this.sampleHistory().catch((err) => this.log.debug({ err: errorText(err) }, 'history sample failed')), this.opts.historyEveryMs ?? 10_000);
    }
    this.log.info({ id: this.opts.id, recipes: this.workers.size }, 'runtime running');
  }

  /** Stops capture, lets every writer finish its in-flight batch, and closes connections. */
  async stop(): Promise<void> {
    if (this.state === 'stopping' || this.state === 'stopped') return;
    const starting = this.state !== 'running';
    this.state = 'stopping';
    clearInterval(this.timer);
    clearInterval(this.leaseTimer);
    clearInterval(this.historyTimer);
    if (starting) {
      // A start that has not finished may be waiting for a Redis that does not answer (down or
      // unreachable): nothing has been acknowledged yet that needs it, so cut the connections,
      // which ends the start, and leave. Whatever the start claimed expires with its TTLs.
      this.redis.disconnect();
      this.sub.disconnect();
      // A command queued while Redis was unreachable is not always rejected by the disconnect:
      // give the start a moment to end, not a promise that may never settle.
      await Promise.race([this.startPromise?.catch(() => undefined), new Promise((r) => setTimeout(r, 500))]);
      await Promise.all([...[...this.workers.values()].map((w) => w.stop().catch(() => undefined)), ...[...this.sandboxes.values()].map((sb) => sb.close())]);
      await this.flushWatch?.stop().catch(() => undefined);
      this.stopCapture();
      await this.http?.close().catch(() => undefined);
      this.state = 'stopped';
      this.log.info('runtime stopped before it was running');
      return;
    }
    // A graceful stop acknowledges what was written, which needs Redis. When Redis does not
    // answer (down for a second or more) there is nothing to wait for: what is in flight stays
    // pending in the backlog and the next start takes it up.
    const down = this.whenRedisDown(1000);
    const outcome = await Promise.race([this.drain().then(() => 'drained' as const), down.promise]);
    down.cancel();
    if (outcome === 'down') {
      this.log.warn('Redis does not answer: stopping without finishing in-flight batches; their entries stay pending and the next start takes them up');
      this.sub.disconnect();
      this.redis.disconnect();
      await Promise.all([...this.sandboxes.values()].map((sb) => sb.close()));
      await this.flushWatch?.stop().catch(() => undefined);
    }
    await this.http?.close();
    this.state = 'stopped';
    this.log.info('runtime stopped');
  }

  private async drain(): Promise<void> {
    await this.syncing.catch(() => undefined);
    await this.leaseTicking?.catch(() => undefined);
    // Out of the spread first, so that no runtime assigns it anything while it stops.
    if (this.me) await this.redis.del(this.keys.runtime(this.me.id)).catch(() => undefined);
    // Capture goes to another runtime, which listens before this one stops (no gap, no reconcile).
    await this.handOverCapture();
    this.sub.disconnect();
    // The sandboxes close with the workers: a writer waiting for a credential call stops at once.
    await Promise.all([...[...this.workers.values()].map((w) => w.stop()), ...[...this.sandboxes.values()].map((sb) => sb.close())]);
    await Promise.allSettled([...this.reconciles]);
    // What the workers did not write stays pending: released now, the partitions' next owners
    // take it over at once instead of after the TTL.
    await this.leases.releaseAll();
    await this.captureLease?.release().catch(() => false);
    await this.flushWatch?.stop();
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  /**
   * One round of leases: the heartbeat (with what this runtime holds), then the partition leases
   * against the live runtimes, then capture. One round at a time.
   */
  private tickLeases(): Promise<void> {
    if (this.leaseTicking) return this.leaseTicking;
    this.leaseTicking = (async () => {
      if (this.state !== 'running' && this.state !== 'starting') return;
      await this.beat();
      if (this.cluster) await this.followTopology();
      const live = (await liveRuntimes(this.redis, this.keys)).map((r) => r.id);
      await this.leases.tick(live);
      await this.tickCapture();
    })().catch((err) => this.log.warn({ err: errorText(err) }, 'lease round failed; retrying'))
      .finally(() => {
        this.leaseTicking = undefined;
      });
    return this.leaseTicking;
  }

  /** Renews the capture lease, or takes it when it is free; a lease found lost stops capture. */
  private async tickCapture(): Promise<void> {
    if (this.captureLease) {
      if (await this.captureLease.renew()) {
        // Held, but listening failed when it was taken (a cluster's master down mid-failover):
        // tried again every round; each master listened to is reconciled.
        if (!this.capturing) await this.startCapture();
        return;
      }
      this.captureLease = undefined;
      this.log.warn('lost the capture lease (it expired and another runtime may hold it): stopping capture');
      this.stopCapture();
      return;
    }
    // One capturer for the whole cluster, its lease under a tag of its own (one slot with its token counter).
    const home = this.cluster ? this.keys.shard('capture') : this.keys;
    const lease = await Lease.acquire(this.redis, home.captureLease(), home.leaseTokens(), 'capture', this.opts.id, this.leaseOpts);
    this.capturingElsewhere = lease === undefined;
    if (!lease) {
      // Another runtime captures: listening ahead of a handover that did not come to this one ends.
      if (this.capturing && !this.handoverReady) {
        this.listeningAhead = false;
        this.stopCapture();
      }
      return;
    }
    if (this.state !== 'running' && this.state !== 'starting') {
      await lease.release();
      return;
    }
    this.captureLease = lease;
    const gapless = this.listeningAhead;
    this.listeningAhead = false;
    this.log.info({ token: lease.token, handover: gapless }, gapless ? 'took capture over from a runtime that stopped (no gap: it listened here first)' : 'capturing');
    await this.startCapture();
    // Nobody listened between the last capturer and this one (a start, a crash, a lost lease):
    // every recipe reconciles, and the reconcile sweeps the rows of keys deleted meanwhile.
    // (On a cluster each master's subscription reconciles its keys as it starts: startCapture.)
    if (!gapless && !this.cluster) for (const w of this.workers.values()) this.reconcileInBackground(w, this.runningSince === undefined ? 'start-up' : 'capture taken over');
    this.runningSince ??= Date.now();
  }

  private runningSince: number | undefined;

  /**
   * Subscribes to every recipe's keyspace pattern (this runtime captures from now on). On a
   * cluster, on every master (MasterSubscriptions): each master's keys are reconciled as its
   * subscription starts, unless `gapless` (a graceful handover: the last capturer still listens)
   * for the masters there are at the start.
   */
  private async startCapture(gapless = false): Promise<void> {
    if (this.capturing) return;
    this.capturing = true;
    if (!this.cluster) {
      for (const pattern of this.patterns.keys()) await this.sub.psubscribe(pattern);
      return;
    }
    let initial = true;
    const subs = new MasterSubscriptions({
      seeds: [...this.masters.map((m) => ({ host: m.host, port: m.port })), ...this.seeds],
      open: (host, port, role) => connectNode(this.opts.flags, host, port, { maxRetriesPerRequest: null, connectionName: `${this.clientName}:${role}` }),
      log: this.log,
      onEvent: (master, pattern, channel, event) => this.route(pattern, channel, event, tagIn(master.slots)),
      onListening: (master, why) => {
        if (initial && gapless) return;
        const reason = initial ? (this.runningSince === undefined ? 'start-up' : 'capture taken over') : 'subscription restored';
        if (why === 'reconnect' || !initial) this.log.warn({ master: `${master.host}:${master.port}`, why }, 'listening to a master anew (a promoted replica, an added master, or a dropped subscription); events in between are lost, reconciling its keys');
        for (const w of this.workers.values()) this.reconcileInBackground(w, reason, [tagIn(master.slots)]);
      },
      onTopology: () => void this.followTopology().catch((err) => this.topologyFailed(err)),
    });
    this.subs = subs;
    try {
      for (const pattern of this.patterns.keys()) await subs.psubscribe(pattern);
      await subs.start();
    } catch (err) {
      // Retried by the next lease round (the lease is kept).
      subs.stop();
      this.subs = undefined;
      this.capturing = false;
      throw err;
    } finally {
      initial = false;
    }
  }

  /** Unsubscribes: another runtime captures. */
  private stopCapture(): void {
    if (!this.capturing) return;
    this.capturing = false;
    if (this.subs) {
      this.subs.stop();
      this.subs = undefined;
      return;
    }
    for (const pattern of this.patterns.keys()) void this.sub.punsubscribe(pattern).catch(() => undefined);
  }

  /**
   * A cluster's topology (CLUSTER SLOTS), read at start, every lease round and whenever capture
   * sees it change. Each master's shard tag is recorded (`<ns>:shards`, so that shards whose
   * slots moved elsewhere are still drained), every recipe gets a worker for every shard, and a
   * shard whose tag now lives on another master than before (a failover promoted a replica, or
   * the tag's slot moved) re-reads every entry its backlog holds before writing it: the new
   * master may lack the last acknowledgements, or hold entries already written.
   */
  private async followTopology(): Promise<void> {
    if (!this.connectionsWanted()) return; // stopped (a start that failed): no shard is made any more
    const masters = await clusterMasters(this.redis);
    if (masters.length === 0) throw new Error('the cluster reports no master with slots (CLUSTER SLOTS)');
    this.masters = masters;
    const tags = new Set(masters.map((m) => tagIn(m.slots)));
    const recorded = new Set(await this.redis.smembers(this.keys.shards()));
    // Every tag known here is recorded (again, if the record was lost with its node).
    const missing = [...new Set([...tags, ...this.tagOwners.keys()])].filter((t) => !recorded.has(t));
    if (missing.length) await this.redis.sadd(this.keys.shards(), ...missing);
    for (const t of recorded) tags.add(t);
    this.discoverShards(masters);
    const moved: string[] = [];
    for (const t of tags) {
      const owner = masters.find((m) => inRanges(slotOf(`{${t}}`), m.slots))?.id;
      const known = this.tagOwners.has(t);
      const before = this.tagOwners.get(t);
      this.tagOwners.set(t, owner);
      if (!known) {
        for (const w of this.workers.values()) w.shard(t);
      } else if (before !== undefined && owner !== undefined && before !== owner) {
        moved.push(t);
      }
    }
    if (this.inDoubt) {
      // Read again after a node dropped: the shards that stayed on their master write as captured.
      this.inDoubt = false;
      const same = [...tags].filter((t) => !moved.includes(t));
      for (const w of this.workers.values()) w.serverSame(same);
    }
    if (moved.length === 0) return;
    this.log.warn({ shards: moved }, 'a shard lives on another master than before (a failover, or its slot moved): every entry its backlog holds is re-read before it is written');
    for (const w of this.workers.values()) {
      await w.serverChanged(moved).catch((err) => this.log.warn({ recipe: w.reg.name, err: errorText(err) }, 'taking up a shard on its new master failed; its entries are re-read when claimed'));
    }
  }

  /**
   * Scans each master not scanned yet (those of the start, then each new one) for shard streams
   * (`<ns>:{<tag>}:backlog:…`) in the background: a shard no record names (`<ns>:shards` lost with
   * its node, while no runtime that knew the shard ran) is recorded and drained like the others,
   * so no stream is orphaned. A master whose scan failed is scanned at the next topology read.
   */
  private discoverShards(masters: readonly ClusterMaster[]): void {
    const fresh = masters.filter((m) => !this.scannedMasters.has(m.id));
    if (fresh.length === 0 || this.discovering) return;
    this.discovering = (async () => {
      let recorded = false;
      for (const m of fresh) {
        if (!this.connectionsWanted()) return;
        const node = connectNode(this.opts.flags, m.host, m.port, { maxRetriesPerRequest: 1, connectionName: `${this.clientName}:scan` });
        node.on('error', () => undefined);
        try {
          const unknown = [...(await shardTagsOn(node, this.keys.ns))].filter((t) => !this.tagOwners.has(t));
          // Recorded master by master: a later master's failed scan loses nothing found here.
          if (unknown.length) {
            this.log.info({ master: `${m.host}:${m.port}`, shards: unknown }, 'found shard streams no record named; recording and draining them');
            await this.redis.sadd(this.keys.shards(), ...unknown);
            recorded = true;
          }
          this.scannedMasters.add(m.id);
        } finally {
          node.disconnect();
        }
      }
      if (recorded && this.connectionsWanted()) await this.followTopology();
    })().catch((err) => this.log.warn({ err: errorText(err) }, 'scanning the masters for shard streams failed; trying again at the next topology read'))
      .finally(() => {
        this.discovering = undefined;
      });
  }

  private topologyLogged = { text: '', at: 0 };

  /** A failed read of the topology (around a failover many fail at once): logged once per reason and 10 s. */
  private topologyFailed(err: unknown): void {
    const text = errorText(err);
    const now = performance.now();
    if (text === this.topologyLogged.text && now - this.topologyLogged.at < 10_000) return;
    this.topologyLogged = { text, at: now };
    this.log.warn({ err: text }, 'reading the cluster topology failed; trying again (at the latest at the next lease round)');
  }

  /** A cluster's masters as last read: by the capture's subscriptions when capturing (the freshest), else by followTopology. */
  private currentMasters(): readonly ClusterMaster[] {
    return this.subs?.masters.length ? this.subs.masters : this.masters;
  }

  /** The shard tags that capture: each master's (the only shard of a single server). */
  private capturingTags(): string[] {
    if (!this.cluster) return [ONLY_SHARD];
    return [...new Set(this.currentMasters().map((m) => tagIn(m.slots)))];
  }

  /** Every shard tag known (the only shard of a single server). */
  private knownTags(): string[] {
    return this.cluster ? [...this.tagOwners.keys()] : [ONLY_SHARD];
  }

  /**
   * Keys a capture on shard `from` found on another node, or whose records `from` handed over
   * (their slot moved, or the topology here is behind): captured by the shard of the master that
   * owns them, once the topology has been read again; still shown on `from` a second later, by
   * `from` itself; on no master (slots without a node), as soon as one serves them. Never left
   * to a reconcile, which finds no deleted key.
   */
  private elsewhere(name: string, from: string, keys: readonly string[], kinds: readonly ChangeKind[], tries = 0): void {
    if (tries === 0) {
      // A key already waiting for its owner (slots no master serves) waits once, not once per
      // sweep or capture that finds it again.
      const fresh = keys.map((k, i) => [k, kinds[i] ?? 'c'] as const).filter(([k]) => !this.waitingElsewhere.has(`${name}\0${k}`));
      if (fresh.length === 0) return;
      keys = fresh.map(([k]) => k);
      kinds = fresh.map(([, k]) => k);
      for (const k of keys) this.waitingElsewhere.add(`${name}\0${k}`);
    }
    const refresh = this.subs ? this.subs.refresh() : this.followTopology();
    void refresh.catch((err) => this.topologyFailed(err)).then(() => {
      const shards = this.workers.get(name);
      if (!shards || !this.connectionsWanted()) {
        for (const k of keys) this.waitingElsewhere.delete(`${name}\0${k}`);
        return;
      }
      const masters = this.currentMasters();
      const again: Array<[string, ChangeKind]> = [];
      keys.forEach((key, i) => {
        const owner = masters.find((m) => inRanges(slotOf(key), m.slots));
        const kind = kinds[i] ?? 'c';
        const tag = owner ? tagIn(owner.slots) : undefined;
        // Its owner's shard; or this shard itself once the topology, read again since, still
        // names it: slots kept moving during a reshard (this shard's master took the key's slot
        // after the record was handed over), or the node was behind. Captured again either way:
        // a delete among them is lost if it is left to a reconcile, which only finds keys.
        if (tag !== undefined && (tag !== from || tries >= ELSEWHERE_SAME_SHARD_TRIES)) {
          this.waitingElsewhere.delete(`${name}\0${key}`);
          if (tag === from) this.sameShardAgain(name, from, key);
          shards.onChange(tag, key, kind, false);
        } else {
          again.push([key, kind]);
        }
      });
      if (again.length === 0) return;
      if (tries === ELSEWHERE_PATIENCE_TRIES) {
        // No master serves their slot (a cluster missing slots): they wait for one, and say so.
        this.log.error({ recipe: name, shard: from, keys: again.length, sample: again[0]?.[0] }, 'keys a capture found on another node are on no master the topology names after a minute; they are captured once a master serves their slot');
      }
      setTimeout(() => this.elsewhere(name, from, again.map(([k]) => k), again.map(([, k]) => k), tries + 1), tries < ELSEWHERE_PATIENCE_TRIES ? 200 : 2000).unref();
    });
  }

  /** Keys (`<recipe>\0<key>`) waiting in `elsewhere` for a master that serves them. */
  private readonly waitingElsewhere = new Set<string>();
  /** Per key (`<recipe>\0<key>`), how often `elsewhere` captured it again in the shard it came from, since `bouncesSince`. */
  private bounces = new Map<string, number>();
  private bouncesSince = performance.now();

  /**
   * A key captured again in the shard that found it elsewhere: once, slots moved on meanwhile;
   * again and again (a slot left migrating by a reshard that failed, say), it never settles, and
   * that is logged as an error, once a minute, with how many keys do it.
   */
  private sameShardAgain(name: string, from: string, key: string): void {
    const now = performance.now();
    if (now - this.bouncesSince > 60_000) {
      const stuck = [...this.bounces].filter(([, n]) => n >= 20);
      if (stuck.length) this.log.error({ recipe: name, shard: from, keys: stuck.length, sample: stuck[0]?.[0].split('\0')[1] }, 'keys a capture finds on another node while the cluster topology names this shard\'s master keep coming back (a slot left migrating or importing by a reshard that failed? redis-cli --cluster fix); they are tried again every second');
      this.bounces = new Map();
      this.bouncesSince = now;
    }
    const id = `${name}\0${key}`;
    if (this.bounces.size < 100_000 || this.bounces.has(id)) this.bounces.set(id, (this.bounces.get(id) ?? 0) + 1);
  }

  /**
   * Whether shard `tag` is the one `key`'s changes are captured into now: that of the master
   * that owns the key's slot, as last read (true when no master is known for it: the records are
   * then written as usual). Another shard's records of the key are older (a shard whose tag's
   * slot moved to another master keeps being drained there, but captures nothing new).
   */
  private shardOwns(tag: string, key: string): boolean {
    const masters = this.currentMasters();
    if (masters !== this.tagsOf.masters) this.tagsOf = { masters, tags: new Map(masters.map((m) => [m, tagIn(m.slots)])) };
    const slot = slotOf(key);
    const owner = masters.find((m) => inRanges(slot, m.slots));
    return owner === undefined || this.tagsOf.tags.get(owner) === tag;
  }

  /** Each master's shard tag, for the masters last read (shardOwns runs for every record written). */
  private tagsOf: { masters: readonly ClusterMaster[]; tags: Map<ClusterMaster, string> } = { masters: [], tags: new Map() };

  /** The connection of the master holding shard `tag`'s slot, for a reconcile's SCAN. */
  private nodeOfTag(tag: string): Redis {
    const c = this.redis as unknown as Cluster;
    const addr = c.slots[slotOf(`{${tag}}`)]?.[0];
    const node = c.nodes('master').find((n) => `${n.options.host}:${n.options.port}` === addr);
    if (!node) throw new Error(`no master is known for shard ${tag} yet (the cluster's slots are being read)`);
    return node;
  }

  /**
   * A graceful stop of the capturer: another live runtime is asked to listen first
   * (`capture-handover`); once it says it does (`capture-ready`, or after 2 s without an
   * answer), this one stops listening, finishes its captures and releases the lease
   * (`capture-released`), and the successor takes it without a reconcile.
   */
  private async handOverCapture(): Promise<void> {
    if (!this.captureLease) return;
    const others = (await liveRuntimes(this.redis, this.keys).catch(() => [])).map((r) => r.id).filter((id) => id !== this.opts.id).sort();
    const to = others[0];
    if (to !== undefined) {
      const ready = new Promise<void>((resolve) => {
        this.handoverReady = resolve;
      });
      await this.redis.publish(this.keys.control(), JSON.stringify({ op: 'capture-handover', from: this.opts.id, to }));
      await Promise.race([ready, new Promise((r) => setTimeout(r, 2000))]);
      this.handoverReady = undefined;
    }
    this.stopCapture();
    await Promise.all([...this.workers.values()].map((w) => w.flushed()));
    await this.captureLease.release().catch(() => false);
    this.captureLease = undefined;
    if (to !== undefined) await this.redis.publish(this.keys.control(), JSON.stringify({ op: 'capture-released', from: this.opts.id, to })).catch(() => 0);
  }

  /** Resolves 'down' once the command connection has not been ready for `ms` in a row. */
  private whenRedisDown(ms: number): { promise: Promise<'down'>; cancel: () => void } {
    let timer: NodeJS.Timeout | undefined;
    const promise = new Promise<'down'>((resolve) => {
      let since: number | undefined;
      timer = setInterval(() => {
        if (this.redis.status === 'ready' || this.redis.status === 'end') since = undefined;
        else if ((since ??= Date.now()) <= Date.now() - ms) resolve('down');
      }, 100);
    });
    return { promise, cancel: () => clearInterval(timer) };
  }

  /** Renews the heartbeat, with the standing warning `wb-cli status` shows. */
  private async beat(): Promise<void> {
    if (!this.me) return;
    const rows = [...this.workers.values()].reduce((n, w) => n + w.rowsWritten, 0);
    const now = performance.now();
    if (now - this.rowsAtBeat.at >= 1000) {
      this.rowsPerSec = Math.max(0, Math.round(((rows - this.rowsAtBeat.rows) * 1000) / (now - this.rowsAtBeat.at)));
      this.rowsAtBeat = { rows, at: now };
    }
    const info: RuntimeInfo = {
      ...this.me, ...(this.shownWarning === undefined ? {} : { warning: this.shownWarning }),
      partitions: this.leases.summary(), capture: this.captureLease !== undefined, rowsPerSec: this.rowsPerSec,
    };
    await beat(this.redis, this.keys, info, this.leaseOpts.ttlMs);
  }

  private async readServerId(): Promise<string | undefined> {
    return (await serverIdentity(this.redis)).runId || undefined;
  }

  /**
   * After a reconnect: the same server as before, or another (a replica promoted by a failover,
   * a restart from a persistence file)? Another one may lack the last moments' acknowledgements
   * and deliveries, so each recipe re-reads every entry its backlog holds before writing it; the
   * capture's reconcile (the subscription was cut too) covers changes it never captured.
   */
  private async checkServer(): Promise<void> {
    let id: string | undefined;
    try {
      id = await this.readServerId();
    } catch (err) {
      // Unknown yet: the workers stay in doubt (re-reading everything) until the next 'ready'.
      this.log.warn({ err: errorText(err) }, 'cannot tell which Redis server answers after a reconnect; entries are re-read before they are written until it is known');
      return;
    }
    const before = this.serverId;
    this.serverId = id;
    if (id === undefined || before === undefined || id === before) {
      for (const w of this.workers.values()) w.serverSame();
      return;
    }
    this.log.warn({ before, now: id }, 'Redis is another server than before (a failover, or a restart): every entry its backlog holds is re-read before it is written');
    for (const w of this.workers.values()) {
      // Until it succeeds the worker stays in doubt (re-reading every entry): safe, only slower.
      for (let tries = 0; this.state === 'running' || this.state === 'starting'; tries++) {
        try {
          await w.serverChanged();
          break;
        } catch (err) {
          if (tries === 0) this.log.warn({ err: errorText(err) }, 'taking up the backlog after a server change failed; retrying');
          await new Promise((r) => setTimeout(r, 1000));
        }
      }
    }
  }

  /**
   * Checks (and sets) notify-keyspace-events: at start, after the subscription reconnects and at
   * every sync, since an operator or a restarted server may turn notifications off at any time.
   * Logged when the finding changes; notifications known to be off show as an error on every
   * recipe (status) until they are on again. Once running, notifications found off (set again
   * now, or on again after a problem) lost the changes in between: every recipe reconciles.
   */
  private async checkKeyspaceEvents(): Promise<void> {
    if (this.cluster) {
      // Set on every node by the capturer's MasterSubscriptions; what it could not set shows.
      const problems = this.subs?.problems ?? [];
      const message = problems.length ? `notify-keyspace-events cannot be set on every node of the cluster, whose changes are then not captured: ${problems.join('; ')}` : undefined;
      if (message !== undefined && message !== this.replicaProblem) this.log.error(message);
      this.replicaProblem = message ?? '';
      for (const w of this.workers.values()) w.captureProblem(message);
      return;
    }
    const check = await ensureKeyspaceEvents(this.redis);
    const before = this.keyspace;
    this.keyspace = check;
    const message = check.kind === 'ok' ? undefined : check.message;
    if (message !== undefined && message !== (before?.kind === 'ok' ? undefined : before?.message)) this.log.error(message);
    for (const w of this.workers.values()) w.captureProblem(check.kind === 'off' ? message : undefined);
    if (check.kind === 'ok') await this.checkReplicas();
    if (before === undefined || this.state !== 'running') return;
    const setAgain = check.kind === 'ok' && check.setFrom !== undefined;
    const onAgain = check.kind === 'ok' && before.kind === 'off';
    if (!setAgain && !onAgain) return;
    const why = setAgain ? `notify-keyspace-events was '${check.kind === 'ok' ? check.setFrom : ''}' and is set again` : 'keyspace notifications are on again';
    this.log.warn(`${why}; changes meanwhile were not heard, reconciling`);
    for (const w of this.workers.values()) this.reconcileInBackground(w, 'keyspace notifications restored');
  }

  /** notify-keyspace-events on the replicas too (a promoted one must publish); a problem is logged once per message. */
  private async checkReplicas(): Promise<void> {
    const problems = await ensureOnReplicas(this.redis, (host, port) => connectRedis(replicaFlags(this.opts.flags, host, port), {
      lazyConnect: false, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 2000, connectionName: `${this.clientName}:replica-config`,
    })).catch((err: unknown) => [`replicas: ${errorText(err)}`]);
    const text = problems.join('; ');
    if (text && text !== this.replicaProblem) this.log.warn({ problems }, 'cannot set notify-keyspace-events on every replica: a replica promoted by a failover publishes no changes until the runtime sets it there, and they are reconciled then');
    this.replicaProblem = text;
  }

  /** A keyspace event, captured by shard `tag` (its master's on a cluster). */
  private route(pattern: string, channel: Buffer, event: Buffer, tag = ONLY_SHARD): void {
    const eventName = event.toString();
    const kind = classifyEvent(eventName);
    const names = this.patterns.get(pattern);
    if (kind === undefined || names === undefined) return;
    // The channel prefix (`__keyspace@0__:`) is ASCII: its length in bytes is its length.
    if (!isUtf8(channel)) {
      const raw = channel.subarray(this.channelPrefix.length);
      for (const name of names) this.workers.get(name)?.refuseKey(tag, raw);
      return;
    }
    const key = channel.toString('utf8', this.channelPrefix.length);
    const echo = mayBeEcho(eventName);
    for (const recipe of names) this.workers.get(recipe)?.onChange(tag, key, kind, echo);
  }

  private onControl(message: string): void {
    let msg: ControlMessage;
    try {
      msg = JSON.parse(message) as ControlMessage;
    } catch {
      return;
    }
    this.log.debug({ nonce: msg.nonce, names: msg.names }, 'control message');
    if (msg.op === 'prepare' && msg.nonce && msg.names && (this.state === 'running' || this.state === 'starting')) void this.prepare(msg.nonce, msg.names);
    if (msg.op === 'sync') this.requestSync(msg.nonce && msg.names ? { nonce: msg.nonce, names: msg.names } : undefined);
    if (msg.op === 'leases' && msg.from !== this.opts.id && this.state === 'running') void this.tickLeases();
    if (msg.op === 'capture-handover' && msg.to === this.opts.id && this.state === 'running') {
      // Listen first, then say so: the stopping capturer stops only after this.
      this.listeningAhead = true;
      void this.startCapture(true)
        .then(() => this.redis.publish(this.keys.control(), JSON.stringify({ op: 'capture-ready', from: this.opts.id, to: msg.from })))
        .catch((err) => this.log.warn({ err: errorText(err) }, 'listening ahead of a capture handover failed'));
    }
    if (msg.op === 'capture-ready' && msg.to === this.opts.id) this.handoverReady?.();
    if (msg.op === 'capture-released' && msg.to === this.opts.id && this.state === 'running') void this.tickLeases();
    if (msg.op === 'backlog') {
      for (const name of msg.names ?? []) {
        this.workers.get(name)?.refreshTable();
        this.workers.get(name)?.nudge();
      }
    }
  }

  /** Serializes registry syncs: each one reconciles running workers with stored recipes. */
  private requestSync(ask?: { nonce: string; names: readonly string[] }, startup = false): void {
    this.syncing = this.syncing
      .then(() => (this.state === 'stopping' ? undefined : this.sync(ask, startup)))
      .catch(async (err) => {
        const error = errorText(err);
        this.log.error({ err: error }, 'recipe sync failed');
        // An upload waiting for this sync hears why instead of timing out.
        for (const name of ask?.names ?? []) {
          await this.verdict(ask!.nonce, name, '?', 'failed', `recipe sync failed: ${error}`).catch(() => undefined);
        }
      });
  }

  /**
   * A recipe's code failed after it loaded (a throw from a timer, a credential call that never
   * settled, its thread ended): stop that recipe, show it `failed` with the reason, and keep the
   * others syncing. It stays failed until a fixed version is uploaded (or the runtime restarts).
   */
  private requestFailure(name: string, sandbox: RecipeSandbox | undefined, reason: string): void {
    this.syncing = this.syncing
      .then(async () => {
        if (sandbox === undefined || this.sandboxes.get(name) !== sandbox) return; // already replaced or stopped
        this.sandboxes.delete(name);
        const worker = this.workers.get(name);
        const outcome = this.outcomes.get(name);
        if (outcome) this.outcomes.set(name, { ...outcome, status: 'failed', error: reason });
        this.running.delete(name);
        this.log.error({ recipe: name, error: reason }, 'recipe failed: its code is stopped; the other recipes go on');
        if (worker) {
          this.workers.delete(name);
          this.unroute(worker.reg);
          await worker.stop();
          await this.removeLeases(worker);
        }
        const now = new Date().toISOString();
        await this.redis.hset(this.keys.status(name), { state: 'failed', failedVersion: worker?.reg.version ?? '', error: reason, lastError: reason, lastErrorAt: now });
      })
      .catch((err) => this.log.error({ recipe: name, err: errorText(err) }, 'stopping a failed recipe failed'));
  }

  private async sync(ask: { nonce: string; names: readonly string[] } | undefined, startup: boolean): Promise<void> {
    await this.measureClock();
    await this.policy.check();
    if (this.policy.warning() !== this.shownWarning) {
      this.shownWarning = this.policy.warning();
      await this.beat();
    }
    if (!startup && this.flushWatch) {
      const look = await this.flushWatch.look(this.redis);
      this.policy.sentinelLooked(look.present);
      if (!look.present) await this.recoverFromFlush(look.flushNotice ? 'a flush notice from Redis' : undefined);
    }
    if (!startup && this.cluster && (await this.redis.exists(this.nsSentinel())) === 0) await this.recoverFromFlush(undefined);
    const metas = await this.store.list();
    const names = new Set(metas.map((m) => m.name));
    for (const meta of metas) {
      const stamp = `${meta.version}/${meta.sha}/${meta.uploadedAt}`;
      if (this.outcomes.get(meta.name)?.stamp === stamp) continue;
      const stored = await this.store.get(meta.name);
      if (stored === undefined) continue;
      try {
        // The recipe's code runs in a sandbox of its own; a failure there (after this load)
        // stops this recipe only.
        let sandbox: RecipeSandbox | undefined;
        const loaded = await loadRegistration(meta.name, stored.code, this.keys.ns, {
          params: (n) => this.params.get(n), log: this.log, limits: this.opts.sandbox,
          onFail: (reason) => this.requestFailure(meta.name, sandbox, reason),
        });
        sandbox = loaded.sandbox;
        const reg = loaded.reg;
        let reconciles = false;
        try {
          assertDriverInstalled(reg.connector);
          this.assertRunsHere(reg);
          reconciles = await this.install(reg, startup).catch((err: unknown) => {
            // Only Redis's own answers here, not the recipe's code (whose errors may say anything).
            throw redisUnavailable(err) ? new RedisUnavailableError(err) : err;
          });
        } catch (err) {
          await loaded.sandbox.close();
          throw err;
        }
        const previous = this.sandboxes.get(meta.name);
        this.sandboxes.set(meta.name, loaded.sandbox);
        // The old version's worker stopped in install: its code can go now.
        if (previous !== undefined && previous !== loaded.sandbox) await previous.close();
        this.outcomes.set(meta.name, { stamp, status: 'loaded', error: '', reconciles });
        this.running.set(meta.name, { meta, code: stored.code });
        this.log.info({ recipe: reg.name, version: reg.version, connector: reg.connector.describe() }, 'recipe loaded');
      } catch (err) {
        const error = errorText(err);
        if (err instanceof RedisUnavailableError) {
          // Not the recipe's fault: the next sync loads it again (an upload asking for a verdict
          // now gets none from this runtime, and its --timeout says so).
          this.outcomes.delete(meta.name);
          this.log.warn({ recipe: meta.name, version: meta.version, err: error }, 'recipe not loaded yet: Redis does not answer; trying again at the next sync');
          continue;
        }
        this.outcomes.set(meta.name, { stamp, status: 'failed', error });
        this.log.error({ recipe: meta.name, version: meta.version, error }, 'recipe failed to load');
        await this.redis.hset(this.keys.status(meta.name), { state: 'failed', failedVersion: meta.version, error, lastError: error, lastErrorAt: new Date().toISOString() });
      }
    }
    for (const [name, worker] of this.workers) {
      if (names.has(name)) continue;
      if ((await this.redis.exists(this.nsSentinel())) === 0) return; // a flush, not an unregister: the next sync recovers
      this.workers.delete(name);
      this.running.delete(name);
      this.outcomes.delete(name);
      this.unroute(worker.reg);
      const sandbox = this.sandboxes.get(name);
      this.sandboxes.delete(name);
      // Closing the sandbox first ends a credential call the worker may be waiting for.
      await Promise.all([worker.stop(), sandbox?.close()]);
      await this.removeLeases(worker);
      await this.redis.hset(this.keys.status(name), { state: 'unregistered' });
      this.log.info({ recipe: name }, 'recipe unregistered');
    }
    const paused = new Set(await this.redis.smembers(this.keys.paused()));
    this.paused = paused;
    for (const [name, worker] of this.workers) await worker.setPaused(paused.has(name));
    // After the installs, so that a recipe loaded by this sync shows the problem too.
    await this.checkKeyspaceEvents();
    // Verdicts come from the outcome of what is stored now, even if a poll loaded it first.
    for (const name of ask?.names ?? []) {
      const meta = metas.find((m) => m.name === name);
      const outcome = this.outcomes.get(name);
      if (meta && outcome) await this.verdict(ask!.nonce, name, meta.version, outcome.status, outcome.error, outcome.reconciles === true);
    }
  }

  /**
   * FLUSHDB/FLUSHALL publish no keyspace events: the sentinel key vanished with everything else.
   * Put back the recipes that were running (their status too, so `list` and `status` show them
   * loaded), then let each apply its onFlush policy. `notice` is the evidence the flush watch
   * heard; without it, the sentinel's absence proves a flush only when the eviction policy
   * could not have evicted it. Rows are deleted (onFlush: 'delete') only on such proof: an
   * eviction must never delete rows.
   */
  private async recoverFromFlush(notice: string | undefined): Promise<void> {
    // A cluster node that lost its keys proves no flush (no notice is listened for there): rows are kept.
    const doubt = this.cluster
      ? 'a node of the Redis Cluster lost its keys (a flush, or a restart without persistence; wbsync does not tell them apart on a cluster)'
      : notice === undefined ? this.policy.evictionDoubt() : undefined;
    if (doubt === undefined) {
      const evidence = notice ?? 'the eviction policy cannot evict the sentinel';
      this.log.error({ evidence }, `wbsync keys vanished from Redis (FLUSHDB/FLUSHALL, or a restart without persistence; evidence: ${evidence}): restoring the running recipes; parameters must be tuned again if they are gone`);
    } else {
      this.log.error({ doubt }, `wbsync keys vanished from Redis (a flush, a restart without persistence, or an eviction: ${doubt}, and no flush notice was heard): restoring the running recipes; onFlush: 'delete' deletes nothing; parameters must be tuned again if they are gone`);
    }
    const tx = this.redis.multi().set(this.nsSentinel(), this.opts.id).set(this.keys.layout(), String(LAYOUT));
    for (const { meta, code } of this.running.values()) {
      const version = this.workers.get(meta.name)?.reg.version ?? meta.version;
      const partitions = this.workers.get(meta.name)?.reg.partitions;
      if (partitions !== undefined) tx.hset(this.keys.partitions(), meta.name, String(partitions));
      tx.hset(this.keys.recipes(), meta.name, JSON.stringify(meta)).set(this.keys.code(meta.name), code)
        .hset(this.keys.status(meta.name), { version, state: this.paused.has(meta.name) ? 'paused' : 'loaded', runtime: this.opts.id });
    }
    const paused = [...this.paused].filter((name) => this.running.has(name));
    if (paused.length) tx.sadd(this.keys.paused(), ...paused);
    await execChecked(tx);
    // Look again at once: the next interval starts at the restore, so a flush right after it is
    // proven by its notice (the restore's own write would otherwise count against it until the
    // next poll).
    if (this.flushWatch) this.policy.sentinelLooked((await this.flushWatch.look(this.redis)).present);
    // Every shard's sentinel too (those on the node that lost its keys are gone with them).
    for (const t of this.cluster ? this.knownTags() : []) await this.redis.set(this.keys.shard(t).sentinel(), this.opts.id, 'NX');
    if (this.me) await claimRuntimeId(this.redis, this.keys, this.opts.id, this.leaseOpts.ttlMs).catch(() => undefined);
    await this.beat().catch(() => undefined);
    for (const w of this.workers.values()) {
      await w.afterFlush(doubt).catch((err) => this.log.error({ recipe: w.reg.name, err: errorText(err) }, 'onFlush handling failed'));
    }
  }

  /**
   * Write-through does not run on a Redis Cluster yet: applying a committed change back to Redis
   * is one script over the changed keys and the shard's marks, which a cluster refuses across
   * slots. Refused at upload with that reason (the previous version keeps running).
   */
  private assertRunsHere(reg: Registration): void {
    if (this.cluster && reg.kind === 'writeThrough') {
      throw new Error(`recipe '${reg.name}' is write-through, which does not run on a Redis Cluster yet (write-behind does); run it against a single server or Redis Sentinel`);
    }
  }

  /** Starts a registration, replacing a running version after its in-flight batch. */
  private async install(reg: Registration, startup: boolean): Promise<boolean> {
    // The backlog's partition count is the one its first upload fixed (the upload refuses a
    // change; this catches a bundle stored some other way).
    await this.redis.hsetnx(this.keys.partitions(), reg.name, String(reg.partitions));
    const fixed = Number(await this.redis.hget(this.keys.partitions(), reg.name));
    if (fixed !== reg.partitions) throw new Error(`recipe '${reg.name}' declares partitions: ${reg.partitions}, but its backlog has ${fixed} partitions; upload it again with partitions: ${fixed}`);
    const old = this.workers.get(reg.name);
    const name = reg.name;
    const shards = new RecipeShards(reg, (tag) => this.makeWorker(reg, tag), (tag, worker) => {
      // The partitions held for the old version go on to the new one (it takes their pending entries over).
      this.leases.add(this.unit(name, tag), reg.partitions, worker, { keys: this.keys.shard(tag), name });
      if (this.state === 'running') void this.tickLeases();
    }, this.log, this.cluster ? { redis: this.redis, key: this.keys.status(name) } : undefined);
    this.workers.set(reg.name, shards); // from here on, events go to the new version's capture
    await this.routeTo(reg);
    if (old && this.patternOf(old.reg) !== this.patternOf(reg)) this.unroute(old.reg);
    if (old) await old.stop();
    for (const tag of this.knownTags()) shards.shard(tag);
    shards.open();
    try {
      await shards.started();
    } catch (err) {
      // Nothing of this version goes on here: shards that did start would write with the code
      // the failed load closes.
      if (this.workers.get(name) === shards) {
        this.workers.delete(name);
        this.unroute(reg);
      }
      try {
        await shards.stop();
      } finally {
        await this.removeLeases(shards);
      }
      throw err;
    }
    // Only the capturer reconciles; at start-up, it does when it takes the capture lease. A
    // version that covers other keys, writes another table or database, or maps other fields
    // has rows to fill that no change may ever touch: every key is queued again.
    const reconciles = !startup && this.capturing && (!old || this.patternOf(old.reg) !== this.patternOf(reg) || mirrorsOtherwise(old.reg, reg));
    if (reconciles) this.reconcileInBackground(shards, 'new recipe');
    return reconciles;
  }

  /** The worker of recipe `reg` for shard `tag` (the only one on a single server), its partitions fenced by this runtime's leases. */
  private makeWorker(reg: Registration, tag: string): RecipeWorker {
    const name = reg.name;
    const unit = this.unit(name, tag);
    const keys = this.keys.shard(tag);
    const options: WorkerOptions = {
      consumer: this.opts.id,
      retry: this.opts.retry,
      claimIdleMs: this.opts.claimIdleMs,
      db: this.dbTimeouts,
      ...(this.metrics ? { metrics: this.metrics.forRecipe(name), redisNow: () => Date.now() + this.clockOffsetMs } : {}),
      access: { fence: (p) => this.leases.fence(unit, p), valid: (p) => this.leases.valid(unit, p), writeBudgetMs: (p) => this.leases.writeBudgetMs(unit, p), lostByFinish: (p) => this.leases.lostByFinish(unit, p) },
      capturing: () => this.capturing,
      // Other recipes loaded here that write the same table (accepted with upload --force).
      tableSharedWith: () => [...this.workers.values()].filter((w) => w.reg.name !== name && w.reg.connector.describe() === reg.connector.describe()).map((w) => w.reg.name),
      reader: () => {
        const conn = this.connect('reader');
        keepConnected(conn, () => this.connectionsWanted() && this.workers.get(name)?.state === 'running');
        return conn;
      },
      ...(this.cluster ? {
        elsewhere: (keys: readonly string[], kinds: readonly ChangeKind[]) => this.elsewhere(name, tag, keys, kinds),
        scanNode: () => this.nodeOfTag(tag),
        owns: (key: string) => this.shardOwns(tag, key),
        reconcileStatus: keys.counters(name),
      } : {}),
    };
    // Gone means flushed to the gap sweep (`sentinel()`): every shard has one.
    if (this.cluster) void this.redis.set(keys.sentinel(), this.opts.id, 'NX').catch(() => undefined);
    return new RecipeWorker(reg, this.redis, keys, this.log.child({ recipe: name, version: reg.version, ...(this.cluster ? { shard: tag } : {}) }), options);
  }

  /** Releases the partition leases of every shard of a recipe stopped here. */
  private async removeLeases(shards: RecipeShards): Promise<void> {
    await Promise.all(shards.entries.map(([tag]) => this.leases.remove(this.unit(shards.reg.name, tag))));
  }

  /**
   * Reconciles a recipe's shards `tags` (those that capture when absent) in the background. On a
   * cluster a failed reconcile (a master unreachable, slots being read) is tried again until it
   * succeeds or the runtime stops: changes of that master since its subscription started would
   * otherwise never be captured.
   */
  private reconcileInBackground(worker: RecipeShards, reason: string, tags: readonly string[] = this.capturingTags()): void {
    const p = (async () => {
      for (let tries = 0; ; tries++) {
        try {
          await worker.reconcile(reason, tags);
          return;
        } catch (err) {
          this.log.error({ recipe: worker.reg.name, err: errorText(err), ...(this.cluster ? { shards: tags } : {}) }, this.cluster ? 'reconcile failed; trying again' : 'reconcile failed');
          if (!this.cluster || !this.connectionsWanted() || this.workers.get(worker.reg.name) !== worker) return;
          await new Promise((r) => setTimeout(r, Math.min(10_000, 1000 * (tries + 1))));
        }
      }
    })().finally(() => this.reconciles.delete(p));
    this.reconciles.add(p);
  }

  private patternOf(reg: Registration): string {
    return `${this.channelPrefix}${capturePattern(reg)}`;
  }

  private async routeTo(reg: Registration): Promise<void> {
    const pattern = this.patternOf(reg);
    const names = this.patterns.get(pattern) ?? new Set<string>();
    const isNew = names.size === 0;
    names.add(reg.name);
    this.patterns.set(pattern, names);
    if (isNew && this.capturing) await (this.subs ? this.subs.psubscribe(pattern) : this.sub.psubscribe(pattern));
  }

  private unroute(reg: Registration): void {
    const pattern = this.patternOf(reg);
    const names = this.patterns.get(pattern);
    if (!names) return;
    names.delete(reg.name);
    if (names.size === 0) {
      this.patterns.delete(pattern);
      if (this.capturing) void (this.subs ? this.subs.punsubscribe(pattern) : this.sub.punsubscribe(pattern)).catch(() => undefined);
    }
  }

  /**
   * Adds one sample per running recipe to its hour of history (`<ns>:history:<name>`, trimmed by
   * MINID to the last hour): the backlog, rows/s and the lag's p50 and p99 since the last one.
   * Kept in Redis, so the status page shows the same hour whichever runtime serves it, and after
   * a restart.
   */
  private async sampleHistory(): Promise<void> {
    if (!this.metrics || this.state !== 'running') return;
    const now = performance.now();
    const seconds = Math.max(0.001, (now - this.sampledAt) / 1000);
    this.sampledAt = now;
    const hourAgo = Math.floor(Date.now() + this.clockOffsetMs - 3_600_000);
    const names = [...this.workers.keys()];
    if (names.length === 0) return;
    let queued: Array<string | null>;
    if (this.cluster) {
      queued = await Promise.all(names.map(async (n) => String((await backlogTotals(this.redis, this.keys, n, this.workers.get(n)?.reg.partitions ?? 1, this.knownTags())).queued)));
    } else {
      const read = this.redis.pipeline();
      for (const n of names) read.hget(this.keys.counters(n), 'queued');
      queued = ((await read.exec()) ?? []).map(([, v]) => v as string | null);
    }
    const p = this.redis.pipeline();
    names.forEach((name, i) => {
      const w = this.metrics!.takeWindow(name);
      p.xadd(this.keys.history(name), 'MINID', '~', String(hourAgo), '*',
        'backlog', String(Math.max(0, Number(queued[i] ?? 0))), 'rowsPerSec', String(Math.round((w.rows / seconds) * 10) / 10),
        'lagP50Ms', w.lagP50Ms === null ? '' : String(w.lagP50Ms), 'lagP99Ms', w.lagP99Ms === null ? '' : String(w.lagP99Ms));
    });
    await p.exec();
  }

  /**
   * What the status page shows: per registered recipe its state, counters, last errors and hour
   * of history; the live runtimes. Read from Redis, so every runtime serves the same; no secret
   * is in any of it (errors are redacted where they are made).
   */
  private async statusReport(): Promise<StatusReport> {
    const metas = await this.store.list();
    const counts = await partitionCounts(this.redis, this.keys, metas.map((m) => m.name));
    const recipes = await Promise.all(metas.map(async (m, i) => {
      const [st0, totals, history] = await Promise.all([
        this.redis.hgetall(this.keys.status(m.name)),
        backlogTotals(this.redis, this.keys, m.name, counts[i] ?? 1, await shardTags(this.redis, this.keys)),
        this.redis.xrange(this.keys.history(m.name), '-', '+'),
      ]);
      // The counters, summed over the shards (on a single server the status hash holds them).
      const st: Record<string, string> = { ...st0, queued: String(totals.queued), synced: String(totals.synced) };
      const deadLetters = totals.deadLetters;
      return {
        name: m.name, version: m.version, state: st['state'] ?? 'not loaded', backlog: Math.max(0, Number(st['queued'] ?? 0)),
        synced: Number(st['synced'] ?? 0), deadLetters, error: st['error'] || null, lastError: st['lastError'] || null, lastErrorAt: st['lastErrorAt'] || null,
        warning: st['warning'] || null, overflowedAt: st['overflowedAt'] || null,
        history: history.map(([id, f]) => {
          const v = entryFields(f);
          const num = (x: string | undefined): number | null => (x === undefined || x === '' ? null : Number(x));
          return { t: streamIdMs(id), backlog: num(v['backlog']), rowsPerSec: num(v['rowsPerSec']), lagP50Ms: num(v['lagP50Ms']), lagP99Ms: num(v['lagP99Ms']) };
        }),
      };
    }));
    const runtimes = (await liveRuntimes(this.redis, this.keys)).map((r) => ({
      id: r.id, host: r.host, pid: r.pid, startedAt: r.startedAt, warning: r.warning ?? null, http: r.http ?? null,
      capture: r.capture === true, partitions: r.partitions ?? {}, rowsPerSec: r.rowsPerSec ?? 0,
    }));
    return { namespace: this.keys.ns, at: new Date(Date.now() + this.clockOffsetMs).toISOString(), recipes, runtimes };
  }

  /** Redis's clock against this host's (TIME, halfway through the round trip). */
  private async measureClock(): Promise<void> {
    const before = Date.now();
    const [seconds, micros] = await this.redis.time();
    const after = Date.now();
    this.clockOffsetMs = Number(seconds) * 1000 + Number(micros) / 1000 - (before + after) / 2;
  }

  /**
   * /readyz: from what the runtime already knows, no connection opened. Ready when running,
   * connected to Redis, and every recipe is loaded with no standing problem (its database
   * reachable and writing); a paused recipe is ready (an operator's choice).
   */
  private readiness(): Readiness {
    const problems: Array<{ what: string; recipe?: string; error: string }> = [];
    if (this.state !== 'running') problems.push({ what: 'runtime', error: `the runtime is ${this.state}` });
    if (this.redis.status !== 'ready') problems.push({ what: 'redis', error: `the connection to Redis is ${this.redis.status}` });
    for (const [name, outcome] of this.outcomes) {
      if (outcome.status === 'failed' && !this.workers.has(name)) problems.push({ what: 'recipe', recipe: name, error: `failed: ${outcome.error}` });
    }
    for (const [name, worker] of this.workers) {
      const problem = worker.problem;
      if (problem) problems.push({ what: 'recipe', recipe: name, error: problem });
    }
    return { ready: problems.length === 0, problems };
  }

  /** The recipes' gauges for a scrape of /metrics: one pipeline to Redis. */
  private async snapshot(): Promise<RecipeSnapshot[]> {
    const names = [...new Set([...this.workers.keys(), ...this.outcomes.keys()])];
    if (names.length === 0) return [];
    const counts = await partitionCounts(this.redis, this.keys, names);
    const p = this.redis.pipeline();
    for (const name of names) p.hmget(this.keys.status(name), 'queued', 'overflowedAt');
    const [res0, oldest] = await Promise.all([p.exec(), Promise.all(names.map((name, i) => this.cluster ? undefined : oldestEntryMs(this.redis, this.keys, name, counts[i] ?? 1)))]);
    let res = res0;
    if (this.cluster) {
      // Counted per shard: summed, each shard in its own slot.
      const totals = await Promise.all(names.map((name, i) => backlogTotals(this.redis, this.keys, name, counts[i] ?? 1, this.knownTags())));
      res = (res0 ?? []).map(([err, v], i) => [err, [String(totals[i]?.queued ?? 0), (v as Array<string | null>)[1] ?? null]] as [Error | null, unknown]);
      totals.forEach((t, i) => (oldest[i] = t.oldestMs));
    }
    const now = Date.now() + this.clockOffsetMs;
    return names.map((name, i) => {
      const [queued, overflowedAt] = (res?.[i]?.[1] as Array<string | null> | undefined) ?? [];
      const worker = this.workers.get(name);
      const outcome = this.outcomes.get(name);
      const state = worker ? (worker.isPaused ? 'paused' : 'loaded') : (outcome?.status ?? 'unknown');
      const firstMs = oldest[i];
      return {
        name,
        version: worker?.reg.version ?? '',
        state,
        backlog: Math.max(0, Number(queued ?? 0)),
        oldestPendingSeconds: firstMs === undefined ? 0 : Math.max(0, (now - firstMs) / 1000),
        overflowed: Boolean(overflowedAt),
        partitionsHeld: Object.entries(this.leases.summary()).filter(([unit]) => unit === name || unit.startsWith(`${name}@`)).reduce((n, [, ps]) => n + ps.length, 0),
        // Recipe-wide gauges from the runtime that captures (or this one before any does).
        reportsBacklog: this.captureLease !== undefined || !this.capturingElsewhere,
      };
    });
  }

  /**
   * An upload's first phase: evaluates the candidate bundle as a load would (its code in a
   * sandbox, its driver installed here) and answers `prepared` or `failed` for each name,
   * without installing anything.
   */
  private async prepare(nonce: string, names: readonly string[]): Promise<void> {
    const code = await this.redis.get(this.keys.candidate(nonce)).catch(() => null);
    for (const name of names) {
      if (code === null) {
        await this.verdict(nonce, name, '?', 'failed', 'the uploaded bundle was gone before this runtime read it (it is kept 2 minutes)').catch(() => undefined);
        continue;
      }
      let version = '?';
      try {
        const loaded = await loadRegistration(name, code, this.keys.ns, { params: (n) => this.params.get(n), log: this.log, limits: this.opts.sandbox, onFail: () => undefined });
        version = loaded.reg.version;
        try {
          assertDriverInstalled(loaded.reg.connector);
          this.assertRunsHere(loaded.reg);
          await this.verdict(nonce, name, loaded.reg.version, 'prepared', '');
        } finally {
          await loaded.sandbox.close();
        }
      } catch (err) {
        await this.verdict(nonce, name, version, 'failed', errorText(err)).catch(() => undefined);
      }
    }
  }

  private async verdict(nonce: string, name: string, version: string, status: 'loaded' | 'prepared' | 'failed', error: string, reconciles = false): Promise<void> {
    this.log.debug({ nonce, recipe: name, version, status }, 'verdict');
    await this.redis.xadd(this.keys.verdicts(), 'MAXLEN', '~', '1000', '*',
      'nonce', nonce, 'name', name, 'version', version, 'status', status, 'error', error, 'runtime', this.opts.id, 'reconciles', reconciles ? '1' : '0');
  }
}

/** A runtime id as a part of a client name, which may not hold spaces or newlines. */
function clientNamePart(id: string): string {
  return id.replace(/[^\x21-\x7e]/g, '_');
}

/** Whether a new version writes its keys elsewhere or otherwise: another table or database, other mappings. */
function mirrorsOtherwise(old: Registration, reg: Registration): boolean {
  return old.connector.describe() !== reg.connector.describe() || JSON.stringify(old.mappings) !== JSON.stringify(reg.mappings);
}
