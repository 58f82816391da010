import { Redis, type RedisOptions } from 'ioredis';
import { redisTarget, type RedisFlags } from './flags.ts';

/** Opens a Redis connection from the shared flags; `extra` tunes retry behaviour per use. */
export function connectRedis(flags: RedisFlags, extra: RedisOptions = {}): Redis {
  const target = redisTarget(flags);
  const options = { ...target.options, ...extra };
  return target.url !== undefined ? new Redis(target.url, options) : new Redis(options);
}
