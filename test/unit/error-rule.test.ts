import Database from 'better-sqlite3';
import cassandra from 'cassandra-driver';
import { DatabaseError } from 'pg';
import { describe, expect, it } from 'vitest';
import { CassandraSchemaError, CassandraValueError, classifyCassandraError } from '../../runtime/connectors/cassandra/errors.ts';
import { errorRule, UNKNOWN_ERROR } from '../../runtime/connectors/classify.ts';
import { classifyMysqlError } from '../../runtime/connectors/mysql/errors.ts';
import { classifyOracleError } from '../../runtime/connectors/oracle/errors.ts';
import { classifyPgError } from '../../runtime/connectors/postgres/errors.ts';
import { classifySnowflakeError } from '../../runtime/connectors/snowflake/errors.ts';
import { classifySqliteError } from '../../runtime/connectors/sqlite/errors.ts';
import type { FailureKind } from '../../runtime/connectors/types.ts';

// One rule for all six connectors: only an error KNOWN to be about a row's own values is
// dead-lettered ('record'); anything else is retried with backoff and shown by `wb-cli status`.

const { NoHostAvailableError, OperationTimedOutError, ResponseError } = cassandra.errors;

/** Errors as each driver raises them. */
const mysql = (errno: number, message = `errno ${errno}`): Error => Object.assign(new Error(message), { errno, fatal: false });
const pg = (code: string): Error => Object.assign(new DatabaseError(`sqlstate ${code}`, 0, 'error'), { code });
const sqlite = (code: string): Error => new Database.SqliteError(code, code);
const ora = (code: string): Error => Object.assign(new Error(`${code}: x`), { code });
const snow = (code: string, sqlState?: string): Error => Object.assign(new Error(`error ${code}`), { name: 'OperationFailedError', code, ...(sqlState ? { sqlState } : {}) });
const cql = (code: number, message = `code ${code}`): Error => new ResponseError(code, message);

interface Case {
  readonly dialect: string;
  readonly classify: (err: unknown) => FailureKind;
  /** Known to be about a row's own values. */
  readonly record: readonly Error[];
  /** Known to mean that the recipe and the table disagree. */
  readonly schema: readonly Error[];
  /** The network or the connection. */
  readonly connection: readonly Error[];
  /** Server errors that are not about a row, listed or not: never dead-lettered. */
  readonly notRecord: readonly Error[];
  /** Server errors no table lists: the fallback, 'connection'. */
  readonly unlisted: readonly Error[];
}

const CASES: readonly Case[] = [
  {
    dialect: 'mysql',
    classify: classifyMysqlError,
    record: [
      mysql(1048, "Column 'age' cannot be null"), mysql(1062, "Duplicate entry 'x' for key 'u'"), mysql(1264, "Out of range value for column 'age'"),
      mysql(1265), mysql(1292), mysql(1366, "Incorrect integer value: 'x' for column `test`.`t`.`age`"), mysql(1367), mysql(1406, "Data too long for column 'first'"),
      mysql(1411), mysql(1451), mysql(1452), mysql(1690), mysql(3819), mysql(4025),
    ],
    schema: [mysql(1146, "Table 'test.t' doesn't exist"), mysql(1054, "Unknown column 'x' in 'field list'"), mysql(1142), mysql(1364)],
    connection: [
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:3306'), { code: 'ECONNREFUSED', errno: -111, fatal: true }),
      Object.assign(new Error('Connection lost: The server closed the connection.'), { code: 'PROTOCOL_CONNECTION_LOST', fatal: true }),
      Object.assign(new Error("Incorrect integer value: 'x'"), { errno: 1366, fatal: true }), // fatal: the connection is gone, whatever the errno
      mysql(2013), mysql(1045), mysql(1927),
    ],
    notRecord: [mysql(1114, "The table 't' is full"), mysql(1158), mysql(1159), mysql(1160), mysql(1161), mysql(1317, 'Query execution was interrupted'), mysql(1021), mysql(1205), mysql(1213)],
    unlisted: [mysql(1030, 'Got error 28 from storage engine'), mysql(1105, 'Unknown error'), mysql(1999), mysql(4078), mysql(4999)],
  },
  {
    dialect: 'postgres',
    classify: classifyPgError,
    record: [pg('22001'), pg('22003'), pg('22P02'), pg('22007'), pg('22021'), pg('23502'), pg('23505'), pg('23503'), pg('23514'), pg('23P01'), pg('P0001')],
    schema: [pg('42P01'), pg('42703'), pg('42501'), pg('3F000')],
    connection: [
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }),
      new Error('Connection terminated unexpectedly'), pg('08006'), pg('57P01'), pg('28P01'),
    ],
    notRecord: [pg('53100'), pg('57014'), pg('53200'), pg('58030'), pg('XX000'), pg('40001'), pg('40P01'), pg('55P03')],
    unlisted: [pg('HV000'), pg('ZZ999'), pg('P0002'), pg('2F005'), pg('F0000')],
  },
  {
    dialect: 'sqlite',
    classify: classifySqliteError,
    record: [sqlite('SQLITE_CONSTRAINT_NOTNULL'), sqlite('SQLITE_CONSTRAINT_UNIQUE'), sqlite('SQLITE_CONSTRAINT_CHECK'), sqlite('SQLITE_CONSTRAINT_FOREIGNKEY'), sqlite('SQLITE_CONSTRAINT_DATATYPE'), sqlite('SQLITE_MISMATCH'), sqlite('SQLITE_TOOBIG')],
    schema: [Object.assign(sqlite('SQLITE_ERROR'), { message: 'no such table: t' })],
    connection: [new TypeError('The database connection is not open'), sqlite('SQLITE_CANTOPEN'), sqlite('SQLITE_BUSY'), sqlite('SQLITE_BUSY_SNAPSHOT')],
    notRecord: [sqlite('SQLITE_FULL'), sqlite('SQLITE_IOERR'), sqlite('SQLITE_IOERR_WRITE'), sqlite('SQLITE_CORRUPT'), sqlite('SQLITE_READONLY'), sqlite('SQLITE_CONSTRAINT_COMMITHOOK')],
    unlisted: [sqlite('SQLITE_RANGE'), sqlite('SQLITE_ABORT'), sqlite('SQLITE_INTERNAL'), sqlite('SQLITE_SOMETHING_NEW')],
  },
  {
    dialect: 'oracle',
    classify: classifyOracleError,
    record: [
      ora('ORA-01400'), ora('ORA-12899'), ora('ORA-01722'), ora('ORA-01438'), ora('ORA-00001'), ora('ORA-02290'), ora('ORA-02291'), ora('ORA-02292'),
      ora('ORA-01840'), ora('ORA-01841'), ora('ORA-01843'), ora('ORA-01847'), ora('ORA-01858'), ora('ORA-01861'), ora('ORA-20001'), ora('NJS-058'),
      new Error('ORA-12899: value too large for column "S"."T"."C" (actual: 30, maximum: 20)'), // thin mode: the code only in the message
    ],
    schema: [ora('ORA-00942'), ora('ORA-00904'), ora('ORA-01031')],
    connection: [Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }), ora('NJS-500'), ora('NJS-503'), ora('ORA-03113'), ora('ORA-12541')],
    notRecord: [ora('ORA-01653'), ora('ORA-01654'), ora('ORA-01013'), ora('ORA-00060'), ora('ORA-01033')],
    unlisted: [ora('ORA-04031'), ora('ORA-00600'), ora('ORA-01801'), ora('ORA-02293'), ora('ORA-09999'), ora('NJS-999')],
  },
  {
    dialect: 'snowflake',
    classify: classifySnowflakeError,
    record: [snow('100038', '22018'), snow('100040', '22007'), snow('100035', '22007'), snow('100078', '22000'), snow('100072', '22000'), snow('100090', '42P18'), snow('123456', '23505'), snow('100046')],
    schema: [snow('002003', '42S02'), snow('000904', '42000'), snow('390100', '08004')],
    connection: [
      Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), Object.assign(new Error('network'), { name: 'NetworkError', code: 401001 }),
      snow('390114'), snow('999999', '08001'),
    ],
    notRecord: [snow('000604', '57014'), snow('000630'), snow('000625'), snow('123456', '40001')],
    unlisted: [snow('000123'), snow('000123', 'XX000'), snow('100999'), snow('390999'), Object.assign(new Error('driver'), { code: 405999 })],
  },
  {
    dialect: 'cassandra',
    classify: classifyCassandraError,
    record: [new CassandraValueError('age', 'int', false, 'x', 'not an integer'), cql(0x2200, 'Key may not be empty'), cql(0x2200, 'Invalid byte for ascii: -23'), cql(0x1400, 'function failure')],
    schema: [new CassandraSchemaError('table t has no column c'), cql(0x2200, 'unconfigured table persons'), cql(0x2200, 'Undefined column name zz'), cql(0x2100, 'unauthorized')],
    connection: [new NoHostAvailableError({}, 'All host(s) tried for query failed'), new OperationTimedOutError('timed out', '127.0.0.1:9042'), Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })],
    notRecord: [cql(0x1000, 'unavailable'), cql(0x1001, 'overloaded'), cql(0x1100, 'write timeout'), cql(0x1500, 'write failure'), cql(0x0000, 'server error')],
    unlisted: [cql(0x9999, 'a code from a newer protocol'), cql(0x2200, 'something the server says is invalid'), new TypeError("Cannot read properties of undefined (reading 'x')"), new RangeError('Maximum call stack size exceeded')],
  },
];

const NOT_ERRORS: readonly unknown[] = ['boom', undefined, null, 42, {}, { code: 'nothing' }, new Error('no code')];

describe.each(CASES)('the error rule for $dialect', (c) => {
  it('dead-letters an error known to be about a row', () => {
    for (const err of c.record) expect(c.classify(err), err.message).toBe('record');
  });

  it('retries, as schema, an error known to mean that the recipe and the table disagree', () => {
    for (const err of c.schema) expect(c.classify(err), err.message).toBe('schema');
  });

  it('retries a network or connection error as connection', () => {
    for (const err of c.connection) expect(c.classify(err), err.message).toBe('connection');
  });

  it('never dead-letters a server error that is not about a row (table full, disk full, cancelled, network)', () => {
    for (const err of c.notRecord) expect(['connection', 'schema'], err.message).toContain(c.classify(err));
  });

  it('retries a server error it does not list', () => {
    for (const err of c.unlisted) expect(c.classify(err), err.message).toBe(UNKNOWN_ERROR);
  });

  it('retries what is no error at all', () => {
    for (const v of NOT_ERRORS) expect(c.classify(v), String(v)).toBe('connection');
  });
});

describe('errorRule', () => {
  const rule = errorRule<number | string>({ record: [1, { from: 100, to: 199 }, 'AB'], schema: [2, 'A'], transient: [3, { from: 300, to: 399 }] });

  it('looks codes up most specific first and retries what no table lists', () => {
    expect(rule.classify([1])).toBe('record');
    expect(rule.classify([150])).toBe('record');
    expect(rule.classify([2])).toBe('schema');
    expect(rule.classify([3])).toBe('connection');
    expect(rule.classify([350])).toBe('connection');
    expect(rule.classify(['AB', 'A'])).toBe('record');
    expect(rule.classify(['AC', 'A'])).toBe('schema');
    expect(rule.classify([undefined, 2])).toBe('schema');
    expect(rule.classify([4, 'B'])).toBe(UNKNOWN_ERROR);
    expect(rule.classify([])).toBe(UNKNOWN_ERROR);
    expect(UNKNOWN_ERROR).toBe('connection');
    expect(rule.kindOf(4)).toBeUndefined();
  });

  it('refuses a table that lists a code twice or under two kinds', () => {
    expect(() => errorRule<number>({ record: [1], schema: [], transient: [1] })).toThrow(/listed twice/);
    expect(() => errorRule<number>({ record: [1, 1], schema: [], transient: [] })).toThrow(/listed twice/);
    expect(() => errorRule<number>({ record: [{ from: 1, to: 10 }], schema: [], transient: [5] })).toThrow(/also in a range/);
    expect(() => errorRule<number>({ record: [{ from: 1, to: 10 }], schema: [{ from: 10, to: 20 }], transient: [] })).toThrow(/overlap/);
    expect(() => errorRule<number>({ record: [{ from: 10, to: 1 }], schema: [], transient: [] })).toThrow(/empty range/);
  });
});
