import { Redis, type RedisOptions } from 'ioredis';
import { redisTarget, type RedisFlags } from './flags.ts';

/** Opens a Redis connection from the shared flags; `extra` tunes retry behaviour per use. */
export function connectRedis(flags: RedisFlags, extra: RedisOptions = {}): Redis {
  const target = redisTarget(flags);
  const options = { ...target.options, ...extra };
  return target.url !== undefined ? new Redis(target.url, options) : new Redis(options);
}

/**
 * Connects `conn` again whenever it ends while `wanted()` says it should live: a connection ends
 * (status `end`, every command then fails with "Connection is closed.") not only on our own
 * disconnect but also, in ioredis, when Sentinel's failover detector closes it while it is still
 * asking the sentinels for the master, which happens around a failover. Our own stops make
 * `wanted()` false first.
 */
export function keepConnected(conn: Redis, wanted: () => boolean, onEnd: () => void = () => undefined, delayMs = 1000): void {
  conn.on('end', () => {
    if (!wanted()) return;
    onEnd();
    setTimeout(() => {
      if (wanted() && conn.status === 'end') conn.connect().catch(() => undefined);
    }, delayMs).unref();
  });
}
