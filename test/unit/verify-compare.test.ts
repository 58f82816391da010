import { describe, expect, it } from 'vitest';
import { diffRow, expectedRow, sameValue } from '../../runtime/verify/compare.ts';

describe('sameValue', () => {
  it('compares text exactly and numbers numerically', () => {
    expect(sameValue('Ada', 'Ada')).toBe(true);
    expect(sameValue('Ada', 'ada')).toBe(false);
    expect(sameValue('27', '27.0')).toBe(true);
    expect(sameValue('', '0')).toBe(false);
    expect(sameValue(null, null)).toBe(true);
    expect(sameValue(null, '')).toBe(false);
  });

  it('compares typed columns as their type', () => {
    expect(sameValue('yes', '1', 'boolean')).toBe(true);
    expect(sameValue('no', 'true', 'boolean')).toBe(false);
    expect(sameValue('2024-01-02 10:00:00', '2024-01-02T10:00:00.000Z', 'timestamp')).toBe(true);
    expect(sameValue('2024-01-02 10:00:00+00', '2024-01-02 10:00:00', 'timestamp')).toBe(true);
    expect(sameValue('2024-01-02 10:00:01', '2024-01-02 10:00:00', 'timestamp')).toBe(false);
    expect(sameValue('{"a": 1}', '{"a":1}', 'json')).toBe(true);
    expect(sameValue('{"a": 1}', '{"a":2}', 'json')).toBe(false);
    expect(sameValue('ABCDEF01-0000-0000-0000-000000000000', 'abcdef01-0000-0000-0000-000000000000', 'uuid')).toBe(true);
  });
});

describe('sameValue through the column', () => {
  const int = { name: 'age', type: 'int(11)', family: 'integer', min: -2147483648n, max: 2147483647n } as const;
  it('never counts a value the writer refuses as equal, even when the old row holds its number', () => {
    expect(sameValue('42', '42', int)).toBe(true);
    expect(sameValue(' 42', '42', int)).toBe(false);
    expect(sameValue('1.5', '2', int)).toBe(false);
    expect(sameValue('042', '42', int)).toBe(false);
  });
  it('compares a converted timestamp as the instant the writer wrote', () => {
    const ts = { name: 'at', type: 'datetime', family: 'timestamp', fraction: 0 } as const;
    expect(sameValue('2024-02-28T12:00:00+02:00', '2024-02-28 10:00:00', ts)).toBe(true);
    expect(sameValue('2024-02-28 10:00:00.5', '2024-02-28 10:00:01', ts)).toBe(false);
  });
});

describe('diffRow', () => {
  it('reports only the columns that differ, using each column type', () => {
    const expected = expectedRow({ first_name: 'Ada', active: 'yes', age: '3' }, { first_name: 'first', active: 'active', age: 'age', nick: 'nick' });
    const families: Record<string, 'boolean' | 'integer'> = { active: 'boolean', age: 'integer' };
    expect(diffRow(expected, { first: 'Ada', active: '1', age: '4', nick: null }, (c) => families[c])).toEqual([{ column: 'age', redis: '3', table: '4' }]);
  });
});
