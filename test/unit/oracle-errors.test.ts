import { describe, it, expect } from 'vitest';
import { classifyOracleError, oracleErrorCode, redactSecret } from '../../runtime/connectors/oracle/errors.ts';

/** An error as node-oracledb raises it: `code` set, the code also opening the message. */
const ora = (code: string, text = 'x'): Error => Object.assign(new Error(`${code}: ${text}`), { code });

describe('classifyOracleError', () => {
  it.each([
    ['NJS-500', 'connection'], ['NJS-501', 'connection'], ['NJS-503', 'connection'], ['NJS-003', 'connection'], ['NJS-123', 'connection'],
    ['NJS-510', 'connection'], ['NJS-511', 'connection'], ['NJS-521', 'connection'],
    ['ORA-03113', 'connection'], ['ORA-03135', 'connection'], ['ORA-12514', 'connection'], ['ORA-12541', 'connection'], ['ORA-12170', 'connection'],
    ['ORA-01033', 'connection'], ['ORA-01034', 'connection'], ['ORA-00060', 'connection'], ['ORA-00054', 'connection'],
    ['ORA-01017', 'schema'], ['ORA-28000', 'schema'], ['ORA-28001', 'schema'], ['ORA-00942', 'schema'], ['ORA-00904', 'schema'], ['ORA-01031', 'schema'],
    ['ORA-00001', 'record'], ['ORA-01400', 'record'], ['ORA-01407', 'record'], ['ORA-01438', 'record'], ['ORA-01722', 'record'],
    ['ORA-12899', 'record'], ['ORA-01461', 'record'], ['ORA-01843', 'record'], ['ORA-01861', 'record'], ['ORA-02290', 'record'], ['ORA-02291', 'record'],
    ['ORA-20001', 'record'], ['NJS-011', 'record'], ['NJS-058', 'record'],
  ])('%s is %s', (code, kind) => {
    expect(classifyOracleError(ora(code))).toBe(kind);
  });

  it('reads the code from the message when there is no `code` (thin-mode batch errors)', () => {
    expect(classifyOracleError(Object.assign(new Error('ORA-12899: value too large for column "S"."T"."C"'), { offset: 3 }))).toBe('record');
  });

  it('goes by the wrapping NJS code, not the ORA- code its message carries', () => {
    const err = Object.assign(new Error('NJS-500: connection to Oracle Database was closed or broken\nORA-01722: invalid number'), { code: 'NJS-500' });
    expect(classifyOracleError(err)).toBe('connection');
  });

  it('retries an ORA- or NJS- error it does not list rather than dead-lettering rows by guess', () => {
    expect(classifyOracleError(ora('ORA-04031'))).toBe('connection');
    expect(classifyOracleError(ora('ORA-00600'))).toBe('connection');
    expect(classifyOracleError(ora('NJS-999'))).toBe('connection');
  });

  it('dead-letters only the date errors and constraints that are about a value', () => {
    for (const code of ['ORA-01830', 'ORA-01840', 'ORA-01841', 'ORA-01847', 'ORA-01858', 'ORA-01882', 'ORA-02292', 'ORA-20999']) {
      expect(classifyOracleError(ora(code))).toBe('record');
    }
    // Date-format and DDL errors in the former 01800-01899 and 02290-02299 ranges are retried.
    for (const code of ['ORA-01801', 'ORA-01821', 'ORA-01891', 'ORA-02293', 'ORA-02299']) {
      expect(classifyOracleError(ora(code))).toBe('connection');
    }
  });

  it('treats errors without a code as connection problems', () => {
    expect(classifyOracleError(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }))).toBe('connection');
    expect(classifyOracleError(undefined)).toBe('connection');
    expect(classifyOracleError('boom')).toBe('connection');
  });

  it('parses ORA and NJS codes', () => {
    expect(oracleErrorCode(ora('ORA-00001'))).toEqual({ prefix: 'ORA', num: 1 });
    expect(oracleErrorCode(ora('NJS-500'))).toEqual({ prefix: 'NJS', num: 500 });
    expect(oracleErrorCode(new Error('nothing'))).toBeUndefined();
  });
});

describe('redactSecret', () => {
  it('removes the secret from message and stack, keeping the error and its code', () => {
    const err = Object.assign(new Error('login scott/tiger failed'), { code: 'ORA-01017' });
    const out = redactSecret(err, 'tiger') as Error & { code: string };
    expect(out).toBe(err);
    expect(out.message).toBe('login scott/*** failed');
    expect(out.stack).not.toContain('tiger');
    expect(out.code).toBe('ORA-01017');
  });

  it('replaces an error whose message cannot be changed', () => {
    const err = Object.freeze(Object.assign(new Error('pw=tiger'), { code: 'X' }));
    const out = redactSecret(err, 'tiger') as Error & { code: string };
    expect(out.message).toBe('pw=***');
    expect(out.code).toBe('X');
  });

  it('leaves errors without the secret, and empty secrets, alone', () => {
    const err = new Error('fine');
    expect(redactSecret(err, 'tiger')).toBe(err);
    expect(redactSecret(err, '')).toBe(err);
    expect(redactSecret('a tiger', 'tiger')).toBe('a ***');
  });
});
