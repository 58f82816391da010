import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { verdictsStartId } from '../../cli/commands/upload.ts';

/** Stream ids compare by time, then sequence. */
function after(a: string, b: string): boolean {
  const [at, as] = a.split('-').map(Number) as [number, number];
  const [bt, bs] = b.split('-').map(Number) as [number, number];
  return at > bt || (at === bt && as > bs);
}

/**
 * A Redis whose clock is `skewMs` away from this host's: TIME answers it (as strings, like the
 * server), and `xadd()` gives an id the way XADD * does (Redis's milliseconds, never going back).
 */
function skewedRedis(skewMs: number) {
  let last: [number, number] = [-1, 0];
  const now = (): number => Date.now() + skewMs;
  const xadd = (): string => {
    const t = now();
    last = t > last[0] ? [t, 0] : [last[0], last[1] + 1];
    return `${last[0]}-${last[1]}`;
  };
  const redis = {
    time: async () => {
      const us = now() * 1000;
      return [String(Math.floor(us / 1_000_000)), String(us % 1_000_000)];
    },
  } as unknown as Pick<Redis, 'time'>;
  return { redis, xadd };
}

describe('verdictsStartId', () => {
  it.each([
    ['an hour behind this host', -3_600_000],
    ['a day ahead of this host', 86_400_000],
    ['the same as this host', 0],
  ])("starts before the next verdict when Redis's clock is %s", async (_, skew) => {
    const { redis, xadd } = skewedRedis(skew);
    xadd();
    const since = await verdictsStartId(redis);
    expect(after(xadd(), since)).toBe(true);
  });

  it("starts after verdicts added a second before, by Redis's clock", async () => {
    const { redis } = skewedRedis(-3_600_000);
    const since = await verdictsStartId(redis);
    const [ms] = since.split('-').map(Number) as [number];
    expect(after(`${ms - 1000}-5`, since)).toBe(false);
  });

  it('is what the host clock got wrong: a start from Date.now() skips a verdict from a Redis an hour behind', () => {
    const hostStart = `${Date.now() - 1}-0`;
    const { xadd } = skewedRedis(-3_600_000);
    expect(after(xadd(), hostStart)).toBe(false);
  });
});
