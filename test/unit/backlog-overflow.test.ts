import { describe, expect, it } from 'vitest';
import { hasRoom, lowWater, mayRecover, Overflow, resumeMark } from '../../runtime/capture/overflow.ts';

const writing = { failing: false, paused: false };

describe('marks of the backlog bound', () => {
  it('stops reconciles at half the bound and resumes them at a quarter', () => {
    expect([lowWater(1_000_000), resumeMark(1_000_000)]).toStrictEqual([500_000, 250_000]);
    expect([lowWater(500), resumeMark(500)]).toStrictEqual([250, 125]);
    expect(lowWater(1)).toBe(1);
  });

  it('recovers once drained to half the bound and writing, not before', () => {
    expect(mayRecover({ queued: 251, entries: 3 }, 500, writing)).toBe(false);
    expect(mayRecover({ queued: 250, entries: 3 }, 500, writing)).toBe(true);
    expect(mayRecover({ queued: 0, entries: 0 }, 500, { failing: true, paused: false })).toBe(false);
    expect(mayRecover({ queued: 0, entries: 0 }, 500, { failing: false, paused: true })).toBe(false);
  });

  it('takes an empty stream as drained, whatever a stale count says', () => {
    expect(mayRecover({ queued: 10_000, entries: 0 }, 500, writing)).toBe(true);
    expect(hasRoom({ queued: 10_000, entries: 0 }, 500)).toBe(true);
  });

  it('gives a waiting reconcile room at the resume mark', () => {
    expect(hasRoom({ queued: 126, entries: 1 }, 500)).toBe(false);
    expect(hasRoom({ queued: 125, entries: 1 }, 500)).toBe(true);
  });
});

describe('Overflow', () => {
  it('begins once, drops live events until the recovery begins, and ends with it', () => {
    const o = new Overflow();
    expect(o.dropping).toBe(false);
    expect(o.refused()).toBe(true);
    expect(o.refused()).toBe(false); // logged and marked once, not per event
    expect([o.phase, o.dropping]).toStrictEqual(['overflowed', true]);
    o.beginRecovery();
    expect([o.phase, o.dropping]).toStrictEqual(['recovering', false]);
    expect(o.endRecovery(true)).toBe(true);
    expect([o.phase, o.dropping]).toStrictEqual(['none', false]);
    expect(o.refused()).toBe(true); // a later overflow is a new one
  });

  it('runs the recovery again when a capture was refused during it', () => {
    const o = new Overflow();
    o.refused();
    o.beginRecovery();
    expect(o.refused()).toBe(false);
    expect(o.dropping).toBe(true); // the reconcile may have passed the dropped keys already
    expect(o.endRecovery(true)).toBe(false);
    expect([o.phase, o.dropping]).toStrictEqual(['overflowed', true]);
    o.beginRecovery();
    expect(o.endRecovery(true)).toBe(true);
  });

  it('stays overflowed when the recovery failed', () => {
    const o = new Overflow();
    o.refused();
    o.beginRecovery();
    expect(o.endRecovery(false)).toBe(false);
    expect(o.phase).toBe('overflowed');
  });

  it('restores an overflow marked in status without counting it as new', () => {
    const o = new Overflow();
    o.restore();
    expect(o.phase).toBe('overflowed');
    expect(o.refused()).toBe(false);
  });
});
