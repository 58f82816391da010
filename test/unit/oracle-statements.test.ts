import { describe, it, expect } from 'vitest';
import {
  ORACLE_SESSION_SETUP, lastPerId, oracleBindShapes, oracleBindValue, oracleDelete, oracleMerge, oracleReadRows, oracleScanIds, oracleTimestamp,
  oracleWrite, quoteId, type OracleTarget,
} from '../../runtime/connectors/oracle/statements.ts';
import type { ColumnInfo } from '../../runtime/connectors/types.ts';
import type { DbValue, RowWrite } from '../../runtime/writer/plan.ts';

const ID: ColumnInfo = { name: 'ID', type: 'NUMBER(10,0)', family: 'integer' };
const NAME: ColumnInfo = { name: 'NAME', type: 'VARCHAR2(50)', family: 'text', maxLength: 50 };
const BORN: ColumnInfo = { name: 'BORN', type: 'TIMESTAMP(6) WITH TIME ZONE', family: 'timestamp' };
const BIO: ColumnInfo = { name: 'BIO', type: 'CLOB', family: 'text' };
const PIC: ColumnInfo = { name: 'PIC', type: 'RAW(16)', family: 'binary' };
const OK: ColumnInfo = { name: 'OK', type: 'BOOLEAN', family: 'boolean' };
const T: OracleTarget = { table: '"PERSONS"', pk: ID, columns: [NAME, BORN] };

const up = (id: string, values: readonly DbValue[]): RowWrite => ({ op: 'upsert', key: `p:${id}`, id, acks: [], values, fields: {} });
const del = (id: string): RowWrite => ({ op: 'delete', key: `p:${id}`, id, acks: [] });

describe('quoteId', () => {
  it('double-quotes names as they are, never folding case', () => {
    expect(quoteId('PERSONS')).toBe('"PERSONS"');
    expect(quoteId('mixedCase')).toBe('"mixedCase"');
    expect(quoteId('a"b')).toBe('"a""b"');
  });
});

describe('ORACLE_SESSION_SETUP', () => {
  it('fixes the decimal separator and the date formats convert.ts produces', () => {
    expect(ORACLE_SESSION_SETUP).toBe(
      "ALTER SESSION SET NLS_NUMERIC_CHARACTERS='.,' NLS_DATE_FORMAT='YYYY-MM-DD HH24:MI:SS'" +
      " NLS_TIMESTAMP_FORMAT='YYYY-MM-DD HH24:MI:SS.FF' NLS_TIMESTAMP_TZ_FORMAT='YYYY-MM-DD HH24:MI:SS.FF TZH:TZM' NLS_SORT='BINARY' NLS_COMP='BINARY'",
    );
  });
});

describe('oracleMerge / oracleDelete', () => {
  it('builds the single-row MERGE over dual, never updating the key', () => {
    expect(oracleMerge(T)).toBe(
      'MERGE INTO "PERSONS" t USING (SELECT :1 "ID", :2 "NAME", :3 "BORN" FROM dual) s ON (t."ID"=s."ID")' +
      ' WHEN MATCHED THEN UPDATE SET t."NAME"=s."NAME", t."BORN"=s."BORN"' +
      ' WHEN NOT MATCHED THEN INSERT ("ID","NAME","BORN") VALUES (s."ID",s."NAME",s."BORN")',
    );
  });

  it('omits WHEN MATCHED when only the key is mapped', () => {
    expect(oracleMerge({ table: '"HR"."T"', pk: ID, columns: [] })).toBe(
      'MERGE INTO "HR"."T" t USING (SELECT :1 "ID" FROM dual) s ON (t."ID"=s."ID") WHEN NOT MATCHED THEN INSERT ("ID") VALUES (s."ID")',
    );
  });

  it('deletes one id per execution (no IN list: ORA-01795 over 1,000)', () => {
    expect(oracleDelete(T)).toBe('DELETE FROM "PERSONS" WHERE "ID"=:1');
  });
});

describe('oracleBindValue', () => {
  it('binds every value as text: numbers, booleans as 1/0, NULL as null', () => {
    expect(oracleBindValue('42', ID)).toBe('42');
    expect(oracleBindValue(7, ID)).toBe('7');
    expect(oracleBindValue(true, OK)).toBe('1');
    expect(oracleBindValue(false, OK)).toBe('0');
    expect(oracleBindValue(null, NAME)).toBeNull();
  });

  it('binds a binary column as the bytes of the text', () => {
    expect(oracleBindValue('hé', PIC)).toEqual(Buffer.from('hé', 'utf8'));
  });

  it('rewrites ISO timestamps to the session format', () => {
    expect(oracleBindValue('2024-01-02T03:04:05', BORN)).toBe('2024-01-02 03:04:05');
    expect(oracleTimestamp('2024-01-02T03:04:05.123Z')).toBe('2024-01-02 03:04:05.123 +00:00');
    expect(oracleTimestamp('2024-01-02 03:04+0530')).toBe('2024-01-02 03:04 +05:30');
    expect(oracleTimestamp('2024-01-02T03:04:05-08')).toBe('2024-01-02 03:04:05 -08:00');
    expect(oracleTimestamp('2024-01-02')).toBe('2024-01-02');
    expect(oracleTimestamp('tomorrow')).toBe('tomorrow');
  });
});

describe('oracleWrite', () => {
  it('gives one MERGE call with a row of binds per upsert and one DELETE call', () => {
    const w = oracleWrite(T, [up('1', ['Ann', '2024-01-02T03:04:05']), del('3'), up('2', [null, null])]);
    expect(w).toEqual({
      merge: { sql: oracleMerge(T), rows: [['1', 'Ann', '2024-01-02 03:04:05'], ['2', null, null]] },
      delete: { sql: oracleDelete(T), rows: [['3']] },
    });
  });

  it('leaves out a call with no rows', () => {
    expect(oracleWrite(T, [del('3')])).toEqual({ delete: { sql: oracleDelete(T), rows: [['3']] } });
    expect(oracleWrite(T, [])).toEqual({});
  });

  it('keeps only the last write of an id, so a delete never undoes a later upsert', () => {
    const rows = [up('1', ['a', null]), del('1'), up('1', ['b', null])];
    expect(lastPerId(rows)).toEqual([rows[2]]);
    expect(oracleWrite(T, rows)).toEqual({ merge: { sql: oracleMerge(T), rows: [['1', 'b', null]] } });
  });
});

describe('oracleBindShapes', () => {
  it('sizes text and bytes by their longest value in bytes and binds LOB columns as LOBs', () => {
    const rows = [['1', 'é', 'x'.repeat(5000), Buffer.from('abc')], ['22', null, null, null]];
    expect(oracleBindShapes([ID, NAME, BIO, PIC], rows)).toEqual([
      { kind: 'text', maxSize: 2 },
      { kind: 'text', maxSize: 2 },
      { kind: 'clob' },
      { kind: 'raw', maxSize: 3 },
    ]);
  });

  it('gives an all-NULL column a size of 1 (node-oracledb refuses 0)', () => {
    expect(oracleBindShapes([NAME], [[null]])).toEqual([{ kind: 'text', maxSize: 1 }]);
  });
});

describe('oracleReadRows / oracleScanIds', () => {
  it('reads by primary key with positional binds', () => {
    expect(oracleReadRows(T, ['1', '2'])).toEqual({ sql: 'SELECT "ID", "NAME", "BORN" FROM "PERSONS" WHERE "ID" IN (:1, :2)', binds: ['1', '2'] });
  });

  it('pages by key with FETCH FIRST', () => {
    expect(oracleScanIds(T, undefined, 500)).toEqual({ sql: 'SELECT "ID" FROM "PERSONS" ORDER BY "ID" FETCH FIRST 500 ROWS ONLY', binds: [] });
    expect(oracleScanIds(T, '9', 10.7)).toEqual({ sql: 'SELECT "ID" FROM "PERSONS" WHERE "ID" > :1 ORDER BY "ID" FETCH FIRST 10 ROWS ONLY', binds: ['9'] });
  });
});
