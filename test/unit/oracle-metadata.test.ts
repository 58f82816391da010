import { describe, it, expect } from 'vitest';
import {
  oracleColumn, oracleColumnsQuery, oracleErrorColumn, oraclePrimaryKeyQuery, oracleTable, oracleTableSql, oracleTarget, pickTable, splitTableName,
  type OracleColumnRow,
} from '../../runtime/connectors/oracle/metadata.ts';

const row = (COLUMN_NAME: string, DATA_TYPE: string, extra: Partial<OracleColumnRow> = {}): OracleColumnRow => ({
  OWNER: 'SCOTT', TABLE_NAME: 'PERSONS', COLUMN_NAME, DATA_TYPE, DATA_LENGTH: 22, CHAR_LENGTH: 0, DATA_PRECISION: null, DATA_SCALE: null, NULLABLE: 'Y', ...extra,
});

describe('oracleColumn', () => {
  it('maps NUMBER(p,0) and INTEGER to bounded integers, other NUMBERs to decimals', () => {
    expect(oracleColumn(row('ID', 'NUMBER', { DATA_PRECISION: 10, DATA_SCALE: 0 }))).toEqual({ name: 'ID', type: 'NUMBER(10,0)', family: 'integer', min: -9999999999n, max: 9999999999n });
    expect(oracleColumn(row('N', 'NUMBER', { DATA_SCALE: 0 }))).toEqual({ name: 'N', type: 'NUMBER(*,0)', family: 'integer', min: -(10n ** 38n - 1n), max: 10n ** 38n - 1n });
    expect(oracleColumn(row('P', 'NUMBER', { DATA_PRECISION: 5, DATA_SCALE: 2 }))).toMatchObject({ type: 'NUMBER(5,2)', family: 'decimal' });
    expect(oracleColumn(row('Q', 'NUMBER'))).toMatchObject({ type: 'NUMBER', family: 'decimal' });
    expect(oracleColumn(row('F', 'FLOAT', { DATA_PRECISION: 126 }))).toMatchObject({ family: 'decimal' });
    expect(oracleColumn(row('B', 'BINARY_DOUBLE'))).toMatchObject({ family: 'float' });
  });

  it('maps character types to text with their length in characters; LOBs without a limit', () => {
    expect(oracleColumn(row('NAME', 'VARCHAR2', { DATA_LENGTH: 200, CHAR_LENGTH: 50 }))).toEqual({ name: 'NAME', type: 'VARCHAR2(50)', family: 'text', maxLength: 50 });
    expect(oracleColumn(row('C', 'NCHAR', { DATA_LENGTH: 6, CHAR_LENGTH: 3 }))).toMatchObject({ type: 'NCHAR(3)', family: 'text', maxLength: 3 });
    expect(oracleColumn(row('BIO', 'CLOB', { DATA_LENGTH: 4000 }))).toEqual({ name: 'BIO', type: 'CLOB', family: 'text' });
  });

  it('maps DATE (which has a time of day) and TIMESTAMPs to timestamp', () => {
    expect(oracleColumn(row('D', 'DATE'))).toMatchObject({ family: 'timestamp' });
    expect(oracleColumn(row('T', 'TIMESTAMP(6) WITH TIME ZONE'))).toMatchObject({ type: 'TIMESTAMP(6) WITH TIME ZONE', family: 'timestamp' });
  });

  it('maps RAW/BLOB to binary, JSON, BOOLEAN, and the rest to other', () => {
    expect(oracleColumn(row('R', 'RAW', { DATA_LENGTH: 16 }))).toMatchObject({ type: 'RAW(16)', family: 'binary' });
    expect(oracleColumn(row('BL', 'BLOB'))).toMatchObject({ family: 'binary' });
    expect(oracleColumn(row('J', 'JSON'))).toMatchObject({ family: 'json' });
    expect(oracleColumn(row('OK', 'BOOLEAN'))).toMatchObject({ family: 'boolean' });
    expect(oracleColumn(row('I', 'INTERVAL DAY(2) TO SECOND(6)'))).toMatchObject({ family: 'other' });
  });
});

describe('oracleTable', () => {
  it('keys columns by lower-cased name and keeps the primary key as spelled', () => {
    const info = oracleTable([row('ID', 'NUMBER', { DATA_PRECISION: 10, DATA_SCALE: 0 }), row('NAME', 'VARCHAR2', { CHAR_LENGTH: 50 })], ['ID']);
    expect(info.exists).toBe(true);
    expect([...info.columns.keys()]).toEqual(['id', 'name']);
    expect(info.columns.get('name')?.name).toBe('NAME');
    expect(info.primaryKey).toEqual(['ID']);
  });

  it('prefers the upper-case column when two differ only by case', () => {
    const info = oracleTable([row('Name', 'CLOB'), row('NAME', 'VARCHAR2', { CHAR_LENGTH: 5 })], []);
    expect(info.columns.get('name')?.name).toBe('NAME');
  });

  it('says a table without rows does not exist', () => {
    expect(oracleTable([], [])).toEqual({ exists: false, columns: new Map(), primaryKey: [] });
  });
});

describe('table names', () => {
  it('splits owner.table', () => {
    expect(splitTableName('persons')).toEqual({ owner: undefined, name: 'persons' });
    expect(splitTableName('hr.persons')).toEqual({ owner: 'hr', name: 'persons' });
  });

  it('looks the table up case-insensitively in the current schema or the named owner', () => {
    expect(oracleColumnsQuery('persons')).toEqual({
      sql: "SELECT OWNER, TABLE_NAME, COLUMN_NAME, DATA_TYPE, DATA_LENGTH, CHAR_LENGTH, DATA_PRECISION, DATA_SCALE, NULLABLE FROM ALL_TAB_COLUMNS WHERE OWNER = SYS_CONTEXT('USERENV','CURRENT_SCHEMA') AND UPPER(TABLE_NAME) = UPPER(:1) ORDER BY OWNER, TABLE_NAME, COLUMN_ID",
      binds: ['persons'],
    });
    expect(oracleColumnsQuery('hr.persons')).toEqual({
      sql: 'SELECT OWNER, TABLE_NAME, COLUMN_NAME, DATA_TYPE, DATA_LENGTH, CHAR_LENGTH, DATA_PRECISION, DATA_SCALE, NULLABLE FROM ALL_TAB_COLUMNS WHERE UPPER(OWNER) = UPPER(:1) AND UPPER(TABLE_NAME) = UPPER(:2) ORDER BY OWNER, TABLE_NAME, COLUMN_ID',
      binds: ['hr', 'persons'],
    });
    expect(oraclePrimaryKeyQuery('HR', 'PERSONS')).toEqual({
      sql: 'SELECT cc.COLUMN_NAME FROM ALL_CONSTRAINTS c JOIN ALL_CONS_COLUMNS cc ON cc.OWNER = c.OWNER AND cc.CONSTRAINT_NAME = c.CONSTRAINT_NAME' +
        " WHERE c.CONSTRAINT_TYPE = 'P' AND c.OWNER = :1 AND c.TABLE_NAME = :2 ORDER BY cc.POSITION",
      binds: ['HR', 'PERSONS'],
    });
  });

  it('picks the exact spelling, else the upper-case one', () => {
    const upper = [row('ID', 'NUMBER')];
    const quoted = [{ ...row('id', 'NUMBER'), TABLE_NAME: 'persons' }];
    expect(pickTable([...upper, ...quoted], 'persons')).toEqual(quoted);
    expect(pickTable([...upper, ...quoted], 'Persons')).toEqual(upper);
    expect(pickTable([], 'persons')).toEqual([]);
  });

  it('quotes the dictionary spelling, qualified only when the recipe names an owner', () => {
    expect(oracleTableSql([row('ID', 'NUMBER')], 'persons')).toBe('"PERSONS"');
    expect(oracleTableSql([row('ID', 'NUMBER')], 'scott.persons')).toBe('"SCOTT"."PERSONS"');
    expect(oracleTableSql([], 'hr.persons')).toBe('"HR"."PERSONS"');
  });

  it('resolves the recipe columns to their dictionary names', () => {
    const info = oracleTable([row('ID', 'NUMBER', { DATA_SCALE: 0 }), row('NAME', 'VARCHAR2', { CHAR_LENGTH: 5 })], ['ID']);
    const t = oracleTarget(info, '"PERSONS"', { table: 'persons', pkColumn: 'id', columns: ['Name'] });
    expect([t.table, t.pk.name, t.columns.map((c) => c.name)]).toEqual(['"PERSONS"', 'ID', ['NAME']]);
  });
});

describe('oracleErrorColumn', () => {
  it('finds the column an error names', () => {
    expect(oracleErrorColumn('ORA-12899: value too large for column "SCOTT"."PERSONS"."NAME" (actual: 60, maximum: 50)')).toBe('NAME');
    expect(oracleErrorColumn('ORA-01400: cannot insert NULL into ("SCOTT"."PERSONS"."ID")')).toBe('ID');
    expect(oracleErrorColumn('ORA-01438: value 1000 greater than specified precision (3, 0) for column "AGE"')).toBe('AGE');
    expect(oracleErrorColumn('ORA-01722: invalid number')).toBeUndefined();
  });
});
