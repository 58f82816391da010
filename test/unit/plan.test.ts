import { describe, it, expect } from 'vitest';
import { MySqlConnection, MySqlConnector, writeBehind, writeThrough } from '../../recipes/index.ts';
import { decodeEntry, type BacklogEntry } from '../../runtime/backlog/entry.ts';
import { fieldsObject, idOf, planBatch } from '../../runtime/writer/plan.ts';

const connector = new MySqlConnector(new MySqlConnection('u', 'p', 'localhost:3306/test'), 'persons', 'id');
const mappings = { first_name: 'first', last_name: 'last', age: 'age' };
const reg = writeBehind({ name: 'Persons', version: '1', connector, keysPrefix: 'person', mappings });
const through = writeThrough({ name: 'PersonsWT', version: '1', connector, keysPrefix: 'person', mappings });
const COLUMNS = ['first', 'last', 'age'];

let seq = 0;
const next = (): string => `${++seq}-0`;
const upsert = (key: string, fields: Record<string, string>, ack = ''): BacklogEntry => ({ id: next(), key, ack, op: 'u', fields: new Map(Object.entries(fields)) });
const del = (key: string, ack = ''): BacklogEntry => ({ id: next(), key, ack, op: 'd' });
const wrongType = (key: string, type: string, ack = ''): BacklogEntry => ({ id: next(), key, ack, op: 't', type });
const badOp = (key: string, message: string): BacklogEntry => ({ id: next(), key, ack: '', op: 'p', message });
const noop = (key: string, ack = ''): BacklogEntry => ({ id: next(), key, ack, op: 'n' });
const superseded = (key: string, ack = ''): BacklogEntry => ({ id: next(), key, ack, op: 's' });
const stage = (key: string, fields: Record<string, string>, ack = ''): BacklogEntry => ({ id: next(), key, ack, op: 'w', fields: new Map(Object.entries(fields)) });
const drop = (key: string, ack = ''): BacklogEntry => ({ id: next(), key, ack, op: 'x' });

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
    expect(idOf('__{person:1}', 'person')).toBeUndefined();
  });
});

describe('fieldsObject', () => {
  it('turns a Map, an object or nothing into a new plain object', () => {
    expect(fieldsObject(undefined)).toStrictEqual({});
    expect(fieldsObject(new Map([['a', '1'], ['b', '2']]))).toStrictEqual({ a: '1', b: '2' });
    const plain = { c: '3' };
    const copy = fieldsObject(plain);
    expect(copy).toStrictEqual({ c: '3' });
    expect(copy).not.toBe(plain);
  });
});

describe('planBatch (write-behind)', () => {
  it('lists mapped columns in mapping order, with nothing to do for no entries', () => {
    expect(planBatch([], reg)).toStrictEqual({ columns: COLUMNS, rows: [], rejects: [], noops: [] });
  });

  it('a superseded record after a key\'s re-read state never stands for the key: the state is written, its ack is done', () => {
    const plan = planBatch([upsert('person:1', { first_name: 'New' }), superseded('person:1', 'a1'), superseded('person:2')], reg);
    expect(plan.rows).toStrictEqual([{ op: 'upsert', key: 'person:1', id: '1', acks: [], values: ['New', null, null], fields: new Map([['first_name', 'New']]) }]);
    expect(plan.noops).toStrictEqual([{ key: 'person:1', ack: 'a1' }]);
    expect(plan.rejects).toStrictEqual([]);
  });

  it('maps fields to values, nulls for absent fields, ignores unmapped ones', () => {
    const plan = planBatch([upsert('person:a:b', { first_name: 'Ann', age: '30', nickname: 'A' })], reg);
    expect(plan.rows).toStrictEqual([
      { op: 'upsert', key: 'person:a:b', id: 'a:b', acks: [], values: ['Ann', null, '30'], fields: new Map([['first_name', 'Ann'], ['age', '30'], ['nickname', 'A']]) },
    ]);
    expect(plan.rejects).toStrictEqual([]);
    expect(plan.noops).toStrictEqual([]);
  });

  it('keeps the last entry per key, one row per key in order of first appearance', () => {
    const plan = planBatch(
      [upsert('person:1', { first_name: 'old' }), upsert('person:2', { first_name: 'two' }), upsert('person:1', { first_name: 'new' })],
      reg,
    );
    expect(plan.rows.map((r) => [r.key, r.op === 'upsert' ? r.values[0] : 'deleted'])).toStrictEqual([
      ['person:1', 'new'],
      ['person:2', 'two'],
    ]);
  });

  it('collects the non-empty acks of every entry of a key, in stream order', () => {
    const plan = planBatch(
      [upsert('person:1', { age: '1' }, 'a1'), upsert('person:2', { age: '9' }, 'b1'), upsert('person:1', { age: '2' }), upsert('person:1', { age: '3' }, 'a3')],
      reg,
    );
    expect(plan.rows).toStrictEqual([
      { op: 'upsert', key: 'person:1', id: '1', acks: ['a1', 'a3'], values: [null, null, '3'], fields: new Map([['age', '3']]) },
      { op: 'upsert', key: 'person:2', id: '2', acks: ['b1'], values: [null, null, '9'], fields: new Map([['age', '9']]) },
    ]);
  });

  it('lets a delete win over an earlier upsert and vice versa', () => {
    expect(planBatch([upsert('person:1', { age: '1' }, 'u'), del('person:1', 'd')], reg).rows).toStrictEqual([
      { op: 'delete', key: 'person:1', id: '1', acks: ['u', 'd'] },
    ]);
    expect(planBatch([del('person:1'), upsert('person:1', { age: '2' })], reg).rows).toStrictEqual([
      { op: 'upsert', key: 'person:1', id: '1', acks: [], values: [null, null, '2'], fields: new Map([['age', '2']]) },
    ]);
  });

  it('rejects a key without an id, with its acks', () => {
    expect(planBatch([upsert('person:', { age: '1' }, 'k1')], reg)).toStrictEqual({
      columns: COLUMNS,
      rows: [],
      rejects: [{ key: 'person:', op: 'u', error: "key 'person:' has no id after 'person:'", acks: ['k1'] }],
      noops: [],
    });
  });

  it('rejects a key of the wrong type', () => {
    const plan = planBatch([wrongType('person:7', 'string', 's1'), upsert('person:8', { first_name: 'x' })], reg);
    expect(plan.rejects).toStrictEqual([
      { key: 'person:7', op: 't', error: "key 'person:7' holds a string, not a hash; only hashes are synced", acks: ['s1'] },
    ]);
    expect(plan.rows.map((r) => r.id)).toStrictEqual(['8']);
  });

  it('rejects a hash too large to snapshot', () => {
    expect(planBatch([upsert('person:5', { age: '1' }, 'e1'), wrongType('person:5', 'hash', 'e2')], reg).rejects).toStrictEqual([
      { key: 'person:5', op: 't', error: "key 'person:5' is a hash too large to snapshot (more than 3500 fields)", acks: ['e1', 'e2'] },
    ]);
  });

  it('rejects an invalid # op with its message', () => {
    const plan = planBatch([badOp('person:3', "'#' op '?x' is not one of =, ~, + or -")], reg);
    expect(plan).toStrictEqual({
      columns: COLUMNS,
      rows: [],
      rejects: [{ key: 'person:3', op: 'p', error: "key 'person:3': '#' op '?x' is not one of =, ~, + or -", acks: [] }],
      noops: [],
    });
  });

  it('only acknowledges keys a replay found gone', () => {
    const plan = planBatch([noop('person:1', 'n1'), noop('person:1'), noop('person:1', 'n3'), noop('person:2'), upsert('person:4', { age: '4' })], reg);
    expect(plan.noops).toStrictEqual([
      { key: 'person:1', ack: 'n1' },
      { key: 'person:1', ack: 'n3' },
    ]);
    expect(plan.rows.map((r) => r.key)).toStrictEqual(['person:4']);
    expect(plan.rejects).toStrictEqual([]);
  });

  it("passes the last record's fields on as they are, without a copy", () => {
    const last = upsert('person:1', { age: '2', first_name: 'B' });
    const [row] = planBatch([upsert('person:1', { age: '1' }), last], reg).rows;
    expect(row?.op === 'upsert' && last.op === 'u' && row.fields === last.fields).toBe(true);
    expect(fieldsObject(row?.op === 'upsert' ? row.fields : undefined)).toStrictEqual({ age: '2', first_name: 'B' });
  });

  it('never adds write-through ops to write-behind rows', () => {
    const [row] = planBatch([upsert('person:1', { age: '1' })], reg).rows;
    expect(Object.keys(row ?? {})).toStrictEqual(['op', 'key', 'id', 'acks', 'values', 'fields']);
    const [gone] = planBatch([del('person:1')], reg).rows;
    expect(Object.keys(gone ?? {})).toStrictEqual(['op', 'key', 'id', 'acks']);
  });
});

describe('planBatch (write-through)', () => {
  it('merges staged fields over the current hash', () => {
    const targets = new Map([['person:1', { first_name: 'Ann', last_name: 'Lee', nickname: 'A' }]]);
    const plan = planBatch([stage('person:1', { first_name: 'Ada', age: '36' }, 'w1')], through, targets);
    expect(plan).toStrictEqual({
      columns: COLUMNS,
      rows: [{
        op: 'upsert', key: 'person:1', id: '1', acks: ['w1'],
        values: ['Ada', 'Lee', '36'],
        fields: { first_name: 'Ada', last_name: 'Lee', nickname: 'A', age: '36' },
        through: [{ op: 'merge', id: expect.any(String), fields: { first_name: 'Ada', age: '36' } }],
      }],
      rejects: [],
      noops: [],
    });
  });

  it('creates the record when the target does not exist', () => {
    const plan = planBatch([stage('person:2', { last_name: 'Lovelace' })], through, new Map([['person:2', null]]));
    expect(plan.rows).toStrictEqual([{
      op: 'upsert', key: 'person:2', id: '2', acks: [],
      values: [null, 'Lovelace', null], fields: { last_name: 'Lovelace' },
      through: [{ op: 'merge', id: expect.any(String), fields: { last_name: 'Lovelace' } }],
    }]);
  });

  it('folds several staged writes in order, later fields winning', () => {
    const targets = new Map([['person:1', { age: '1' }]]);
    const plan = planBatch([stage('person:1', { first_name: 'A', age: '2' }, 'w1'), stage('person:1', { age: '3' }, 'w2')], through, targets);
    expect(plan.rows).toStrictEqual([{
      op: 'upsert', key: 'person:1', id: '1', acks: ['w1', 'w2'],
      values: ['A', null, '3'], fields: { age: '3', first_name: 'A' },
      through: [{ op: 'merge', id: expect.any(String), fields: { first_name: 'A', age: '2' } }, { op: 'merge', id: expect.any(String), fields: { age: '3' } }],
    }]);
  });

  it('turns a final delete into a delete row carrying every op', () => {
    const targets = new Map([['person:1', { age: '1' }]]);
    const plan = planBatch([stage('person:1', { age: '2' }, 'w1'), drop('person:1', 'x1')], through, targets);
    expect(plan.rows).toStrictEqual([{
      op: 'delete', key: 'person:1', id: '1', acks: ['w1', 'x1'],
      through: [{ op: 'merge', id: expect.any(String), fields: { age: '2' } }, { op: 'delete', id: expect.any(String) }],
    }]);
  });

  it('starts from nothing after a delete', () => {
    const targets = new Map([['person:1', { first_name: 'Ann', age: '1' }]]);
    const plan = planBatch([drop('person:1'), stage('person:1', { age: '2' })], through, targets);
    expect(plan.rows).toStrictEqual([{
      op: 'upsert', key: 'person:1', id: '1', acks: [],
      values: [null, null, '2'], fields: { age: '2' },
      through: [{ op: 'delete', id: expect.any(String) }, { op: 'merge', id: expect.any(String), fields: { age: '2' } }],
    }]);
  });

  it('deletes without needing the target', () => {
    expect(planBatch([drop('person:9', 'x9')], through).rows).toStrictEqual([
      { op: 'delete', key: 'person:9', id: '9', acks: ['x9'], through: [{ op: 'delete', id: expect.any(String) }] },
    ]);
  });

  it('rejects a staged write whose target is not a hash (left out of targets)', () => {
    const targets = new Map([['person:2', null]]);
    const plan = planBatch([stage('person:1', { age: '1' }, 'w1'), drop('person:1', 'x1'), stage('person:2', { age: '2' })], through, targets);
    expect(plan.rejects).toStrictEqual([
      { key: 'person:1', op: 'x', error: "key 'person:1' is not a hash; a write-through can only merge into a hash", acks: ['w1', 'x1'] },
    ]);
    expect(plan.rows.map((r) => r.key)).toStrictEqual(['person:2']);
    expect(planBatch([stage('person:3', { age: '3' })], through).rejects).toStrictEqual([
      { key: 'person:3', op: 'w', error: "key 'person:3' is not a hash; a write-through can only merge into a hash", acks: [] },
    ]);
  });

  it('rejects an invalid # op on a staging key', () => {
    const plan = planBatch([badOp('person:4', 'staging key __{person:4} holds a list, not a hash')], through, new Map());
    expect(plan.rejects).toStrictEqual([
      { key: 'person:4', op: 'p', error: "key 'person:4': staging key __{person:4} holds a list, not a hash", acks: [] },
    ]);
    expect(plan.rows).toStrictEqual([]);
  });

  it('rejects a target key without an id', () => {
    expect(planBatch([stage('person:', { age: '1' }, 'w0')], through, new Map([['person:', null]])).rejects).toStrictEqual([
      { key: 'person:', op: 'w', error: "key 'person:' has no id after 'person:'", acks: ['w0'] },
    ]);
  });

  it('does not change the current hashes it is given', () => {
    const current = { first_name: 'Ann' };
    const targets = new Map([['person:1', current]]);
    const entries = [stage('person:1', { first_name: 'Ada' })];
    const plan = planBatch(entries, through, targets);
    expect(current).toStrictEqual({ first_name: 'Ann' });
    expect(planBatch(entries, through, targets)).toStrictEqual(plan);
  });
});

describe('planBatch: an invalid # op is a report, not the key state', () => {
  it('dead-letters the report and still writes the key from its other entries', () => {
    const plan = planBatch([upsert('person:1', { first_name: 'A' }, 'a1'), badOp('person:1', "'#' op '?' is not one of =, ~, + or -")], reg);
    expect(plan.rows).toEqual([{ op: 'upsert', key: 'person:1', id: '1', acks: ['a1'], values: ['A', null, null], fields: new Map([['first_name', 'A']]) }]);
    expect(plan.rejects).toEqual([{ key: 'person:1', op: 'p', error: "key 'person:1': '#' op '?' is not one of =, ~, + or -", acks: [] }]);
  });

  it('keeps a staged write-through when a later report comes for the same key', () => {
    const plan = planBatch([stage('person:2', { age: '5' }, 'w1'), badOp('person:2', 'bad')], through, new Map([['person:2', null]]));
    expect(plan.rows).toMatchObject([{ op: 'upsert', key: 'person:2', acks: ['w1'], values: [null, null, '5'] }]);
    expect(plan.rejects).toHaveLength(1);
  });
});

describe('planBatch over decoded stream entries', () => {
  it('plans the records of several entries in stream order, many records sharing an entry id', () => {
    const records = [
      ...decodeEntry(['10-0', ['person:1', 'u:1:a1', 'first_name', 'Ann', 'person:2', 'd:0:b1', 'person:3', 'p:1:', 'm', 'bad']]).records,
      ...decodeEntry(['11-0', ['person:1', 'u:1:', 'age', '7', 'person:4', 't:1:c1', 't', 'set']]).records,
    ];
    expect(planBatch(records, reg)).toStrictEqual({
      columns: COLUMNS,
      rows: [
        { op: 'upsert', key: 'person:1', id: '1', acks: ['a1'], values: [null, null, '7'], fields: new Map([['age', '7']]) },
        { op: 'delete', key: 'person:2', id: '2', acks: ['b1'] },
      ],
      rejects: [
        { key: 'person:3', op: 'p', error: "key 'person:3': bad", acks: [] },
        { key: 'person:4', op: 't', error: "key 'person:4' holds a set, not a hash; only hashes are synced", acks: ['c1'] },
      ],
      noops: [],
    });
  });

  it('merges the staged records of one entry in order', () => {
    const { records } = decodeEntry(['12-0', ['person:1', 'w:1:w1', 'age', '1', 'person:1', 'x:0:x1', 'person:1', 'w:1:w2', 'last_name', 'Lee']]);
    expect(planBatch(records, through, new Map([['person:1', { first_name: 'Old' }]])).rows).toStrictEqual([{
      op: 'upsert', key: 'person:1', id: '1', acks: ['w1', 'x1', 'w2'],
      values: [null, 'Lee', null], fields: { last_name: 'Lee' },
      through: [{ op: 'merge', id: expect.any(String), fields: { age: '1' } }, { op: 'delete', id: expect.any(String) }, { op: 'merge', id: expect.any(String), fields: { last_name: 'Lee' } }],
    }]);
  });
});

describe('planBatch (write-through, a redelivered older entry)', () => {
  const at = (id: string, key: string, fields: Record<string, string>): BacklogEntry => ({ id, key, ack: '', op: 'w', fields: new Map(Object.entries(fields)) });
  const marks = (m: { k?: string; d?: string; f?: Record<string, string> }) => new Map([['person:1', { ...m, f: new Map(Object.entries(m.f ?? {})) }]]);

  it('leaves out a staged field a newer change already set, and keeps the others', () => {
    const targets = new Map([['person:1', { first_name: 'New', age: '40' }]]);
    const plan = planBatch([at('5-0', 'person:1', { first_name: 'Old', last_name: 'Lee' })], through, targets, marks({ k: '9-0', f: { first_name: '9-0' } }));
    expect(plan.rows[0]).toMatchObject({ op: 'upsert', values: ['New', 'Lee', '40'], through: [{ op: 'merge', id: '5-0', fields: { last_name: 'Lee' } }] });
  });

  it('applies a field whose mark is older than the entry, and one with no mark', () => {
    const targets = new Map([['person:1', { first_name: 'A' }]]);
    const plan = planBatch([at('12-3', 'person:1', { first_name: 'B', age: '2' })], through, targets, marks({ k: '12-2', f: { first_name: '12-2' } }));
    expect(plan.rows[0]).toMatchObject({ values: ['B', null, '2'], through: [{ op: 'merge', id: '12-3', fields: { first_name: 'B', age: '2' } }] });
  });

  it('drops a whole entry older than a delete applied since, and a delete older than any change since', () => {
    const p1 = planBatch([at('5-0', 'person:1', { first_name: 'Old' })], through, new Map([['person:1', null]]), marks({ k: '7-0', d: '7-0' }));
    expect(p1.rows[0]).toMatchObject({ op: 'delete', through: [] });
    const p2 = planBatch([{ id: '5-0', key: 'person:1', ack: '', op: 'x' }], through, new Map([['person:1', { first_name: 'Back' }]]), marks({ k: '8-0', f: { first_name: '8-0' } }));
    expect(p2.rows[0]).toMatchObject({ op: 'upsert', values: ['Back', null, null], through: [] });
  });

  it('compares stream ids as numbers, not text', async () => {
    const { compareIds, superseded } = await import('../../runtime/writer/through-marks.ts');
    expect(compareIds('9-0', '10-0')).toBe(-1);
    expect(compareIds('10-2', '10-10')).toBe(-1);
    expect(compareIds('1764470000000-5', '1764470000000-5')).toBe(0);
    expect(compareIds('1764470000001-0', '1764470000000-99')).toBe(1);
    expect(superseded('5-0', undefined)).toBe(false);
    expect(superseded('5-0', '5-0')).toBe(true);
  });
});
