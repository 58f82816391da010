import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CASE_COLUMN_TYPES, CONVERSION_CASES, renderConversionDocs } from '../../runtime/connectors/conversions.ts';
import { convertValue, keyProblem } from '../../runtime/connectors/convert.ts';
import { mysqlColumn, mysqlInexact } from '../../runtime/connectors/mysql/metadata.ts';
import { pgColumn } from '../../runtime/connectors/postgres/metadata.ts';
import { sqliteColumn } from '../../runtime/connectors/sqlite/metadata.ts';
import type { ColumnInfo } from '../../runtime/connectors/types.ts';
import { sameValue } from '../../runtime/verify/compare.ts';

// Each case type as its database's own metadata describes it (information_schema as the server
// reports it), so the spec is checked through the same mapping the runtime uses.
const MYSQL: Record<string, ColumnInfo> = {
  text: mysqlColumn({ COLUMN_NAME: 'c', DATA_TYPE: 'varchar', COLUMN_TYPE: 'varchar(5)', CHARACTER_MAXIMUM_LENGTH: 5, COLUMN_KEY: '', COLLATION_NAME: 'utf8mb4_general_ci' }),
  integer: mysqlColumn({ COLUMN_NAME: 'c', DATA_TYPE: 'int', COLUMN_TYPE: 'int(11)', CHARACTER_MAXIMUM_LENGTH: null, COLUMN_KEY: '' }),
  decimal: mysqlColumn({ COLUMN_NAME: 'c', DATA_TYPE: 'decimal', COLUMN_TYPE: 'decimal(5,2)', CHARACTER_MAXIMUM_LENGTH: null, COLUMN_KEY: '', NUMERIC_PRECISION: 5, NUMERIC_SCALE: 2 }),
  float: mysqlColumn({ COLUMN_NAME: 'c', DATA_TYPE: 'double', COLUMN_TYPE: 'double', CHARACTER_MAXIMUM_LENGTH: null, COLUMN_KEY: '' }),
  boolean: mysqlColumn({ COLUMN_NAME: 'c', DATA_TYPE: 'tinyint', COLUMN_TYPE: 'tinyint(1)', CHARACTER_MAXIMUM_LENGTH: null, COLUMN_KEY: '' }),
  date: mysqlColumn({ COLUMN_NAME: 'c', DATA_TYPE: 'date', COLUMN_TYPE: 'date', CHARACTER_MAXIMUM_LENGTH: null, COLUMN_KEY: '' }),
  timestamp: mysqlColumn({ COLUMN_NAME: 'c', DATA_TYPE: 'datetime', COLUMN_TYPE: 'datetime', CHARACTER_MAXIMUM_LENGTH: null, COLUMN_KEY: '', DATETIME_PRECISION: 0 }),
};
const pg = (data_type: string, extra: Record<string, unknown> = {}): ColumnInfo =>
  pgColumn({ table_schema: 'public', table_name: 't', column_name: 'c', data_type, character_maximum_length: null, numeric_precision: null, numeric_scale: null, pk_position: null, ...extra });
const POSTGRES: Record<string, ColumnInfo> = {
  text: pg('character varying', { character_maximum_length: 5 }), integer: pg('integer'), decimal: pg('numeric', { numeric_precision: 5, numeric_scale: 2 }),
  float: pg('double precision'), boolean: pg('boolean'), date: pg('date'), timestamp: pg('timestamp without time zone', { datetime_precision: 0 }),
};
const SQLITE = Object.fromEntries(Object.entries(CASE_COLUMN_TYPES).map(([f, t]) => [f, sqliteColumn({ name: 'c', type: t.sqlite })])) as Record<string, ColumnInfo>;

describe('the conversion table', () => {
  for (const [dialect, columns] of [['mysql', MYSQL], ['postgres', POSTGRES], ['sqlite', SQLITE]] as const) {
    const cases = CONVERSION_CASES.filter((k) => !k.only || k.only.includes(dialect));
    it.each(cases.map((k) => [k.family, JSON.stringify(k.input), k.stored === null ? 'refused' : JSON.stringify(k.stored), k] as const))(
      `${dialect}: %s %s -> %s`,
      (_f, _i, _s, k) => {
        const col = columns[k.family] as ColumnInfo;
        expect(col.family).toBe(k.family);
        const c = convertValue(k.input, col);
        if (k.stored === null) {
          expect(c.ok).toBe(false);
          return;
        }
        expect(c.ok).toBe(true);
        if (c.ok) expect(sameValue(k.stored, String(c.value), k.family)).toBe(true);
      },
    );
  }

  it('refuses with a reason that says what the column keeps', () => {
    expect(convertValue('123.456', MYSQL['decimal'] as ColumnInfo)).toEqual({ ok: false, reason: 'has 3 digits after the decimal point; the column keeps 2 and would round it' });
    expect(convertValue('2024-02-28 10:00:00.5', MYSQL['timestamp'] as ColumnInfo)).toEqual({ ok: false, reason: 'has fractions of a second; the column keeps whole seconds and would round them' });
    expect(convertValue('', MYSQL['integer'] as ColumnInfo)).toEqual({ ok: false, reason: 'empty, which is not an integer' });
  });

  it('MySQL/MariaDB YEAR takes 1901-2155 only, and CHAR no value ending in a space (both would store another value)', () => {
    // Found from the outside: YEAR made '99' 1999 and '0' 2000; CHAR(3) made 'ab ' 'ab'.
    const year = mysqlColumn({ COLUMN_NAME: 'y', DATA_TYPE: 'year', COLUMN_TYPE: 'year(4)', CHARACTER_MAXIMUM_LENGTH: null, COLUMN_KEY: '' });
    expect(convertValue('2024', year)).toEqual({ ok: true, value: '2024' });
    for (const v of ['99', '0', '1900', '2156']) expect(convertValue(v, year).ok, v).toBe(false);
    const char = mysqlColumn({ COLUMN_NAME: 'c', DATA_TYPE: 'char', COLUMN_TYPE: 'char(3)', CHARACTER_MAXIMUM_LENGTH: 3, COLUMN_KEY: '', COLLATION_NAME: 'utf8mb4_bin' });
    expect(convertValue('ab', char)).toEqual({ ok: true, value: 'ab' });
    expect(convertValue(' ab', char)).toEqual({ ok: true, value: ' ab' });
    expect(convertValue('ab ', char)).toEqual({ ok: false, reason: 'ends with a space, which the column drops' });
    // VARCHAR keeps them.
    expect(convertValue('ab ', MYSQL['text'] as ColumnInfo)).toEqual({ ok: true, value: 'ab ' });
  });

  it('writes a timestamp with an offset into a zoned column as given', () => {
    expect(convertValue('2024-02-28T12:00:00+02:00', pg('timestamp with time zone'))).toEqual({ ok: true, value: '2024-02-28T12:00:00+02:00' });
    expect(convertValue('2024-02-28T12:00:00.123456+02:00', pg('timestamp without time zone', { datetime_precision: 6 }))).toEqual({ ok: true, value: '2024-02-28 10:00:00.123456' });
    expect(convertValue('2024-03-01T01:00:00+02:00', pg('timestamp without time zone'))).toEqual({ ok: true, value: '2024-02-29 23:00:00' });
  });

  it('docs/conversions.md holds the table rendered from the spec', () => {
    const doc = readFileSync(new URL('../../docs/conversions.md', import.meta.url), 'utf8');
    expect(doc).toContain(renderConversionDocs());
  });
});

describe('keyProblem: two keys never share a row', () => {
  const int = MYSQL['integer'] as ColumnInfo;
  it.each(['01', '1.0', ' 1', '1 ', '+1', '-0', '1e0', ''])('refuses %j for an INT key', (id) => {
    expect(keyProblem(id, int)).toBeDefined();
  });
  it.each(['1', '0', '-12', '2147483647'])('takes %j for an INT key', (id) => {
    expect(keyProblem(id, int)).toBeUndefined();
  });
  it.each([
    ['decimal', pg('numeric', { numeric_precision: 6, numeric_scale: 2 }), ['1.50', '-0.25', '12.00'], ['1.5', '1', '01.50', '1.500']],
    ['float', pg('double precision'), ['1.5', '1000', '-0.25'], ['1.50', '1e3', '1000.0']],
    ['boolean', pg('boolean'), ['true', 'false'], ['1', 'yes', 'TRUE']],
    ['timestamp', pg('timestamp with time zone'), ['2024-02-28 10:00:00', '2024-02-28 10:00:00.5'], ['2024-02-28T10:00:00', '2024-02-28 10:00:00Z', '2024-02-28 10:00:00.50', '2024-02-28']],
  ] as const)('a %s key takes only its canonical text', (_family, col, good, bad) => {
    for (const id of good) expect(keyProblem(id, col), id).toBeUndefined();
    for (const id of bad) expect(keyProblem(id, col), id).toBeDefined();
  });

  it('refuses every id of a decimal key without a declared scale', () => {
    expect(keyProblem('1.5', pg('numeric'))).toMatch(/cannot tell 1.5 from 1.50/);
  });

  it('takes any id for a text key, and a UUID key in lower case only', () => {
    expect(keyProblem(' Mixed.Case@x ', MYSQL['text'] as ColumnInfo)).toBeUndefined();
    expect(keyProblem('0f8fad5b-d9cb-469f-a165-70867728950e', pg('uuid'))).toBeUndefined();
    expect(keyProblem('0F8FAD5B-D9CB-469F-A165-70867728950E', pg('uuid'))).toMatch(/canonical text of its value, which is '0f8fad5b-d9cb-469f-a165-70867728950e'/);
  });
});

describe('mysqlInexact: which key collations compare exactly', () => {
  it.each([
    ['varchar', 'utf8mb4_nopad_bin', false], ['varchar', 'utf8mb4_0900_bin', false], ['varbinary', null, false], ['varchar', 'binary', false],
    ['varchar', 'utf8mb4_bin', true], ['varchar', 'utf8mb4_general_ci', true], ['varchar', 'latin1_swedish_ci', true], ['varchar', 'utf8mb4_unicode_nopad_ci', true],
    ['char', 'utf8mb4_nopad_bin', true],
  ] as const)('%s %s inexact: %s', (type, collation, inexact) => {
    expect(mysqlInexact(type, collation) !== undefined).toBe(inexact);
  });
});
