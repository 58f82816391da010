import { describe, expect, it } from 'vitest';
import { describeOverlap, findOverlaps, prefixesOverlap, type PrefixClaim } from '../../runtime/registry/overlap.ts';

const T1 = 'mysql 127.0.0.1:3306/test table persons';
const T2 = 'mysql 127.0.0.1:3306/test table vips';
const T3 = 'mysql 127.0.0.1:3306/test table orders';
const claim = (name: string, keysPrefix: string, target = T1): PrefixClaim => ({ name, keysPrefix, target });

describe('prefixesOverlap', () => {
  it('a prefix covers <prefix>:*, so only equal prefixes and prefixes under another one overlap', () => {
    expect(prefixesOverlap('person', 'person')).toBe(true);
    expect(prefixesOverlap('person', 'person:vip')).toBe(true);
    expect(prefixesOverlap('person:vip', 'person')).toBe(true);
    expect(prefixesOverlap('person', 'personal')).toBe(false);
    expect(prefixesOverlap('person:vip', 'person:vipx')).toBe(false);
    expect(prefixesOverlap('a', 'b')).toBe(false);
  });
});

describe('findOverlaps', () => {
  it('compares the incoming claims with the stored ones and with each other, not with their own stored version', () => {
    const stored = [claim('A', 'person'), claim('B', 'order', T3), claim('C', 'person:vip', T2)];
    const found = findOverlaps([claim('A', 'person'), claim('D', 'person:vip:gold', T2)], stored);
    expect(found.map((o) => [o.a.name, o.b.name, o.sameTable])).toEqual([
      ['A', 'D', false],
      ['A', 'C', false],
      ['D', 'C', true],
    ]);
  });

  it('finds nothing for disjoint prefixes on tables of their own', () => {
    expect(findOverlaps([claim('A', 'person')], [claim('B', 'personal', T2), claim('C', 'order', T3)])).toEqual([]);
  });

  it('finds two recipes writing one table whatever their prefixes: their rows would mix in its key column', () => {
    const [o] = findOverlaps([claim('B', 'order')], [claim('A', 'person')]);
    expect(o).toMatchObject({ sharedKeys: false, sameTable: true });
    expect(describeOverlap(o!)).toBe(
      `'B' (keysPrefix 'order') and 'A' (keysPrefix 'person') both write to ${T1}: ids of both share its key column (order:1 and person:1 are one row), ` +
        "and each would take the other's rows for its own whose key is gone (the sweep after a gap deletes them with onExpire: 'delete', verify --delete-extra too)",
    );
  });
});

describe('describeOverlap', () => {
  it('names both recipes, their prefixes, a shared key and the tables', () => {
    const [same] = findOverlaps([claim('B', 'person:vip')], [claim('A', 'person')]);
    expect(describeOverlap(same!)).toBe(
      `'B' (keysPrefix 'person:vip') overlaps 'A' (keysPrefix 'person') and both write to ${T1}: a key such as person:vip:1 is written by both into the same row`,
    );
    const [two] = findOverlaps([claim('B', 'person', T2)], [claim('A', 'person')]);
    expect(describeOverlap(two!)).toBe(`'B' (keysPrefix 'person') overlaps 'A' (keysPrefix 'person'): a key such as person:1 is synced by both, to ${T2} and to ${T1}`);
  });
});
