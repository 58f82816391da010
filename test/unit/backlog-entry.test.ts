import { describe, it, expect } from 'vitest';
import { decodeEntry } from '../../runtime/backlog/entry.ts';

describe('decodeEntry', () => {
  it('decodes an upsert with its fields', () => {
    const e = decodeEntry(['1-0', ['k', 'person:1', 'o', 'u', 'first_name', 'Ann', 'age', '30']]);
    expect(e).toEqual({ id: '1-0', key: 'person:1', op: 'u', fields: new Map([['first_name', 'Ann'], ['age', '30']]) });
  });

  it('decodes an upsert of fields named like the protocol', () => {
    const e = decodeEntry(['1-0', ['k', 'p:1', 'o', 'u', 'k', 'v1', 'o', 'v2']]);
    expect(e?.op === 'u' && [...e.fields]).toEqual([['k', 'v1'], ['o', 'v2']]);
  });

  it('decodes an upsert of an empty field list', () => {
    expect(decodeEntry(['1-0', ['k', 'p:1', 'o', 'u']])).toEqual({ id: '1-0', key: 'p:1', op: 'u', fields: new Map() });
  });

  it('decodes a delete', () => {
    expect(decodeEntry(['2-1', ['k', 'person:1', 'o', 'd']])).toEqual({ id: '2-1', key: 'person:1', op: 'd' });
  });

  it('decodes a wrong type', () => {
    expect(decodeEntry(['3-0', ['k', 'person:1', 'o', 't', 't', 'list']])).toEqual({ id: '3-0', key: 'person:1', op: 't', type: 'list' });
    expect(decodeEntry(['3-0', ['k', 'person:1', 'o', 't']])).toEqual({ id: '3-0', key: 'person:1', op: 't', type: 'unknown' });
  });

  it.each([
    ['deleted entry', null],
    ['too short', ['k', 'person:1', 'o']],
    ['no k', ['x', 'person:1', 'o', 'd']],
    ['no o', ['k', 'person:1', 'x', 'd']],
    ['unknown op', ['k', 'person:1', 'o', 'z']],
  ] as const)('skips a %s', (_, raw) => {
    expect(decodeEntry(['4-0', raw === null ? null : [...raw]])).toBeUndefined();
  });
});
