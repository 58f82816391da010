import Database from 'better-sqlite3';
import { describe, it, expect } from 'vitest';
import { quoteId, quoteTable, SCAN_ID, sqliteDeleteSql, sqliteReadRows, sqliteScanIds, sqliteStatements, sqliteUpsertSql, sqliteValue } from '../../runtime/connectors/sqlite/statements.ts';
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

  it("pages keys in the column's own order: ordered and compared as the table's column, the text under another alias", () => {
    expect(sqliteScanIds(shape, undefined, 100)).toEqual({
      sql: 'SELECT CAST("t"."id" AS TEXT) AS "id_text" FROM "persons" AS "t" ORDER BY "t"."id" LIMIT 100',
      params: [],
    });
    expect(sqliteScanIds(shape, 'k9', 50)).toEqual({
      sql: 'SELECT CAST("t"."id" AS TEXT) AS "id_text" FROM "persons" AS "t" WHERE "t"."id" > ? ORDER BY "t"."id" LIMIT 50',
      params: ['k9'],
    });
    expect(sqliteScanIds({ ...shape, table: 'aux.persons' }, undefined, 1).sql).toBe('SELECT CAST("t"."id" AS TEXT) AS "id_text" FROM "aux"."persons" AS "t" ORDER BY "t"."id" LIMIT 1');
    expect(SCAN_ID).toBe('id_text');
  });

  it("pages an INTEGER key numerically and text in the column's collation, on a real database", () => {
    const db = new Database(':memory:');
    try {
      const page = (after: string | undefined, limit: number): string[] => {
        const s = sqliteScanIds(shape, after, limit);
        return (db.prepare(s.sql).all(...s.params) as Array<Record<string, unknown>>).map((r) => String(r[SCAN_ID]));
      };
      const all = (limit: number): string[] => {
        const out: string[] = [];
        for (let ids = page(undefined, limit); ids.length; ids = page(ids[ids.length - 1], limit)) out.push(...ids);
        return out;
      };
      db.exec('CREATE TABLE persons (id INTEGER PRIMARY KEY, first TEXT)');
      const ints = [-3, 0, 1, 2, 9, 10, 11, 99, 100, 101, 1000];
      for (const id of ints) db.prepare('INSERT INTO persons (id) VALUES (?)').run(id);
      expect(all(3)).toEqual(ints.map(String));
      db.exec('DROP TABLE persons; CREATE TABLE persons (id TEXT COLLATE NOCASE PRIMARY KEY, first TEXT)');
      const texts = ['a b', 'A_c', 'a.d', 'a@e', 'a-f', 'B', 'c', 'Z_z', '_x', '.y', '@w'];
      for (const id of texts) db.prepare('INSERT INTO persons (id) VALUES (?)').run(id);
      const paged = all(2);
      expect(paged).toEqual(db.prepare('SELECT id FROM persons ORDER BY id').pluck().all());
      expect([...paged].sort()).toEqual([...texts].sort());
    } finally {
      db.close();
    }
  });
});
