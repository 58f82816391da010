import { describe, it, expect } from 'vitest';
import {
  MAX_CHUNK_ROWS, chunkRows, lastPerId, quoteId, snowflakeBindValue, snowflakeDelete, snowflakeMerge, snowflakeReadRows, snowflakeScanIds, snowflakeWrite,
  type SnowflakeTarget,
} from '../../runtime/connectors/snowflake/statements.ts';
import type { ColumnInfo } from '../../runtime/connectors/types.ts';
import type { DbValue, RowWrite } from '../../runtime/writer/plan.ts';

const ID: ColumnInfo = { name: 'ID', type: 'NUMBER(38,0)', family: 'integer' };
const NAME: ColumnInfo = { name: 'NAME', type: 'TEXT(50)', family: 'text', maxLength: 50 };
const DOC: ColumnInfo = { name: 'DOC', type: 'VARIANT', family: 'json' };
const PIC: ColumnInfo = { name: 'PIC', type: 'BINARY', family: 'binary' };
const T: SnowflakeTarget = { table: '"PERSONS"', pk: ID, columns: [NAME, DOC] };

const up = (id: string, values: readonly DbValue[]): RowWrite => ({ op: 'upsert', key: `p:${id}`, id, acks: [], values, fields: {} });
const del = (id: string): RowWrite => ({ op: 'delete', key: `p:${id}`, id, acks: [] });

describe('quoteId', () => {
  it('double-quotes and doubles embedded quotes', () => {
    expect(quoteId('PERSONS')).toBe('"PERSONS"');
    expect(quoteId('we"ird')).toBe('"we""ird"');
  });
});

describe('snowflakeMerge / snowflakeDelete', () => {
  it('merges from a bound VALUES source, parsing JSON and encoding binary columns', () => {
    expect(snowflakeMerge({ ...T, columns: [NAME, DOC, PIC] }, 2)).toBe(
      'MERGE INTO "PERSONS" t USING (SELECT column1 AS "ID", column2 AS "NAME", PARSE_JSON(column3) AS "DOC", TO_BINARY(column4, \'UTF-8\') AS "PIC"' +
      ' FROM VALUES (?,?,?,?),(?,?,?,?)) s ON t."ID" = s."ID"' +
      ' WHEN MATCHED THEN UPDATE SET t."NAME" = s."NAME", t."DOC" = s."DOC", t."PIC" = s."PIC"' +
      ' WHEN NOT MATCHED THEN INSERT ("ID","NAME","DOC","PIC") VALUES (s."ID",s."NAME",s."DOC",s."PIC")',
    );
  });

  it('omits WHEN MATCHED when only the key is mapped', () => {
    expect(snowflakeMerge({ ...T, columns: [] }, 1)).toBe(
      'MERGE INTO "PERSONS" t USING (SELECT column1 AS "ID" FROM VALUES (?)) s ON t."ID" = s."ID" WHEN NOT MATCHED THEN INSERT ("ID") VALUES (s."ID")',
    );
  });

  it('deletes through USING a bound VALUES list', () => {
    expect(snowflakeDelete(T, 3)).toBe('DELETE FROM "PERSONS" t USING (SELECT column1 AS "ID" FROM VALUES (?),(?),(?)) s WHERE t."ID" = s."ID"');
  });
});

describe('snowflakeWrite', () => {
  it('gives one MERGE with flat binds and one DELETE', () => {
    expect(snowflakeWrite(T, [up('1', ['Ann', '{"a":1}']), del('3'), up('2', [null, null])])).toEqual([
      { sql: snowflakeMerge(T, 2), binds: ['1', 'Ann', '{"a":1}', '2', null, null] },
      { sql: snowflakeDelete(T, 1), binds: ['3'] },
    ]);
  });

  it('maps undefined values to NULL (the driver throws on undefined)', () => {
    expect(snowflakeBindValue(undefined)).toBeNull();
    expect(snowflakeBindValue(true)).toBe(true);
    const [merge] = snowflakeWrite(T, [up('1', ['Ann'])]);
    expect(merge?.binds).toEqual(['1', 'Ann', null]);
  });

  it('keeps only the last write of each id, so a MERGE source never holds a key twice', () => {
    const rows = [up('1', ['a', null]), up('2', ['b', null]), del('1'), up('1', ['c', null])];
    expect(lastPerId(rows).map((r) => [r.id, r.op])).toEqual([['2', 'upsert'], ['1', 'upsert']]);
    expect(snowflakeWrite(T, rows)).toEqual([{ sql: snowflakeMerge(T, 2), binds: ['2', 'b', null, '1', 'c', null] }]);
  });

  it('chunks under 16,384 VALUES rows and a bounded bind count', () => {
    expect(chunkRows(1)).toBe(MAX_CHUNK_ROWS);
    expect(MAX_CHUNK_ROWS).toBeLessThan(16_384);
    expect(chunkRows(3)).toBe(5461);
    expect(chunkRows(100_000)).toBe(1);
    const many = Array.from({ length: 12_000 }, (_, i) => up(String(i), ['n', null]));
    const stmts = snowflakeWrite(T, many);
    expect(stmts.map((s) => s.binds.length)).toEqual([5461 * 3, 5461 * 3, (12_000 - 2 * 5461) * 3]);
    expect(stmts[2]?.sql).toBe(snowflakeMerge(T, 12_000 - 2 * 5461));
    const deletes = snowflakeWrite(T, Array.from({ length: 16_001 }, (_, i) => del(String(i))));
    expect(deletes.map((s) => s.binds.length)).toEqual([16_000, 1]);
  });

  it('writes nothing for an empty batch', () => {
    expect(snowflakeWrite(T, [])).toEqual([]);
  });
});

describe('snowflakeReadRows / snowflakeScanIds', () => {
  it('reads by key, binary columns decoded back to text', () => {
    expect(snowflakeReadRows({ ...T, columns: [NAME, PIC] }, ['1', '2'])).toEqual({
      sql: 'SELECT "ID", "NAME", TO_VARCHAR("PIC", \'UTF-8\') AS "PIC" FROM "PERSONS" WHERE "ID" IN (?, ?)',
      binds: ['1', '2'],
    });
  });

  it('pages by key with LIMIT', () => {
    expect(snowflakeScanIds(T, undefined, 500)).toEqual({ sql: 'SELECT "ID" FROM "PERSONS" ORDER BY "ID" LIMIT 500', binds: [] });
    expect(snowflakeScanIds(T, '7', 10)).toEqual({ sql: 'SELECT "ID" FROM "PERSONS" WHERE "ID" > ? ORDER BY "ID" LIMIT 10', binds: ['7'] });
  });
});
