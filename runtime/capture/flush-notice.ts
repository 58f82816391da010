import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { connectRedis } from '../redis/connect.ts';
import type { RedisFlags } from '../redis/flags.ts';

/** Where Redis publishes the invalidations of a tracking client that redirects them (RESP2). */
const CHANNEL = '__redis__:invalidate';
/** How long a barrier waits for the listener's PING. */
const BARRIER_MS = 2000;

/** Running totals of what the listener heard. */
export interface NoticeCounts {
  /** Invalidations with a nil key list: a FLUSHALL or FLUSHDB ran (of any database). */
  readonly flushes: number;
  /** Invalidations naming a key: the sentinel was deleted, overwritten, expired or evicted. */
  readonly touches: number;
  /** Connection losses and failed arming: notices may have been missed. */
  readonly breaks: number;
}

/**
 * Whether the notices heard since the sentinel was last seen (`seen`, the totals just before
 * that read) prove that a flush removed it. A flush notice does not say which database was
 * flushed, so it counts only while the sentinel itself was tracked the whole time and never
 * reported on its own: then nothing but a flush of its database can have removed it.
 */
export function noticeProvesFlush(seen: NoticeCounts | undefined, now: NoticeCounts): boolean {
  return seen !== undefined && now.breaks === seen.breaks && now.touches === seen.touches && now.flushes > seen.flushes;
}

export type SentinelLook = { readonly present: true } | { readonly present: false; readonly flushNotice: boolean };

/**
 * Evidence of a flush that eviction cannot fake, from Redis's client-side-caching invalidations.
 * A tracking connection (CLIENT TRACKING ON REDIRECT <listener>) reads the sentinel at every
 * look, which tracks it; a listener connection subscribed to `__redis__:invalidate` hears what
 * Redis 7.0 sends for it: a message with a nil payload when FLUSHALL/FLUSHDB runs (in a MULTI and
 * ASYNC too, for any database), and one naming the key when it is deleted, overwritten, expires or
 * is evicted (checked on Redis 7.0.15). Two connections are needed: in RESP2 a subscribed
 * connection cannot read keys.
 */
export class FlushWatch {
  private readonly tracker: Redis;
  private readonly listener: Redis;
  private readonly key: string;
  private readonly log: Logger;
  private readonly onFlushNotice: () => void;
  private counts: NoticeCounts = { flushes: 0, touches: 0, breaks: 0 };
  /** The totals just before the last read that found the sentinel through an armed tracker. */
  private seen: NoticeCounts | undefined;
  /** The listener's client id while it is subscribed on its current connection. */
  private listenerId: string | undefined;
  /** Counts the listener's connections, so an id read on an older one is never used. */
  private listenerEpoch = 0;
  private armed = false;
  private arming: Promise<void> = Promise.resolve();
  private failure: string | undefined;
  private closing = false;

  constructor(flags: RedisFlags, key: string, log: Logger, onFlushNotice: () => void, name = 'wbsync') {
    this.key = key;
    this.log = log;
    this.onFlushNotice = onFlushNotice;
    this.tracker = connectRedis(flags, { maxRetriesPerRequest: null, connectionName: `${name}:flush-tracker` });
    // The listener's commands fail when its connection drops instead of being sent again on the
    // next one, and it does not resubscribe by itself: arming reads the new connection's id
    // first, which a subscribed connection cannot do. A barrier then fails fast, too.
    this.listener = connectRedis(flags, { maxRetriesPerRequest: 0, autoResubscribe: false, connectionName: `${name}:flush-listener` });
    for (const conn of [this.tracker, this.listener]) {
      // The runtime's own connections already report Redis being unreachable.
      conn.on('error', (err: Error) => this.log.debug({ err: err.message }, 'flush watch connection error'));
      conn.on('close', () => {
        this.counts = { ...this.counts, breaks: this.counts.breaks + 1 };
        this.armed = false;
        if (conn === this.listener) {
          this.listenerId = undefined;
          this.listenerEpoch++;
        }
      });
      conn.on('ready', () => void this.rearm());
    }
    this.listener.on('messageBuffer', (channel: Buffer, message: Buffer | Buffer[] | null) => this.onNotice(channel, message));
  }

  /** Arms the watch; when Redis refuses tracking it logs why and the runtime goes on without it. */
  async start(): Promise<void> {
    await this.rearm();
  }

  /**
   * Reads the sentinel. Found: a new interval starts. Missing: says whether a flush notice
   * proves a flush since it was last found. Without an armed tracker it reads through
   * `fallback`, and no notice counts until an armed read finds it again.
   */
  async look(fallback: Redis): Promise<SentinelLook> {
    if (!this.armed) await this.rearm();
    // Every notice for what ran before this look is counted before the totals are taken.
    await this.barrier();
    const before = this.counts;
    const armed = this.armed;
    const present = armed ? (await this.tracker.get(this.key)) !== null : (await fallback.exists(this.key)) === 1;
    if (present) {
      // Reading it on the tracking connection also tracks it: from here Redis reports its loss.
      this.seen = armed && this.armed && this.counts.breaks === before.breaks ? before : undefined;
      return { present: true };
    }
    // The flush's notice was sent before our read ran; the PING makes sure it has arrived.
    const delivered = await this.barrier();
    return { present: false, flushNotice: delivered && noticeProvesFlush(this.seen, this.counts) };
  }

  async stop(): Promise<void> {
    this.closing = true;
    this.tracker.disconnect();
    this.listener.disconnect();
    await this.arming;
  }

  private onNotice(channel: Buffer, message: Buffer | Buffer[] | null): void {
    if (channel.toString() !== CHANNEL) return;
    if (message === null) {
      this.counts = { ...this.counts, flushes: this.counts.flushes + 1 };
      this.onFlushNotice();
    } else {
      // The tracker reads no other key; anything named is taken as the sentinel, to be safe.
      this.counts = { ...this.counts, touches: this.counts.touches + 1 };
    }
  }

  /** True once the listener answered a PING: everything Redis sent it before has been handled. */
  private async barrier(): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), BARRIER_MS)));
    try {
      return await Promise.race([this.listener.ping().then(() => true, () => false), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Arms again after a reconnect of either connection; one arming at a time. */
  private rearm(): Promise<void> {
    this.arming = this.arming.then(() => this.arm());
    return this.arming;
  }

  private async arm(): Promise<void> {
    if (this.closing) return;
    const breaks = this.counts.breaks;
    try {
      if (this.listenerId === undefined) {
        const epoch = this.listenerEpoch;
        const id = String(await this.listener.client('ID'));
        await this.listener.subscribe(CHANNEL);
        if (epoch !== this.listenerEpoch) return; // reconnected meanwhile: its 'ready' arms again
        this.listenerId = id;
      }
      await this.tracker.client('TRACKING', 'ON', 'REDIRECT', this.listenerId);
      this.armed = !this.closing && this.counts.breaks === breaks;
      if (this.armed && this.failure !== undefined) {
        this.failure = undefined;
        this.log.info('watching for flush notices again');
      }
    } catch (err) {
      this.armed = false;
      if (this.counts.breaks !== breaks) return; // a reconnect: its 'ready' arms again
      const why = err instanceof Error ? err.message : String(err);
      if (!this.closing && why !== this.failure) {
        this.failure = why;
        this.log.warn({ err: why }, "cannot watch for flush notices (CLIENT TRACKING with REDIRECT, Redis 6 or later); onFlush: 'delete' then acts only where the eviction policy cannot evict the sentinel (noeviction or volatile-*)");
      }
    }
  }
}
