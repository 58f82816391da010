import { describe, it, expect } from 'vitest';
import { quoteId, quoteTable, sqliteDeleteSql, sqliteReadRows, sqliteScanIds, sqliteStatements, sqliteUpsertSql, sqliteValue } from '../../runtime/connectors/sqlite/statements.ts';
import type { DbValue, RowWrite } from '../../runtime/writer/plan.ts';

const up = (id: string, values: DbValue[]): RowWrite => ({ op: 'upsert', key: `p:${id}`, id, acks: [], values, fields: {} });
const del = (id: string): RowWrite => ({ op: 'delete', key: `p:${id}`, id, acks: [] });

describe('quoteId / quoteTable', () => {
  it('quotes with double quotes and doubles embedded ones', () => {
    expect(quoteId('persons')).toBe('"persons"');
    expect(quoteId('we"ird')).toBe('"we""ird"');
  });

  it('quotes schema.table per part, splitting at the first dot only', () => {
    expect(quoteTable('main.persons')).toBe('"main"."persons"');
    expect(quoteTable('a.b.c')).toBe('"a"."b.c"');
    expect(quoteId('a.b')).toBe('"a.b"');
  });
});

describe('sqliteUpsertSql / sqliteDeleteSql', () => {
  it('builds a real upsert that only touches mapped columns (never INSERT OR REPLACE)', () => {
    const sql = sqliteUpsertSql({ table: 'persons', pkColumn: 'id', columns: ['first', 'age'] });
    expect(sql).toBe('INSERT INTO "persons" ("id","first","age") VALUES (?,?,?) ON CONFLICT ("id") DO UPDATE SET "first"=excluded."first","age"=excluded."age"');
    expect(sql).not.toMatch(/OR REPLACE/i);
  });

  it('escapes double quotes in names', () => {
    expect(sqliteUpsertSql({ table: 'p"t', pkColumn: 'i"d', columns: ['c"1'] })).toBe('INSERT INTO "p""t" ("i""d","c""1") VALUES (?,?) ON CONFLICT ("i""d") DO UPDATE SET "c""1"=excluded."c""1"');
  });

  it('does nothing on conflict when no column is mapped', () => {
    expect(sqliteUpsertSql({ table: 't', pkColumn: 'id', columns: [] })).toBe('INSERT INTO "t" ("id") VALUES (?) ON CONFLICT ("id") DO NOTHING');
  });

  it('deletes by key', () => {
    expect(sqliteDeleteSql({ table: 'main.t', pkColumn: 'id', columns: ['a'] })).toBe('DELETE FROM "main"."t" WHERE "id" = ?');
  });
});

describe('sqliteStatements', () => {
  it('gives one statement per row, in batch order, sharing the SQL of each operation', () => {
    const stmts = sqliteStatements({ table: 't', pkColumn: 'id', columns: ['first', 'age'], rows: [up('1', ['Ann', '30']), del('2'), up('3', [null, '4'])] });
    const upsert = 'INSERT INTO "t" ("id","first","age") VALUES (?,?,?) ON CONFLICT ("id") DO UPDATE SET "first"=excluded."first","age"=excluded."age"';
    expect(stmts).toEqual([
      { sql: upsert, params: ['1', 'Ann', '30'] },
      { sql: 'DELETE FROM "t" WHERE "id" = ?', params: ['2'] },
      { sql: upsert, params: ['3', null, '4'] },
    ]);
    expect(sqliteStatements({ table: 't', pkColumn: 'id', columns: ['a'], rows: [] })).toEqual([]);
  });

  it('binds booleans as 1/0 and keeps other values', () => {
    expect(sqliteStatements({ table: 't', pkColumn: 'id', columns: ['a', 'b', 'c', 'd'], rows: [up('1', [true, false, 2.5, null])] })[0]?.params).toEqual(['1', 1, 0, 2.5, null]);
    expect([true, false, 'x', 3, null].map((v) => sqliteValue(v))).toEqual([1, 0, 'x', 3, null]);
  });
});

describe('sqliteReadRows / sqliteScanIds', () => {
  const shape = { table: 'persons', pkColumn: 'id', columns: ['first', 'age'] };

  it('reads rows by key, every column as text', () => {
    expect(sqliteReadRows(shape, ['1', '2'])).toEqual({
      sql: 'SELECT CAST("id" AS TEXT) AS "id",CAST("first" AS TEXT) AS "first",CAST("age" AS TEXT) AS "age" FROM "persons" WHERE "id" IN (?,?)',
      params: ['1', '2'],
    });
  });

  it('pages keys in key order', () => {
    expect(sqliteScanIds(shape, undefined, 100)).toEqual({ sql: 'SELECT CAST("id" AS TEXT) AS "id" FROM "persons" ORDER BY "id" LIMIT 100', params: [] });
    expect(sqliteScanIds(shape, 'k9', 50)).toEqual({ sql: 'SELECT CAST("id" AS TEXT) AS "id" FROM "persons" WHERE "id" > ? ORDER BY "id" LIMIT 50', params: ['k9'] });
  });
});
