import { describe, it, expect } from 'vitest';
import { compareVersions, isVersion } from '../../recipes/version.ts';
import { decideUpload } from '../../runtime/registry/version-rules.ts';

describe('isVersion', () => {
  it.each(['1', '1.2', '1.10.0', '0', '01.2'])('accepts %j', (v) => expect(isVersion(v)).toBe(true));
  it.each(['', '1.a', 'v1', '1.', '.1', '1..2', '1 ', '-1', 1, undefined])('rejects %j', (v) => expect(isVersion(v)).toBe(false));
});

describe('compareVersions', () => {
  it.each([
    ['1.10', '1.9', 1],
    ['1.9', '1.10', -1],
    ['1.0', '1', 0],
    ['1', '1.0.0', 0],
    ['1.0.1', '1', 1],
    ['2', '10', -1],
    ['01', '1', 0],
    ['3.2.1', '3.2.1', 0],
  ] as const)('compare(%s, %s) = %i', (a, b, expected) => {
    expect(compareVersions(a, b)).toBe(expected);
  });
});

describe('decideUpload', () => {
  it('registers a new name', () => {
    expect(decideUpload('P', undefined, '1', false)).toEqual({ action: 'register' });
  });

  it('replaces with a strictly higher version, unforced', () => {
    expect(decideUpload('P', '1.9', '1.10', false)).toEqual({ action: 'replace', from: '1.9', forced: false });
    expect(decideUpload('P', '1', '2', true)).toEqual({ action: 'replace', from: '1', forced: false });
  });

  it('refuses an equal version, naming the registered one', () => {
    expect(decideUpload('P', '1.0', '1', false)).toEqual({
      action: 'refuse',
      reason: "'P' version 1.0 is registered; version 1 is equal to it. Raise the version, or pass --force to replace it anyway",
    });
  });

  it('refuses a lower version', () => {
    const d = decideUpload('P', '1.10', '1.9', false);
    expect(d.action).toBe('refuse');
    expect(d).toHaveProperty('reason', "'P' version 1.10 is registered; version 1.9 is lower than it. Raise the version, or pass --force to replace it anyway");
  });

  it('replaces an equal or lower version with force', () => {
    expect(decideUpload('P', '2', '2', true)).toEqual({ action: 'replace', from: '2', forced: true });
    expect(decideUpload('P', '2', '1', true)).toEqual({ action: 'replace', from: '2', forced: true });
  });
});
