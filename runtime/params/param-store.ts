import type { Redis } from 'ioredis';
import type { Keys } from '../keys.ts';

/** The parameter store behind configGet: one Redis hash. Values are secrets; never log them. */
export class ParamStore {
  private readonly redis: Redis;
  private readonly keys: Keys;

  constructor(
    redis: Redis,
    keys: Keys,
  ) {
    this.redis = redis;
    this.keys = keys;
  }

  async get(name: string): Promise<string | undefined> {
    return (await this.redis.hget(this.keys.params(), name)) ?? undefined;
  }

  async set(name: string, value: string): Promise<void> {
    await this.redis.hset(this.keys.params(), name, value);
  }

  async names(): Promise<string[]> {
    return (await this.redis.hkeys(this.keys.params())).sort();
  }
}
