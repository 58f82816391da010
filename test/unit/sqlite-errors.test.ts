import { describe, it, expect } from 'vitest';
import Database from 'better-sqlite3';
import { classifySqliteError } from '../../runtime/connectors/sqlite/errors.ts';

const coded = (code: string, message = code): Error => Object.assign(new Error(message), { code });

describe('classifySqliteError', () => {
  it.each(['SQLITE_BUSY', 'SQLITE_BUSY_SNAPSHOT', 'SQLITE_LOCKED', 'SQLITE_IOERR_WRITE', 'SQLITE_CANTOPEN', 'SQLITE_READONLY', 'SQLITE_FULL', 'SQLITE_NOTADB', 'SQLITE_SCHEMA'])(
    'classifies %s as connection', (code) => {
      expect(classifySqliteError(coded(code))).toBe('connection');
    });

  it.each(['SQLITE_CONSTRAINT', 'SQLITE_CONSTRAINT_NOTNULL', 'SQLITE_CONSTRAINT_CHECK', 'SQLITE_CONSTRAINT_DATATYPE', 'SQLITE_CONSTRAINT_TRIGGER', 'SQLITE_MISMATCH', 'SQLITE_TOOBIG'])(
    'classifies %s as record', (code) => {
      expect(classifySqliteError(coded(code))).toBe('record');
    });

  it.each(['SQLITE_RANGE', 'SQLITE_ABORT', 'SQLITE_INTERNAL', 'SQLITE_NOTFOUND', 'SQLITE_CONSTRAINT_COMMITHOOK'])('retries %s, which is not about a row', (code) => {
    expect(classifySqliteError(coded(code))).toBe('connection');
  });

  it('classifies errors without a SQLite code as connection', () => {
    expect(classifySqliteError(new TypeError('The database connection is not open'))).toBe('connection');
    expect(classifySqliteError(coded('ENOENT'))).toBe('connection');
    expect(classifySqliteError(undefined)).toBe('connection');
  });

  describe('against the real library', () => {
    const db = new Database(':memory:');
    db.exec('CREATE TABLE t (id TEXT PRIMARY KEY, n TEXT NOT NULL); CREATE TABLE s (id INTEGER PRIMARY KEY, v INTEGER) STRICT');
    const thrown = (f: () => unknown): unknown => {
      try {
        f();
      } catch (err) {
        return err;
      }
      throw new Error('expected a throw');
    };

    it.each([
      ['no such table', 'INSERT INTO nope (id) VALUES (?)'],
      ['no such column (has no column named)', 'INSERT INTO t (id, nope) VALUES (?, ?)'],
      ['ON CONFLICT target that is no key', 'INSERT INTO t (id, n) VALUES (?, ?) ON CONFLICT (n) DO NOTHING'],
    ])('classifies %s as schema', (_what, sql) => {
      expect(classifySqliteError(thrown(() => db.prepare(sql)))).toBe('schema');
    });

    it('classifies refused values as record', () => {
      expect(classifySqliteError(thrown(() => db.prepare('INSERT INTO t (id, n) VALUES (?, ?)').run('1', null)))).toBe('record');
      expect(classifySqliteError(thrown(() => db.prepare('INSERT INTO s (id, v) VALUES (?, ?)').run('abc', 1)))).toBe('record');
      expect(classifySqliteError(thrown(() => db.prepare('INSERT INTO s (id, v) VALUES (?, ?)').run(1, 'x')))).toBe('record');
    });
  });
});
