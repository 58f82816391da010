import { describe, it, expect } from 'vitest';
import { classifyEvent } from '../../runtime/capture/capture-queue.ts';
import { mergeFlags, NEEDED_FLAGS } from '../../runtime/capture/keyspace-config.ts';

describe('mergeFlags', () => {
  it('adds every needed flag to an empty setting', () => {
    expect(NEEDED_FLAGS.join('')).toBe('Kgh$xe');
    expect(mergeFlags('')).toBe('Kgh$xe');
  });

  it("needs nothing when 'A' and 'K' are set", () => {
    expect(mergeFlags('KEA')).toBeUndefined();
    expect(mergeFlags('AK')).toBeUndefined();
    expect(mergeFlags('Kgh$xe')).toBeUndefined();
  });

  it('adds only what is missing, keeping the current flags', () => {
    expect(mergeFlags('Kh')).toBe('Khg$xe');
    expect(mergeFlags('A')).toBe('AK');
    expect(mergeFlags('Ex')).toBe('ExKgh$e');
  });
});

describe('classifyEvent', () => {
  it.each([
    ['expire', undefined],
    ['persist', undefined],
    ['expired', 'x'],
    ['evicted', 'x'],
    ['hset', 'c'],
    ['hdel', 'c'],
    ['del', 'c'],
    ['set', 'c'],
    ['rename_to', 'c'],
  ] as const)('%s -> %s', (event, kind) => {
    expect(classifyEvent(event)).toBe(kind);
  });
});
