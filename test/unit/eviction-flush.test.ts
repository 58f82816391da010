import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { noticeProvesFlush } from '../../runtime/capture/flush-notice.ts';
import { EvictionPolicyWatch, EvictionRefused, evictsOwnKeys, refusal } from '../../runtime/redis/eviction-policy.ts';

/** A Redis whose CONFIG GET maxmemory-policy answers `policy()`, or throws when it returns an Error. */
function fakeRedis(policy: () => string | Error): Redis {
  return {
    config: async (_op: string, name: string) => {
      const p = policy();
      if (p instanceof Error) throw p;
      return [name, p];
    },
  } as unknown as Redis;
}

const silent = pino({ level: 'silent' });

describe('evictsOwnKeys', () => {
  it.each([
    ['allkeys-lru', true],
    ['allkeys-lfu', true],
    ['allkeys-random', true],
    ['noeviction', false],
    ['volatile-lru', false],
    ['volatile-lfu', false],
    ['volatile-random', false],
    ['volatile-ttl', false],
  ] as const)('%s -> %s', (policy, evicts) => {
    expect(evictsOwnKeys(policy)).toBe(evicts);
  });

  it('the refusal names the policy, the risk and every fix', () => {
    const text = refusal('allkeys-lfu');
    for (const part of ['maxmemory-policy is allkeys-lfu', 'backlog', 'parameters', 'recipes', 'sentinel', 'noeviction', 'volatile-*', 'separate Redis', '--allow-eviction']) {
      expect(text).toContain(part);
    }
  });
});

describe('EvictionPolicyWatch', () => {
  it('refuses an allkeys-* policy at start unless eviction is allowed', async () => {
    await expect(new EvictionPolicyWatch(fakeRedis(() => 'allkeys-lru'), false, silent).atStart()).rejects.toBeInstanceOf(EvictionRefused);
    const allowed = new EvictionPolicyWatch(fakeRedis(() => 'allkeys-lru'), true, silent);
    await allowed.atStart();
    expect(allowed.warning()).toContain('--allow-eviction');
    expect(allowed.evictionDoubt()).toContain('allkeys-lru');
  });

  it('goes on when CONFIG is refused, and then the absence of the sentinel proves nothing', async () => {
    const watch = new EvictionPolicyWatch(fakeRedis(() => new Error('NOPERM')), false, silent);
    await watch.atStart();
    expect(watch.warning()).toBeUndefined();
    expect(watch.evictionDoubt()).toContain('could not be read');
  });

  it('under noeviction or volatile-*, the absence of the sentinel proves a flush', async () => {
    for (const policy of ['noeviction', 'volatile-lru']) {
      const watch = new EvictionPolicyWatch(fakeRedis(() => policy), false, silent);
      await watch.atStart();
      await watch.check();
      watch.sentinelLooked(false);
      expect(watch.evictionDoubt()).toBeUndefined();
    }
  });

  it('an allkeys-* reading since the sentinel was last seen is a doubt, even if the policy is safe again', async () => {
    let policy = 'noeviction';
    const watch = new EvictionPolicyWatch(fakeRedis(() => policy), false, silent);
    await watch.atStart();
    policy = 'allkeys-lru';
    await watch.check();
    expect(watch.warning()).toContain('allkeys-lru');
    watch.sentinelLooked(true); // seen under allkeys-lru: it may be evicted from here on
    policy = 'noeviction';
    await watch.check();
    expect(watch.warning()).toBeUndefined();
    watch.sentinelLooked(false);
    expect(watch.evictionDoubt()).toContain('allkeys-lru');
    watch.sentinelLooked(true); // seen again under noeviction: a new interval
    await watch.check();
    watch.sentinelLooked(false);
    expect(watch.evictionDoubt()).toBeUndefined();
  });
});

describe('noticeProvesFlush', () => {
  const seen = { flushes: 3, touches: 5, breaks: 1 };

  it('a flush notice since the sentinel was seen proves a flush', () => {
    expect(noticeProvesFlush(seen, { flushes: 4, touches: 5, breaks: 1 })).toBe(true);
  });

  it('no notice, a notice about the sentinel itself (a DEL, an eviction), a dropped connection, or never seen: no proof', () => {
    expect(noticeProvesFlush(seen, seen)).toBe(false);
    expect(noticeProvesFlush(seen, { flushes: 4, touches: 6, breaks: 1 })).toBe(false);
    expect(noticeProvesFlush(seen, { flushes: 4, touches: 5, breaks: 2 })).toBe(false);
    expect(noticeProvesFlush(undefined, { flushes: 4, touches: 5, breaks: 1 })).toBe(false);
  });
});
