import { describe, it, expect } from 'vitest';
import { mysqlStatements, quoteId, quoteTable } from '../../runtime/connectors/mysql/statements.ts';

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
        { op: 'upsert', key: 'person:1', id: '1', acks: ['a1', 'a2'], values: ['Ada'], fields: { first_name: 'Ada' }, through: [{ op: 'merge', fields: { first_name: 'Ada' } }] },
        { op: 'delete', key: 'person:2', id: '2', acks: ['x'], through: [{ op: 'merge', fields: { first_name: 'B' } }, { op: 'delete' }] },
      ],
    });
    expect(stmts).toEqual([
      { sql: 'INSERT INTO `persons` (`id`,`first`) VALUES (?,?) ON DUPLICATE KEY UPDATE `first`=VALUES(`first`)', params: ['1', 'Ada'] },
      { sql: 'DELETE FROM `persons` WHERE `id` IN (?)', params: ['2'] },
    ]);
  });
});
