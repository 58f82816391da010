import { describe, it, expect } from 'vitest';
import { contactPoints } from '../../runtime/connectors/cassandra/driver.ts';
import { cassandraColumn, cassandraTable, resolveName, splitTableName, type CassandraColumnRow } from '../../runtime/connectors/cassandra/metadata.ts';

const col = (type: string) => cassandraColumn({ column_name: 'c', type });

describe('cassandraColumn', () => {
  it.each([
    ['tinyint', -128n, 127n], ['smallint', -32768n, 32767n], ['int', -2147483648n, 2147483647n],
    ['bigint', -9223372036854775808n, 9223372036854775807n], ['counter', -9223372036854775808n, 9223372036854775807n],
  ])('bounds %s', (type, min, max) => {
    expect(col(type)).toEqual({ name: 'c', type, family: 'integer', min, max });
  });

  it('keeps timestamps to the millisecond, as instants, and times to the nanosecond', () => {
    expect(col('timestamp')).toEqual({ name: 'c', type: 'timestamp', family: 'timestamp', fraction: 3, zoned: true });
    expect(col('time')).toEqual({ name: 'c', type: 'time', family: 'time', fraction: 9 });
  });

  it.each([
    ['varint', 'integer'], ['decimal', 'decimal'], ['float', 'float'], ['double', 'float'], ['boolean', 'boolean'],
    ['date', 'date'], ['uuid', 'uuid'], ['timeuuid', 'uuid'], ['blob', 'binary'],
    ['text', 'text'], ['varchar', 'text'], ['ascii', 'text'], ['inet', 'other'], ['duration', 'other'], ['list<int>', 'other'],
    ['frozen<map<text, int>>', 'other'], ['vector<float, 3>', 'other'], ["'org.apache.cassandra.db.marshal.BytesType'", 'other'],
  ])('maps %s to %s, without a length limit', (type, family) => {
    expect(col(type)).toEqual({ name: 'c', type, family });
  });
});

describe('cassandraTable', () => {
  const row = (column_name: string, kind: string, position: number, type = 'text'): CassandraColumnRow => ({ column_name, kind, position, type });

  it('keys by lower-cased name and orders the primary key: partition key, then clustering, by position', () => {
    const info = cassandraTable([
      row('value', 'regular', -1, 'int'), row('C2', 'clustering', 1), row('p1', 'partition_key', 1), row('c1', 'clustering', 0),
      row('P0', 'partition_key', 0, 'uuid'), row('s', 'static', -1),
    ]);
    expect(info.exists).toBe(true);
    expect(info.primaryKey).toEqual(['P0', 'p1', 'c1', 'C2']);
    expect([...info.columns.keys()]).toEqual(['value', 'c2', 'p1', 'c1', 'p0', 's']);
    expect(info.columns.get('p0')).toEqual({ name: 'P0', type: 'uuid', family: 'uuid' });
  });

  it('describes a missing table as not existing', () => {
    expect(cassandraTable([])).toEqual({ exists: false, columns: new Map(), primaryKey: [] });
  });

  it('describes the conformance table', () => {
    const info = cassandraTable([row('id', 'partition_key', 0), row('first', 'regular', -1), row('age', 'regular', -1, 'int')]);
    expect(info.primaryKey).toEqual(['id']);
    expect(info.columns.get('first')).toEqual({ name: 'first', type: 'text', family: 'text' });
    expect(info.columns.get('age')?.max).toBe(2147483647n);
  });
});

describe('resolveName', () => {
  it('prefers the exact name, then the unquoted (lower-case) one, then the only case-insensitive match', () => {
    expect(resolveName('Persons', ['persons', 'Persons'])).toBe('Persons');
    expect(resolveName('PERSONS', ['Persons', 'persons'])).toBe('persons');
    expect(resolveName('PERSONS', ['Persons'])).toBe('Persons');
    expect(resolveName('PERSONS', ['Persons', 'PersonS'])).toBeUndefined();
    expect(resolveName('x', ['y'])).toBeUndefined();
  });
});

describe('splitTableName', () => {
  it('uses the connection keyspace unless the name has one', () => {
    expect(splitTableName('persons', 'app')).toEqual({ keyspace: 'app', table: 'persons' });
    expect(splitTableName('other.persons', 'app')).toEqual({ keyspace: 'other', table: 'persons' });
  });
});

describe('contactPoints', () => {
  it('makes every port explicit, 9042 by default', () => {
    expect(contactPoints(['10.0.0.1', 'db.example.com:9142', ' h2 ', '[::1]:9043', '::1', '[fe80::1]'])).toEqual([
      { address: '10.0.0.1:9042', port: 9042 },
      { address: 'db.example.com:9142', port: 9142 },
      { address: 'h2:9042', port: 9042 },
      { address: '[::1]:9043', port: 9043 },
      { address: '[::1]:9042', port: 9042 },
      { address: '[fe80::1]:9042', port: 9042 },
    ]);
  });
});
