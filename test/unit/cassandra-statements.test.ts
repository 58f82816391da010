import { describe, it, expect } from 'vitest';
import {
  cassandraDelete, cassandraReadRow, cassandraScanIds, cassandraStatements, cassandraUpsert, quoteId, quoteTable, type CqlTable,
} from '../../runtime/connectors/cassandra/statements.ts';

const T: CqlTable = { keyspace: 'app', table: 'persons', pkColumn: 'id' };

describe('quoteId / quoteTable', () => {
  it('double-quotes, keeping case, and doubles embedded quotes', () => {
    expect(quoteId('Persons')).toBe('"Persons"');
    expect(quoteId('we"ird')).toBe('"we""ird"');
    expect(quoteTable({ keyspace: 'App', table: 'p"t', pkColumn: 'id' })).toBe('"App"."p""t"');
  });
});

describe('cassandra statements', () => {
  it('upserts with an INSERT of the key and the mapped columns only', () => {
    expect(cassandraUpsert(T, ['first', 'Age'])).toBe('INSERT INTO "app"."persons" ("id","first","Age") VALUES (?,?,?)');
    expect(cassandraUpsert(T, [])).toBe('INSERT INTO "app"."persons" ("id") VALUES (?)');
  });

  it('deletes one partition', () => {
    expect(cassandraDelete(T)).toBe('DELETE FROM "app"."persons" WHERE "id"=?');
  });

  it('builds one statement per row, in batch order, with the id first', () => {
    const stmts = cassandraStatements(T, ['first', 'age'], [
      { op: 'upsert', key: 'person:1', id: '1', acks: [], values: ['Ann', '30'], fields: {} },
      { op: 'delete', key: 'person:2', id: '2', acks: ['a'] },
      { op: 'upsert', key: 'person:3', id: '3', acks: [], values: [null, '4'], fields: {}, through: [{ op: 'merge', id: '1-0', fields: { age: '4' } }] },
    ]);
    expect(stmts).toEqual([
      { query: 'INSERT INTO "app"."persons" ("id","first","age") VALUES (?,?,?)', params: ['1', 'Ann', '30'] },
      { query: 'DELETE FROM "app"."persons" WHERE "id"=?', params: ['2'] },
      { query: 'INSERT INTO "app"."persons" ("id","first","age") VALUES (?,?,?)', params: ['3', null, '4'] },
    ]);
    expect(cassandraStatements(T, ['a'], [])).toEqual([]);
  });

  it('reads one row by key', () => {
    expect(cassandraReadRow({ keyspace: 'ks', table: 'T', pkColumn: 'Id' }, ['first', 'age'])).toBe('SELECT "Id","first","age" FROM "ks"."T" WHERE "Id"=?');
  });

  it('pages keys by token', () => {
    expect(cassandraScanIds(T, undefined, 500)).toEqual({ query: 'SELECT "id" FROM "app"."persons" LIMIT 500', params: [] });
    expect(cassandraScanIds(T, 'k9', 500.7)).toEqual({ query: 'SELECT "id" FROM "app"."persons" WHERE token("id") > token(?) LIMIT 500', params: ['k9'] });
    expect(cassandraScanIds(T, undefined, 0).query).toMatch(/LIMIT 1$/);
  });
});
