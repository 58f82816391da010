import { describe, it, expect } from 'vitest';
import { MySqlConnection, MySqlConnector, writeBehind } from '../../recipes/index.ts';
import type { BacklogEntry } from '../../runtime/backlog/entry.ts';
import { idOf, planBatch } from '../../runtime/writer/plan.ts';

const reg = writeBehind({
  name: 'Persons',
  version: '1',
  connector: new MySqlConnector(new MySqlConnection('u', 'p', 'localhost:3306/test'), 'persons', 'id'),
  keysPrefix: 'person',
  mappings: { first_name: 'first', last_name: 'last', age: 'age' },
});

let seq = 0;
const upsert = (key: string, fields: Record<string, string>): BacklogEntry => ({ id: `${++seq}-0`, key, op: 'u', fields: new Map(Object.entries(fields)) });
const del = (key: string): BacklogEntry => ({ id: `${++seq}-0`, key, op: 'd' });
const wrongType = (key: string, type: string): BacklogEntry => ({ id: `${++seq}-0`, key, op: 't', type });

describe('idOf', () => {
  it('takes everything after the first prefix:', () => {
    expect(idOf('person:1', 'person')).toBe('1');
    expect(idOf('person:a:b', 'person')).toBe('a:b');
    expect(idOf('person::x', 'person')).toBe(':x');
  });

  it('has no id for the bare prefix or another prefix', () => {
    expect(idOf('person:', 'person')).toBeUndefined();
    expect(idOf('person', 'person')).toBeUndefined();
    expect(idOf('persons:1', 'person')).toBeUndefined();
    expect(idOf('x:person:1', 'person')).toBeUndefined();
  });
});

describe('planBatch', () => {
  it('lists mapped columns in mapping order', () => {
    expect(planBatch([], reg)).toEqual({ columns: ['first', 'last', 'age'], rows: [], rejects: [] });
  });

  it('maps fields to values, nulls for absent fields, ignores unmapped ones', () => {
    const plan = planBatch([upsert('person:a:b', { first_name: 'Ann', age: '30', nickname: 'A' })], reg);
    expect(plan.rows).toEqual([
      { op: 'upsert', key: 'person:a:b', id: 'a:b', values: ['Ann', null, '30'], fields: { first_name: 'Ann', age: '30', nickname: 'A' } },
    ]);
    expect(plan.rejects).toEqual([]);
  });

  it('keeps the last entry per key, ordered by the newest change', () => {
    const plan = planBatch(
      [upsert('person:1', { first_name: 'old' }), upsert('person:2', { first_name: 'two' }), upsert('person:1', { first_name: 'new' })],
      reg,
    );
    expect(plan.rows.map((r) => [r.key, r.op === 'upsert' ? r.values[0] : 'deleted'])).toEqual([
      ['person:2', 'two'],
      ['person:1', 'new'],
    ]);
  });

  it('lets a delete win over an earlier upsert and vice versa', () => {
    expect(planBatch([upsert('person:1', { age: '1' }), del('person:1')], reg).rows).toEqual([{ op: 'delete', key: 'person:1', id: '1' }]);
    const back = planBatch([del('person:1'), upsert('person:1', { age: '2' })], reg).rows;
    expect(back).toHaveLength(1);
    expect(back[0]).toMatchObject({ op: 'upsert', id: '1', values: [null, null, '2'] });
  });

  it('rejects a key without an id', () => {
    expect(planBatch([upsert('person:', { age: '1' })], reg)).toEqual({
      columns: ['first', 'last', 'age'],
      rows: [],
      rejects: [{ key: 'person:', op: 'u', error: "key 'person:' has no id after 'person:'" }],
    });
  });

  it('rejects a key of the wrong type', () => {
    const plan = planBatch([wrongType('person:7', 'string'), upsert('person:8', { first_name: 'x' })], reg);
    expect(plan.rejects).toEqual([{ key: 'person:7', op: 't', error: "key 'person:7' holds a string, not a hash; only hashes are synced" }]);
    expect(plan.rows.map((r) => r.id)).toEqual(['8']);
  });
});
