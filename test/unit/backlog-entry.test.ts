import { describe, it, expect } from 'vitest';
import { decodeEntry } from '../../runtime/backlog/entry.ts';

describe('decodeEntry', () => {
  it('decodes an upsert with its fields and no ack', () => {
    const e = decodeEntry(['1-0', ['k', 'person:1', 'o', 'u', 'a', '', 'first_name', 'Ann', 'age', '30']]);
    expect(e).toEqual({ id: '1-0', key: 'person:1', ack: '', op: 'u', fields: new Map([['first_name', 'Ann'], ['age', '30']]) });
  });

  it('decodes an upsert carrying an ack id', () => {
    const e = decodeEntry(['1-1', ['k', 'person:1', 'o', 'u', 'a', 'ack7', 'age', '30']]);
    expect(e).toEqual({ id: '1-1', key: 'person:1', ack: 'ack7', op: 'u', fields: new Map([['age', '30']]) });
  });

  it('decodes an upsert of fields named like the protocol', () => {
    const e = decodeEntry(['1-0', ['k', 'p:1', 'o', 'u', 'a', '', 'k', 'v1', 'o', 'v2', 'a', 'v3']]);
    expect(e?.op === 'u' && [...e.fields]).toEqual([['k', 'v1'], ['o', 'v2'], ['a', 'v3']]);
  });

  it('decodes an upsert of an empty field list', () => {
    expect(decodeEntry(['1-0', ['k', 'p:1', 'o', 'u', 'a', '']])).toEqual({ id: '1-0', key: 'p:1', ack: '', op: 'u', fields: new Map() });
  });

  it('ignores a dangling field without a value', () => {
    expect(decodeEntry(['1-0', ['k', 'p:1', 'o', 'u', 'a', '', 'f', 'v', 'g']])).toEqual({
      id: '1-0', key: 'p:1', ack: '', op: 'u', fields: new Map([['f', 'v']]),
    });
  });

  it('decodes a delete, with and without an ack', () => {
    expect(decodeEntry(['2-1', ['k', 'person:1', 'o', 'd', 'a', '']])).toEqual({ id: '2-1', key: 'person:1', ack: '', op: 'd' });
    expect(decodeEntry(['2-2', ['k', 'person:1', 'o', 'd', 'a', 'x1']])).toEqual({ id: '2-2', key: 'person:1', ack: 'x1', op: 'd' });
  });

  it('decodes a wrong type, defaulting to unknown', () => {
    expect(decodeEntry(['3-0', ['k', 'person:1', 'o', 't', 'a', '', 't', 'list']])).toEqual({ id: '3-0', key: 'person:1', ack: '', op: 't', type: 'list' });
    expect(decodeEntry(['3-0', ['k', 'person:1', 'o', 't', 'a', 'q']])).toEqual({ id: '3-0', key: 'person:1', ack: 'q', op: 't', type: 'unknown' });
    expect(decodeEntry(['3-1', ['k', 'person:1', 'o', 't', 'a', 'q', 't', 'hash']])).toEqual({ id: '3-1', key: 'person:1', ack: 'q', op: 't', type: 'hash' });
  });

  it('decodes an invalid # op report with its message, defaulting the message', () => {
    expect(decodeEntry(['5-0', ['k', 'person:1', 'o', 'p', 'a', '', 'm', "'#' op '?' is not one of =, ~, + or -"]])).toEqual({
      id: '5-0', key: 'person:1', ack: '', op: 'p', message: "'#' op '?' is not one of =, ~, + or -",
    });
    expect(decodeEntry(['5-1', ['k', 'person:1', 'o', 'p', 'a', '']])).toEqual({ id: '5-1', key: 'person:1', ack: '', op: 'p', message: 'invalid # op' });
  });

  it('decodes staged write-through fields', () => {
    expect(decodeEntry(['6-0', ['k', 'person:1', 'o', 'w', 'a', 'w1', 'first_name', 'Ada', 'age', '36']])).toEqual({
      id: '6-0', key: 'person:1', ack: 'w1', op: 'w', fields: new Map([['first_name', 'Ada'], ['age', '36']]),
    });
    expect(decodeEntry(['6-1', ['k', 'person:1', 'o', 'w', 'a', '']])).toEqual({ id: '6-1', key: 'person:1', ack: '', op: 'w', fields: new Map() });
  });

  it('decodes a write-through delete', () => {
    expect(decodeEntry(['7-0', ['k', 'person:1', 'o', 'x', 'a', 'gone']])).toEqual({ id: '7-0', key: 'person:1', ack: 'gone', op: 'x' });
  });

  it.each([
    ['deleted entry', null],
    ['too short', ['k', 'person:1', 'o', 'd', 'a']],
    ['entry of the old layout', ['k', 'person:1', 'o', 'u', 'first_name', 'Ann']],
    ['no k', ['x', 'person:1', 'o', 'd', 'a', '']],
    ['no o', ['k', 'person:1', 'x', 'd', 'a', '']],
    ['no a', ['k', 'person:1', 'o', 'd', 'b', '']],
    ['unknown op', ['k', 'person:1', 'o', 'z', 'a', '']],
    ['refresh-only op n', ['k', 'person:1', 'o', 'n', 'a', '']],
  ] as const)('skips a %s', (_, raw) => {
    expect(decodeEntry(['4-0', raw === null ? null : [...raw]])).toBeUndefined();
  });
});
