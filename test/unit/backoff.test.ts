import { describe, it, expect } from 'vitest';
import { pino } from 'pino';
import { Backoff, retryForever, RetryStopped, sleep } from '../../runtime/writer/backoff.ts';

describe('Backoff', () => {
  it('doubles from the minimum up to the cap', () => {
    const b = new Backoff(100, 1000);
    expect(Array.from({ length: 7 }, () => b.next())).toEqual([100, 200, 400, 800, 1000, 1000, 1000]);
  });

  it('starts over after reset', () => {
    const b = new Backoff(50, 10_000);
    b.next();
    b.next();
    b.next();
    b.reset();
    expect([b.next(), b.next()]).toEqual([50, 100]);
  });

  it('stays at the cap after many attempts', () => {
    const b = new Backoff(1, 60_000);
    for (let i = 0; i < 100; i++) b.next();
    expect(b.next()).toBe(60_000);
  });
});

describe('sleep', () => {
  it('resolves early when the signal aborts', async () => {
    const ac = new AbortController();
    const started = Date.now();
    const done = sleep(10_000, ac.signal);
    ac.abort();
    await done;
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('resolves at once for an already aborted signal', async () => {
    await expect(sleep(10_000, AbortSignal.abort())).resolves.toBeUndefined();
  });
});

describe('retryForever', () => {
  const log = pino({ level: 'silent' });

  it('ends with RetryStopped once the signal aborts, instead of retrying forever', async () => {
    const ac = new AbortController();
    let tries = 0;
    const done = retryForever(async () => {
      tries++;
      throw new Error('connection reset');
    }, log, ac.signal);
    setTimeout(() => ac.abort(), 50);
    const started = Date.now();
    await expect(done).rejects.toBeInstanceOf(RetryStopped);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(tries).toBe(2); // the first try, and one more as the stop cut the wait short
  });

  it('still tries once after a stop (a stop finishes what it can)', async () => {
    await expect(retryForever(async () => 7, log, AbortSignal.abort())).resolves.toBe(7);
  });
});
