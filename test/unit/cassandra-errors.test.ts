import cassandra from 'cassandra-driver';
import { describe, it, expect } from 'vitest';
import { cassandraErrorColumn, CassandraSchemaError, CassandraValueError, classifyCassandraError, cleanError } from '../../runtime/connectors/cassandra/errors.ts';

const { AuthenticationError, BusyConnectionError, DriverInternalError, NoHostAvailableError, OperationTimedOutError, ResponseError } = cassandra.errors;
const server = (code: number, message = `code ${code}`) => new ResponseError(code, message);

describe('classifyCassandraError', () => {
  it.each([0x0000, 0x000a, 0x0100, 0x1000, 0x1001, 0x1002, 0x1003, 0x1100, 0x1200, 0x1300, 0x1500, 0x2500, 0x8000, 0x9999])(
    'classifies server code %i as connection',
    (code) => expect(classifyCassandraError(server(code))).toBe('connection'),
  );

  it('classifies client-side failures as connection', () => {
    expect(classifyCassandraError(new NoHostAvailableError({ '127.0.0.1:9042': new AuthenticationError('Provided username x and/or password are incorrect') }))).toBe('connection');
    expect(classifyCassandraError(new OperationTimedOutError('timed out', '127.0.0.1:9042'))).toBe('connection');
    expect(classifyCassandraError(new BusyConnectionError('127.0.0.1:9042', 2048, 1))).toBe('connection');
    expect(classifyCassandraError(new AuthenticationError('bad credentials'))).toBe('connection');
    expect(classifyCassandraError(new DriverInternalError('bug'))).toBe('connection');
    expect(classifyCassandraError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9042'), { code: 'ECONNREFUSED' }))).toBe('connection');
    expect(classifyCassandraError(undefined)).toBe('connection');
  });

  it.each([0x2000, 0x2100, 0x2300, 0x2400])('classifies server code %i as schema', (code) => {
    expect(classifyCassandraError(server(code))).toBe('schema');
  });

  it.each([
    'unconfigured table persons',
    'table persons does not exist',
    "Keyspace 'app' does not exist",
    'Undefined column name zz in table app."Persons"',
    'Some clustering keys are missing: c',
    'Some partition key parts are missing: p2',
    'Missing PRIMARY KEY part c',
    'Cannot set the value of counter column n (counters can only be incremented/decremented, not set)',
    'INSERT statements are not allowed on counter tables, use UPDATE instead',
  ])('classifies Invalid "%s" as schema', (message) => {
    expect(classifyCassandraError(server(0x2200, message))).toBe('schema');
  });

  it.each(['Invalid byte for ascii: -23', 'Key may not be empty', 'Key length of 70000 is longer than maximum of 65535', 'Invalid version for TimeUUID type: 0x8'])(
    'classifies Invalid "%s" as record',
    (message) => expect(classifyCassandraError(server(0x2200, message))).toBe('record'),
  );

  it('classifies a value refused before it is sent, and a function failure, as record', () => {
    expect(classifyCassandraError(new CassandraValueError('age', 'int', false, 'x', 'not an integer'))).toBe('record');
    expect(classifyCassandraError(server(0x1400, 'function failure'))).toBe('record');
  });

  it("retries the driver's own TypeError or RangeError: values are converted before they are sent, so it is no one row's fault", () => {
    expect(classifyCassandraError(new TypeError("Expected Number, obtained 'x'"))).toBe('connection');
    expect(classifyCassandraError(new TypeError("Cannot read properties of undefined (reading 'x')"))).toBe('connection');
    expect(classifyCassandraError(new RangeError('The value of "value" is out of range.'))).toBe('connection');
  });

  it('retries an Invalid it does not know to be about the table or a value', () => {
    expect(classifyCassandraError(server(0x2200, 'Invalid amount of bind variables'))).toBe('connection');
    expect(classifyCassandraError(server(0x2200, 'something new'))).toBe('connection');
  });
});

describe('cassandraErrorColumn', () => {
  it('names the column of a mapped value, not of the key', () => {
    expect(cassandraErrorColumn(new CassandraValueError('age', 'int', false, 'x', 'not an integer'))).toBe('age');
    expect(cassandraErrorColumn(new CassandraValueError('Id', 'int', true, 'x', 'not an integer'))).toBeUndefined();
    expect(cassandraErrorColumn(server(0x2200, 'Invalid byte for ascii: -23'))).toBeUndefined();
  });
});

describe('CassandraValueError', () => {
  it('says the value and why; the key column is named since no field is', () => {
    expect(new CassandraValueError('age', 'int', false, 'x', 'not an integer').message).toBe("value 'x': not an integer");
    expect(new CassandraValueError('Id', 'int', true, 'abc', 'not an integer').message).toBe("key column Id (int) cannot take id 'abc': not an integer");
    expect(new CassandraValueError('c', 'text', false, 'y'.repeat(50), 'r').message).toBe(`value '${'y'.repeat(40)}...': r`);
  });
});

describe('cleanError', () => {
  it('says each host on one line, without stacks, and stays a NoHostAvailableError', () => {
    const inner = new AuthenticationError('Provided username wbconf and/or password are incorrect');
    const err = new NoHostAvailableError({ '127.0.0.1:9142': inner });
    expect(err.message).toContain('\n'); // the driver's message carries the inner stack
    const clean = cleanError(err);
    expect(clean).toBeInstanceOf(NoHostAvailableError);
    expect((clean as Error).message).toBe('All host(s) tried for query failed: 127.0.0.1:9142: AuthenticationError: Provided username wbconf and/or password are incorrect');
    expect(classifyCassandraError(clean)).toBe('connection');
  });

  it('keeps a message given without hosts, and other errors as they are', () => {
    expect((cleanError(new NoHostAvailableError({}, 'No host could be resolved')) as Error).message).toBe('No host could be resolved');
    const e = server(0x2200, 'x');
    expect(cleanError(e)).toBe(e);
  });
});

describe('CassandraSchemaError', () => {
  it('is a schema problem', () => {
    expect(classifyCassandraError(new CassandraSchemaError('table t has no column c'))).toBe('schema');
  });
});
