import { describe, it, expect } from 'vitest';
import { classifySnowflakeError, redactSecret, snowflakeErrorCode } from '../../runtime/connectors/snowflake/errors.ts';

/** A server error as snowflake-sdk raises it: a string code and a SQL state. */
const server = (code: string, sqlState = ''): Error => Object.assign(new Error(`error ${code}`), { name: 'OperationFailedError', code, sqlState });
/** A driver error: a numeric code. */
const driver = (code: number): Error => Object.assign(new Error(`driver ${code}`), { name: 'NetworkError', code });

describe('classifySnowflakeError', () => {
  it.each([
    [driver(401001), 'connection'], [driver(401002), 'connection'], [driver(405503), 'connection'], [driver(407002), 'connection'],
    [server('390111'), 'connection'], [server('390114'), 'connection'], [server('000625'), 'connection'], [server('000630', '57014'), 'connection'],
    [server('999999', '08001'), 'connection'],
    [server('390100', '08004'), 'schema'], [server('390100'), 'schema'], // refused credentials: alert, keep the backlog
    [server('002003', '42S02'), 'schema'], [server('000904', '42000'), 'schema'], [server('000606', '57P03'), 'schema'], [server('003001', '42501'), 'schema'],
    [server('001003', '42000'), 'schema'],
    [server('100038', '22018'), 'record'], [server('100040', '22007'), 'record'], [server('100035', '22007'), 'record'],
    [server('100078', '22000'), 'record'], [server('100072', '22000'), 'record'], [server('100090', '42P18'), 'record'],
    [driver(409008), 'record'],
  ])('%s is %s', (err, kind) => {
    expect(classifySnowflakeError(err)).toBe(kind);
  });

  it('falls back on the SQL state class for codes it does not list', () => {
    expect(classifySnowflakeError(server('123456', '22003'))).toBe('record');
    expect(classifySnowflakeError(server('123456', '40001'))).toBe('connection');
  });

  it('retries a server error it does not list rather than dead-lettering rows by guess', () => {
    expect(classifySnowflakeError(server('002140', '42601'))).toBe('schema'); // by its SQL state's class (42: syntax or access rule)
    expect(classifySnowflakeError(server('002140'))).toBe('connection');
    expect(classifySnowflakeError(server('000123', 'XX000'))).toBe('connection');
    expect(classifySnowflakeError(server('100999'))).toBe('connection'); // a 100xxx code not listed, without a data SQL state
  });

  it('treats errors without a numeric code as connection problems', () => {
    expect(classifySnowflakeError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))).toBe('connection');
    expect(classifySnowflakeError(new Error('timeout'))).toBe('connection');
    expect(classifySnowflakeError(null)).toBe('connection');
  });

  it('reads string and numeric codes', () => {
    expect(snowflakeErrorCode(server('002003'))).toBe(2003);
    expect(snowflakeErrorCode(driver(401001))).toBe(401001);
    expect(snowflakeErrorCode(Object.assign(new Error(), { code: 'ECONNRESET' }))).toBeUndefined();
  });
});

describe('redactSecret', () => {
  it('removes the secret from message and stack, keeping code and SQL state', () => {
    const err = server('390100');
    err.message = 'Incorrect username or password was specified: s3cret';
    const out = redactSecret(err, 's3cret') as Error & { code: string; sqlState: string };
    expect(out.message).toBe('Incorrect username or password was specified: ***');
    expect(out.stack).not.toContain('s3cret');
    expect(out.code).toBe('390100');
  });

  it('replaces an error whose message cannot be changed', () => {
    const out = redactSecret(Object.freeze(Object.assign(new Error('pw s3cret'), { code: '390100', sqlState: '08004' })), 's3cret') as Error & { sqlState: string };
    expect([out.message, out.sqlState]).toEqual(['pw ***', '08004']);
  });
});
