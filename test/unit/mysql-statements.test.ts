import { describe, it, expect } from 'vitest';
import { mysqlScanCursor, mysqlScanIds, mysqlStatements, quoteId, quoteTable, SCAN_ID } from '../../runtime/connectors/mysql/statements.ts';
import type { ColumnInfo } from '../../runtime/connectors/types.ts';

describe('quoteId', () => {
  it('quotes with backticks and doubles embedded backticks', () => {
    expect(quoteId('persons')).toBe('`persons`');
    expect(quoteId('we`ird')).toBe('`we``ird`');
  });

  it('quotes db.table per part for tables only', () => {
    expect(quoteTable('test.persons')).toBe('`test`.`persons`');
    expect(quoteId('a.b')).toBe('`a.b`');
  });
});

describe('mysqlStatements', () => {
  it('builds one multi-row upsert and one delete', () => {
    const stmts = mysqlStatements({
      table: 'test.persons',
      pkColumn: 'id',
      columns: ['first', 'age'],
      rows: [
        { op: 'upsert', key: 'person:1', id: '1', acks: [], values: ['Ann', '30'], fields: {} },
        { op: 'delete', key: 'person:2', id: '2', acks: [] },
        { op: 'upsert', key: 'person:3', id: '3', acks: [], values: [null, '4'], fields: {} },
      ],
    });
    expect(stmts).toEqual([
      {
        sql: 'INSERT INTO `test`.`persons` (`id`,`first`,`age`) VALUES (?,?,?),(?,?,?) ON DUPLICATE KEY UPDATE `first`=VALUES(`first`),`age`=VALUES(`age`)',
        params: ['1', 'Ann', '30', '3', null, '4'],
      },
      { sql: 'DELETE FROM `test`.`persons` WHERE `id` IN (?)', params: ['2'] },
    ]);
  });

  it('escapes backticks in table and column names', () => {
    const [upsert] = mysqlStatements({
      table: 'p`t',
      pkColumn: 'i`d',
      columns: ['c`1'],
      rows: [{ op: 'upsert', key: 'p:1', id: '1', acks: [], values: ['v'], fields: {} }],
    });
    expect(upsert?.sql).toBe('INSERT INTO `p``t` (`i``d`,`c``1`) VALUES (?,?) ON DUPLICATE KEY UPDATE `c``1`=VALUES(`c``1`)');
  });

  it('builds only what is needed', () => {
    const deletes = mysqlStatements({
      table: 't',
      pkColumn: 'id',
      columns: ['a'],
      rows: [{ op: 'delete', key: 'p:1', id: '1', acks: [] }, { op: 'delete', key: 'p:2', id: '2', acks: [] }],
    });
    expect(deletes).toEqual([{ sql: 'DELETE FROM `t` WHERE `id` IN (?,?)', params: ['1', '2'] }]);
    expect(mysqlStatements({ table: 't', pkColumn: 'id', columns: ['a'], rows: [] })).toEqual([]);
  });

  it('writes write-through rows like any other, ignoring their acks and Redis ops', () => {
    const stmts = mysqlStatements({
      table: 'persons',
      pkColumn: 'id',
      columns: ['first'],
      rows: [
        { op: 'upsert', key: 'person:1', id: '1', acks: ['a1', 'a2'], values: ['Ada'], fields: { first_name: 'Ada' }, through: [{ op: 'merge', id: '1-0', fields: { first_name: 'Ada' } }] },
        { op: 'delete', key: 'person:2', id: '2', acks: ['x'], through: [{ op: 'merge', id: '1-0', fields: { first_name: 'B' } }, { op: 'delete', id: '1-0' }] },
      ],
    });
    expect(stmts).toEqual([
      { sql: 'INSERT INTO `persons` (`id`,`first`) VALUES (?,?) ON DUPLICATE KEY UPDATE `first`=VALUES(`first`)', params: ['1', 'Ada'] },
      { sql: 'DELETE FROM `persons` WHERE `id` IN (?)', params: ['2'] },
    ]);
  });
});

describe('mysqlScanIds', () => {
  const shape = { table: 'test.persons', pkColumn: 'id', columns: ['first'] };
  const int: ColumnInfo = { name: 'id', type: 'int(11)', family: 'integer', min: -2147483648n, max: 2147483647n };

  it("pages keys in the column's own order: ordered and compared as the table's column, the text under another alias", () => {
    // A bare ORDER BY `id` would resolve to an output column named id: the text, in the connection's collation.
    expect(mysqlScanIds(shape, undefined, 500, int)).toEqual({
      sql: 'SELECT CAST(`t`.`id` AS CHAR) AS `id_text` FROM `test`.`persons` AS `t` ORDER BY `t`.`id` LIMIT 500',
      params: [],
    });
    expect(mysqlScanIds(shape, '10', 500.9, int)).toEqual({
      sql: 'SELECT CAST(`t`.`id` AS CHAR) AS `id_text` FROM `test`.`persons` AS `t` WHERE `t`.`id` > CAST(? AS SIGNED) ORDER BY `t`.`id` LIMIT 500',
      params: ['10'],
    });
    expect(SCAN_ID).toBe('id_text');
  });

  it("compares the cursor as a value of the key column's type", () => {
    const col = (type: string, family: ColumnInfo['family']): ColumnInfo => ({ name: 'id', type, family });
    expect(mysqlScanCursor(col('bigint(20)', 'integer'))).toBe('CAST(? AS SIGNED)');
    expect(mysqlScanCursor(col('bigint(20) unsigned', 'integer'))).toBe('CAST(? AS UNSIGNED)');
    expect(mysqlScanCursor(col('year(4)', 'integer'))).toBe('CAST(? AS SIGNED)');
    expect(mysqlScanCursor(col('decimal(30,10)', 'decimal'))).toBe('CAST(? AS DECIMAL(30,10))');
    expect(mysqlScanCursor(col('decimal(12,0) unsigned', 'decimal'))).toBe('CAST(? AS DECIMAL(12,0))');
    expect(mysqlScanCursor(col('decimal', 'decimal'))).toBe('CAST(? AS DECIMAL(65,30))');
    // Text compares in the column's collation (the literal's is coercible); temporal columns convert a constant.
    expect(mysqlScanCursor(col('varchar(191)', 'text'))).toBe('?');
    expect(mysqlScanCursor(col('datetime(6)', 'timestamp'))).toBe('?');
    expect(mysqlScanCursor(undefined)).toBe('?');
    const text = mysqlScanIds({ ...shape, table: 'persons' }, 'a_b', 2, col('varchar(191)', 'text'));
    expect(text).toEqual({
      sql: 'SELECT CAST(`t`.`id` AS CHAR) AS `id_text` FROM `persons` AS `t` WHERE `t`.`id` > ? ORDER BY `t`.`id` LIMIT 2',
      params: ['a_b'],
    });
  });

  it('never orders by the text form, whatever the key column is called', () => {
    for (const pkColumn of ['id', 'id_text', 'ID', 'we`ird']) {
      const { sql } = mysqlScanIds({ ...shape, pkColumn }, '1', 10);
      const key = `\`t\`.${quoteId(pkColumn)}`;
      expect(sql).toContain(` WHERE ${key} > ? ORDER BY ${key} LIMIT 10`);
    }
  });
});
