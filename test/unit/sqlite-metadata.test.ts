import { describe, it, expect } from 'vitest';
import { sqliteColumn, sqliteErrorColumn, sqliteFamily, sqliteSplitTable, sqliteTable } from '../../runtime/connectors/sqlite/metadata.ts';

const INT64 = { min: -9223372036854775808n, max: 9223372036854775807n };

describe('sqliteFamily', () => {
  it.each([
    ['INTEGER', 'integer'], ['INT', 'integer'], ['bigint', 'integer'], ['UNSIGNED BIG INT', 'integer'], ['TINYINT', 'integer'],
    ['TEXT', 'text'], ['VARCHAR(20)', 'text'], ['NVARCHAR(100)', 'text'], ['CHARACTER(3)', 'text'], ['CLOB', 'text'],
    ['REAL', 'float'], ['DOUBLE', 'float'], ['DOUBLE PRECISION', 'float'], ['FLOAT', 'float'],
    ['NUMERIC', 'decimal'], ['DECIMAL(10,5)', 'decimal'],
    ['BOOLEAN', 'boolean'], ['bool', 'boolean'],
    ['DATE', 'date'], ['DATETIME', 'timestamp'], ['TIMESTAMP', 'timestamp'],
    ['BLOB', 'other'], ['', 'other'], ['ANY', 'other'], ['JSON', 'other'],
  ])('maps %j to %s', (declared, family) => {
    expect(sqliteFamily(declared)).toBe(family);
  });
});

describe('sqliteColumn', () => {
  it('gives integers the 64-bit range', () => {
    expect(sqliteColumn({ name: 'age', type: 'INTEGER' })).toEqual({ name: 'age', type: 'INTEGER', family: 'integer', ...INT64 });
  });

  it('takes the most characters of a text type from its declaration', () => {
    expect(sqliteColumn({ name: 'first', type: 'VARCHAR(20)' })).toEqual({ name: 'first', type: 'VARCHAR(20)', family: 'text', maxLength: 20 });
    expect(sqliteColumn({ name: 'c', type: 'character( 3 )' })).toEqual({ name: 'c', type: 'character( 3 )', family: 'text', maxLength: 3 });
    expect(sqliteColumn({ name: 'last', type: 'TEXT' })).toEqual({ name: 'last', type: 'TEXT', family: 'text' });
    expect(sqliteColumn({ name: 'd', type: 'DECIMAL(10,2)' })).toEqual({ name: 'd', type: 'DECIMAL(10,2)', family: 'decimal', precision: 10, scale: 2 });
  });

  it('names an untyped column ANY', () => {
    expect(sqliteColumn({ name: 'x', type: '' })).toEqual({ name: 'x', type: 'ANY', family: 'other' });
  });
});

describe('sqliteTable', () => {
  it('describes a table: columns by lower-cased name, primary key in key order', () => {
    const t = sqliteTable([
      { name: 'Id', type: 'TEXT', pk: 2 },
      { name: 'first', type: 'VARCHAR(20)', pk: 0 },
      { name: 'region', type: 'TEXT', pk: 1 },
    ]);
    expect(t.exists).toBe(true);
    expect([...t.columns.keys()]).toEqual(['id', 'first', 'region']);
    expect(t.columns.get('id')?.name).toBe('Id');
    expect(t.primaryKey).toEqual(['region', 'Id']);
  });

  it('says a table without rows does not exist', () => {
    expect(sqliteTable([])).toEqual({ exists: false, columns: new Map(), primaryKey: [] });
  });
});

describe('sqliteSplitTable', () => {
  it('defaults to the main database', () => {
    expect(sqliteSplitTable('persons')).toEqual({ schema: 'main', table: 'persons' });
    expect(sqliteSplitTable('aux.persons')).toEqual({ schema: 'aux', table: 'persons' });
  });
});

describe('sqliteErrorColumn', () => {
  it('finds the column of NOT NULL, UNIQUE and STRICT datatype errors', () => {
    expect(sqliteErrorColumn('NOT NULL constraint failed: persons.first')).toBe('first');
    expect(sqliteErrorColumn('UNIQUE constraint failed: persons.email, persons.region')).toBe('email');
    expect(sqliteErrorColumn('cannot store TEXT value in INTEGER column persons.age')).toBe('age');
  });

  it('finds none where the message names none', () => {
    expect(sqliteErrorColumn('CHECK constraint failed: age_positive')).toBeUndefined();
    expect(sqliteErrorColumn('datatype mismatch')).toBeUndefined();
  });
});

describe('sqliteTable: key collations', () => {
  const rows = [{ name: 'id', type: 'TEXT', pk: 1 }, { name: 'first', type: 'TEXT', pk: 0 }];
  it('marks a NOCASE or RTRIM text column inexact, BINARY or none exact', () => {
    expect(sqliteTable(rows, 'CREATE TABLE t (id TEXT COLLATE NOCASE PRIMARY KEY, first TEXT)').columns.get('id')?.inexact).toBe('collation NOCASE ignores ASCII case');
    expect(sqliteTable(rows, 'CREATE TABLE "t" ("id" TEXT PRIMARY KEY COLLATE rtrim, first TEXT)').columns.get('id')?.inexact).toBe('collation RTRIM ignores trailing spaces');
    expect(sqliteTable(rows, 'CREATE TABLE t (id TEXT COLLATE BINARY PRIMARY KEY, first TEXT COLLATE NOCASE)').columns.get('id')?.inexact).toBeUndefined();
    expect(sqliteTable(rows, 'CREATE TABLE t (id TEXT PRIMARY KEY, first TEXT)').columns.get('id')?.inexact).toBeUndefined();
  });
});
