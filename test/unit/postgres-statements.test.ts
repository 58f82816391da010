import { describe, it, expect } from 'vitest';
import { pgReadRows, pgScanIds, pgStatements, PG_MAX_PARAMS, quoteId, quoteTable, SCAN_ID } from '../../runtime/connectors/postgres/statements.ts';
import type { DbValue, RowWrite } from '../../runtime/writer/plan.ts';

const up = (id: string, values: DbValue[]): RowWrite => ({ op: 'upsert', key: `p:${id}`, id, acks: [], values, fields: {} });
const del = (id: string): RowWrite => ({ op: 'delete', key: `p:${id}`, id, acks: [] });

describe('quoteId / quoteTable', () => {
  it('quotes with double quotes and doubles embedded ones', () => {
    expect(quoteId('persons')).toBe('"persons"');
    expect(quoteId('we"ird')).toBe('"we""ird"');
    expect(quoteId('Mixed Case')).toBe('"Mixed Case"');
  });

  it('quotes schema.table per part, splitting at the first dot only', () => {
    expect(quoteTable('public.persons')).toBe('"public"."persons"');
    expect(quoteTable('persons')).toBe('"persons"');
    expect(quoteTable('s.t.u')).toBe('"s"."t.u"');
    expect(quoteId('a.b')).toBe('"a.b"');
  });
});

describe('pgStatements', () => {
  it('builds one multi-row upsert and one delete with an array parameter', () => {
    const stmts = pgStatements({
      table: 'public.persons',
      pkColumn: 'id',
      columns: ['first', 'age'],
      rows: [up('1', ['Ann', '30']), del('2'), up('3', [null, '4']), del('4')],
    });
    expect(stmts).toEqual([
      {
        sql: 'INSERT INTO "public"."persons" ("id","first","age") VALUES ($1,$2,$3),($4,$5,$6) ON CONFLICT ("id") DO UPDATE SET "first"=EXCLUDED."first","age"=EXCLUDED."age"',
        params: ['1', 'Ann', '30', '3', null, '4'],
      },
      { sql: 'DELETE FROM "public"."persons" WHERE "id" = ANY($1)', params: [['2', '4']] },
    ]);
  });

  it('passes converted values through (booleans, numbers, null)', () => {
    const [s] = pgStatements({ table: 't', pkColumn: 'id', columns: ['b', 'n', 'x'], rows: [up('1', [true, 2.5, null])] });
    expect(s?.params).toEqual(['1', true, 2.5, null]);
  });

  it('escapes double quotes in table and column names', () => {
    const [s] = pgStatements({ table: 'p"t', pkColumn: 'i"d', columns: ['c"1'], rows: [up('1', ['v'])] });
    expect(s?.sql).toBe('INSERT INTO "p""t" ("i""d","c""1") VALUES ($1,$2) ON CONFLICT ("i""d") DO UPDATE SET "c""1"=EXCLUDED."c""1"');
  });

  it('does nothing on conflict when no column is mapped', () => {
    expect(pgStatements({ table: 't', pkColumn: 'id', columns: [], rows: [up('1', []), up('2', [])] })).toEqual([
      { sql: 'INSERT INTO "t" ("id") VALUES ($1),($2) ON CONFLICT ("id") DO NOTHING', params: ['1', '2'] },
    ]);
  });

  it('builds only what is needed', () => {
    expect(pgStatements({ table: 't', pkColumn: 'id', columns: ['a'], rows: [del('1'), del('2')] })).toEqual([
      { sql: 'DELETE FROM "t" WHERE "id" = ANY($1)', params: [['1', '2']] },
    ]);
    expect(pgStatements({ table: 't', pkColumn: 'id', columns: ['a'], rows: [] })).toEqual([]);
  });

  it('splits upserts so that no statement binds more than maxParams parameters', () => {
    const rows = Array.from({ length: 7 }, (_, i) => up(String(i), [`a${i}`, `b${i}`]));
    const stmts = pgStatements({ table: 't', pkColumn: 'id', columns: ['a', 'b'], rows }, { maxParams: 7 });
    // 3 parameters a row, 7 at most: 2 rows per statement.
    expect(stmts.map((s) => s.params.length)).toEqual([6, 6, 6, 3]);
    expect(stmts[3]).toEqual({ sql: 'INSERT INTO "t" ("id","a","b") VALUES ($1,$2,$3) ON CONFLICT ("id") DO UPDATE SET "a"=EXCLUDED."a","b"=EXCLUDED."b"', params: ['6', 'a6', 'b6'] });
    expect(stmts[0]?.sql).toContain('VALUES ($1,$2,$3),($4,$5,$6) ON CONFLICT');
  });

  it('keeps a 5,000-row batch of 30 columns within the protocol limit', () => {
    const columns = Array.from({ length: 30 }, (_, i) => `c${i}`);
    const rows = Array.from({ length: 5000 }, (_, i) => up(String(i), columns.map(() => 'v')));
    const stmts = pgStatements({ table: 't', pkColumn: 'id', columns, rows });
    expect(stmts.length).toBe(Math.ceil(5000 / Math.floor(PG_MAX_PARAMS / 31)));
    for (const s of stmts) {
      expect(s.params.length).toBeLessThanOrEqual(PG_MAX_PARAMS);
      // Placeholders restart at $1 in every statement and end at its own parameter count.
      expect(s.sql.includes('VALUES ($1,$2,')).toBe(true);
      expect(s.sql.includes(`$${s.params.length})`)).toBe(true);
      expect(s.sql.includes(`$${s.params.length + 1}`)).toBe(false);
    }
    expect(stmts.reduce((n, s) => n + s.params.length, 0)).toBe(5000 * 31);
  });

  it('binds the text of bytea columns as UTF-8 bytes', () => {
    const [s] = pgStatements({ table: 't', pkColumn: 'id', columns: ['a', 'bin'], rows: [up('1', ['x', 'h\\é']), up('2', ['y', null])] }, { binary: new Set([1]) });
    expect(s?.params).toEqual(['1', 'x', Buffer.from('h\\é', 'utf8'), '2', 'y', null]);
  });

  it('writes write-through rows like any other, ignoring their acks and Redis ops', () => {
    const stmts = pgStatements({
      table: 'persons',
      pkColumn: 'id',
      columns: ['first'],
      rows: [
        { op: 'upsert', key: 'person:1', id: '1', acks: ['a1'], values: ['Ada'], fields: { first_name: 'Ada' }, through: [{ op: 'merge', id: '1-0', fields: { first_name: 'Ada' } }] },
        { op: 'delete', key: 'person:2', id: '2', acks: ['x'], through: [{ op: 'delete', id: '1-0' }] },
      ],
    });
    expect(stmts).toEqual([
      { sql: 'INSERT INTO "persons" ("id","first") VALUES ($1,$2) ON CONFLICT ("id") DO UPDATE SET "first"=EXCLUDED."first"', params: ['1', 'Ada'] },
      { sql: 'DELETE FROM "persons" WHERE "id" = ANY($1)', params: [['2']] },
    ]);
  });
});

describe('pgReadRows / pgScanIds', () => {
  const shape = { table: 'public.persons', pkColumn: 'id', columns: ['first', 'age'] };

  it('reads rows by key, every column as text', () => {
    expect(pgReadRows(shape, ['1', '2'])).toEqual({
      sql: 'SELECT "id"::text AS "id","first"::text AS "first","age"::text AS "age" FROM "public"."persons" WHERE "id" = ANY($1)',
      params: [['1', '2']],
    });
  });

  it('reads raw (bytea) columns without the text cast', () => {
    expect(pgReadRows({ ...shape, columns: ['bin'] }, ['1'], new Set(['bin'])).sql).toBe('SELECT "id"::text AS "id","bin" FROM "public"."persons" WHERE "id" = ANY($1)');
  });

  it("pages keys in the column's own order: ordered and compared as the table's column, the text under another alias", () => {
    expect(pgScanIds(shape, undefined, 100)).toEqual({
      sql: 'SELECT "t"."id"::text AS "id_text" FROM "public"."persons" AS "t" ORDER BY "t"."id" LIMIT 100',
      params: [],
    });
    // $1 is untyped: PostgreSQL gives it the column's type, so '10' is the integer 10 for an integer key.
    expect(pgScanIds(shape, 'k9', 50.7)).toEqual({
      sql: 'SELECT "t"."id"::text AS "id_text" FROM "public"."persons" AS "t" WHERE "t"."id" > $1 ORDER BY "t"."id" LIMIT 50',
      params: ['k9'],
    });
    expect(SCAN_ID).toBe('id_text');
  });

  it('never orders by the text form, whatever the key column is called', () => {
    for (const pkColumn of ['id', 'id_text', 'T', 'we"ird']) {
      const { sql } = pgScanIds({ ...shape, pkColumn }, '1', 10);
      const key = `"t".${quoteId(pkColumn)}`;
      expect(sql).toContain(` WHERE ${key} > $1 ORDER BY ${key} LIMIT 10`);
    }
  });
});
