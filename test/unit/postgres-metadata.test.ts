import { describe, it, expect } from 'vitest';
import { pgColumn, pgSplitTable, pgTable, type PgColumnRow } from '../../runtime/connectors/postgres/metadata.ts';

const row = (column_name: string, data_type: string, extra: Partial<PgColumnRow> = {}): PgColumnRow => ({
  table_schema: 'public', table_name: 'persons', column_name, data_type,
  character_maximum_length: null, numeric_precision: null, numeric_scale: null, pk_position: null, ...extra,
});

describe('pgColumn', () => {
  it.each([
    ['smallint', -32768n, 32767n],
    ['integer', -2147483648n, 2147483647n],
    ['bigint', -9223372036854775808n, 9223372036854775807n],
  ])('maps %s to integer with its range', (t, min, max) => {
    expect(pgColumn(row('n', t))).toEqual({ name: 'n', type: t, family: 'integer', min, max });
  });

  it.each([
    ['real', 'float'], ['double precision', 'float'], ['boolean', 'boolean'], ['date', 'date'],
    ['timestamp without time zone', 'timestamp'],
    ['time without time zone', 'time'], ['json', 'json'], ['jsonb', 'json'],
    ['uuid', 'uuid'], ['text', 'text'], ['bytea', 'binary'], ['interval', 'other'], ['USER-DEFINED', 'other'], ['ARRAY', 'other'],
  ])('maps %s to %s', (t, family) => {
    expect(pgColumn(row('c', t))).toEqual({ name: 'c', type: t.toLowerCase(), family });
  });

  it('maps timestamp with time zone to a zoned timestamp, and keeps fractional-second digits', () => {
    expect(pgColumn(row('c', 'timestamp with time zone'))).toEqual({ name: 'c', type: 'timestamp with time zone', family: 'timestamp', zoned: true });
    expect(pgColumn(row('c', 'time with time zone'))).toEqual({ name: 'c', type: 'time with time zone', family: 'time', zoned: true });
    expect(pgColumn(row('c', 'timestamp without time zone', { datetime_precision: 0 }))).toEqual({ name: 'c', type: 'timestamp without time zone', family: 'timestamp', fraction: 0 });
  });

  it('maps numeric to decimal, naming precision and scale', () => {
    expect(pgColumn(row('p', 'numeric', { numeric_precision: 10, numeric_scale: 2 }))).toEqual({ name: 'p', type: 'numeric(10,2)', family: 'decimal', precision: 10, scale: 2 });
    expect(pgColumn(row('p', 'numeric'))).toEqual({ name: 'p', type: 'numeric', family: 'decimal' });
  });

  it('maps character types to text with their length (as pg returns it: a number or a string)', () => {
    expect(pgColumn(row('first', 'character varying', { character_maximum_length: 20 }))).toEqual({ name: 'first', type: 'character varying(20)', family: 'text', maxLength: 20 });
    expect(pgColumn(row('code', 'character', { character_maximum_length: '3' }))).toEqual({ name: 'code', type: 'character(3)', family: 'text', maxLength: 3, inexact: "character(n) pads values with spaces, so 'a' and 'a ' are one key" });
    expect(pgColumn(row('ci', 'text', { collation_name: 'und_ci', nondeterministic: true }))).toEqual({ name: 'ci', type: 'text', family: 'text', inexact: 'collation und_ci is nondeterministic (case- or accent-insensitive)' });
    expect(pgColumn(row('any', 'character varying'))).toEqual({ name: 'any', type: 'character varying', family: 'text' });
  });
});

describe('pgTable', () => {
  it('describes a table: columns by lower-cased name, primary key in key order', () => {
    const t = pgTable([
      row('Id', 'text', { pk_position: 2 }),
      row('first', 'character varying', { character_maximum_length: 20 }),
      row('region', 'text', { pk_position: '1' }),
    ], 'persons');
    expect(t.name).toBe('public.persons');
    expect(t.info.exists).toBe(true);
    expect([...t.info.columns.keys()]).toEqual(['id', 'first', 'region']);
    expect(t.info.columns.get('id')?.name).toBe('Id');
    expect(t.info.primaryKey).toEqual(['region', 'Id']);
  });

  it('says a table without rows does not exist', () => {
    expect(pgTable([], 'nope')).toEqual({ info: { exists: false, columns: new Map(), primaryKey: [] }, name: undefined });
  });

  it('prefers the exact spelling, and falls back to the folded one', () => {
    const exact = [row('a', 'text', { table_name: 'Persons' }), row('b', 'text', { table_name: 'persons' })];
    expect(pgTable(exact, 'Persons')).toMatchObject({ name: 'public.Persons', info: { columns: new Map([['a', expect.anything()]]) } });
    expect(pgTable([row('b', 'text', { table_name: 'persons' })], 'Persons').name).toBe('public.persons');
    const schemas = [row('a', 'text', { table_schema: 'sales' }), row('b', 'text', { table_schema: 'Sales' })];
    expect(pgTable(schemas, 'Sales.persons').name).toBe('Sales.persons');
    expect(pgTable(schemas.slice(0, 1), 'Sales.persons').name).toBe('sales.persons');
  });
});

describe('pgSplitTable', () => {
  it('splits schema.table at the first dot', () => {
    expect(pgSplitTable('persons')).toEqual({ schema: undefined, table: 'persons' });
    expect(pgSplitTable('sales.persons')).toEqual({ schema: 'sales', table: 'persons' });
    expect(pgSplitTable('s.t.u')).toEqual({ schema: 's', table: 't.u' });
  });
});
