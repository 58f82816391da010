import { describe, it, expect } from 'vitest';
import {
  pickTable, snowflakeColumn, snowflakeColumnsQuery, snowflakePrimaryKeyQuery, snowflakeTable, snowflakeTableSql, snowflakeTarget, splitTableName,
  type SnowflakeColumnRow,
} from '../../runtime/connectors/snowflake/metadata.ts';

const row = (COLUMN_NAME: string, DATA_TYPE: string, extra: Partial<SnowflakeColumnRow> = {}): SnowflakeColumnRow => ({
  TABLE_SCHEMA: 'PUBLIC', TABLE_NAME: 'PERSONS', COLUMN_NAME, DATA_TYPE, IS_NULLABLE: 'YES', CHARACTER_MAXIMUM_LENGTH: null, NUMERIC_PRECISION: null, NUMERIC_SCALE: null, ...extra,
});

describe('snowflakeColumn', () => {
  it('maps NUMBER(p,0) to a bounded integer and other NUMBERs to decimal', () => {
    expect(snowflakeColumn(row('ID', 'NUMBER', { NUMERIC_PRECISION: 38, NUMERIC_SCALE: 0 }))).toEqual({
      name: 'ID', type: 'NUMBER(38,0)', family: 'integer', min: -(10n ** 38n - 1n), max: 10n ** 38n - 1n,
    });
    expect(snowflakeColumn(row('AGE', 'NUMBER', { NUMERIC_PRECISION: 3, NUMERIC_SCALE: 0 }))).toMatchObject({ family: 'integer', min: -999n, max: 999n });
    expect(snowflakeColumn(row('P', 'NUMBER', { NUMERIC_PRECISION: 10, NUMERIC_SCALE: 2 }))).toMatchObject({ type: 'NUMBER(10,2)', family: 'decimal' });
  });

  it('maps TEXT with its length, and the other types to their families', () => {
    expect(snowflakeColumn(row('NAME', 'TEXT', { CHARACTER_MAXIMUM_LENGTH: 50 }))).toEqual({ name: 'NAME', type: 'TEXT(50)', family: 'text', maxLength: 50 });
    const families = Object.fromEntries(
      ['FLOAT', 'BOOLEAN', 'DATE', 'TIME', 'TIMESTAMP_NTZ', 'TIMESTAMP_LTZ', 'TIMESTAMP_TZ', 'VARIANT', 'OBJECT', 'ARRAY', 'BINARY', 'GEOGRAPHY', 'VECTOR']
        .map((t) => [t, snowflakeColumn(row('C', t)).family]),
    );
    expect(families).toEqual({
      FLOAT: 'float', BOOLEAN: 'boolean', DATE: 'date', TIME: 'time', TIMESTAMP_NTZ: 'timestamp', TIMESTAMP_LTZ: 'timestamp', TIMESTAMP_TZ: 'timestamp',
      VARIANT: 'json', OBJECT: 'json', ARRAY: 'json', BINARY: 'binary', GEOGRAPHY: 'other', VECTOR: 'other',
    });
  });

  it('reads numbers that arrive as strings', () => {
    expect(snowflakeColumn(row('N', 'TEXT', { CHARACTER_MAXIMUM_LENGTH: '16777216' }))).toMatchObject({ maxLength: 16_777_216 });
  });
});

describe('snowflakeTable', () => {
  it('keys columns by lower-cased name and orders the primary key by key_sequence', () => {
    const info = snowflakeTable([row('ID', 'NUMBER'), row('NAME', 'TEXT')], [{ column_name: 'B', key_sequence: 2 }, { column_name: 'A', key_sequence: '1' }]);
    expect([...info.columns.keys()]).toEqual(['id', 'name']);
    expect(info.primaryKey).toEqual(['A', 'B']);
    expect(info.exists).toBe(true);
  });

  it('says a table without rows does not exist', () => {
    expect(snowflakeTable([], [])).toEqual({ exists: false, columns: new Map(), primaryKey: [] });
  });
});

describe('table names', () => {
  it('looks the table up case-insensitively in the current or the named schema', () => {
    expect(splitTableName('sales.persons')).toEqual({ schema: 'sales', name: 'persons' });
    expect(snowflakeColumnsQuery('persons')).toEqual({
      sql: 'SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, DATA_TYPE, IS_NULLABLE, CHARACTER_MAXIMUM_LENGTH, NUMERIC_PRECISION, NUMERIC_SCALE FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_SCHEMA = CURRENT_SCHEMA() AND UPPER(TABLE_NAME) = UPPER(?) ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION',
      binds: ['persons'],
    });
    expect(snowflakeColumnsQuery('sales.persons').binds).toEqual(['sales', 'persons']);
    expect(snowflakeColumnsQuery('sales.persons').sql).toContain('WHERE UPPER(TABLE_SCHEMA) = UPPER(?) AND UPPER(TABLE_NAME) = UPPER(?)');
    expect(snowflakePrimaryKeyQuery('PUBLIC', 'PERSONS')).toBe('SHOW PRIMARY KEYS IN TABLE "PUBLIC"."PERSONS"');
  });

  it('picks the exact spelling, else the upper-case one', () => {
    const upper = [row('ID', 'NUMBER')];
    const quoted = [{ ...row('id', 'NUMBER'), TABLE_NAME: 'persons' }];
    expect(pickTable([...upper, ...quoted], 'persons')).toEqual(quoted);
    expect(pickTable([...upper, ...quoted], 'Persons')).toEqual(upper);
  });

  it('quotes the dictionary spelling and resolves recipe columns to it', () => {
    expect(snowflakeTableSql([row('ID', 'NUMBER')], 'persons')).toBe('"PERSONS"');
    expect(snowflakeTableSql([row('ID', 'NUMBER')], 'public.persons')).toBe('"PUBLIC"."PERSONS"');
    expect(snowflakeTableSql([], 'persons')).toBe('"PERSONS"');
    const info = snowflakeTable([row('ID', 'NUMBER'), row('NAME', 'TEXT')], []);
    const t = snowflakeTarget(info, '"PERSONS"', { table: 'persons', pkColumn: 'id', columns: ['name'] });
    expect([t.pk.name, t.columns.map((c) => c.name)]).toEqual(['ID', ['NAME']]);
  });
});
