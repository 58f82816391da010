import { describe, it, expect } from 'vitest';
import { DatabaseError } from 'pg';
import { classifyPgError, pgErrorColumn } from '../../runtime/connectors/postgres/errors.ts';

const server = (code: string, column?: string): DatabaseError => {
  const e = new DatabaseError(`sqlstate ${code}`, 0, 'error');
  e.code = code;
  e.column = column;
  return e;
};

describe('classifyPgError', () => {
  it.each(['08006', '08001', '57P01', '57P03', '57014', '53300', '53100', '40001', '40P01', '28000', '28P01', '3D000', '25006', '55P03', '58030', 'XX000'])(
    'classifies SQLSTATE %s as connection', (code) => {
      expect(classifyPgError(server(code))).toBe('connection');
    });

  it.each(['42P01', '42703', '42501', '42601', '42P10', '3F000', '0A000'])('classifies SQLSTATE %s as schema', (code) => {
    expect(classifyPgError(server(code))).toBe('schema');
  });

  it.each(['22001', '22003', '22P02', '22007', '23502', '23505', '23503', '23514', '21000', '40002', '54000', '27000', '44000', 'P0001'])(
    'classifies SQLSTATE %s as record', (code) => {
      expect(classifyPgError(server(code))).toBe('record');
    });

  it('classifies errors without a SQLSTATE as connection', () => {
    expect(classifyPgError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }))).toBe('connection');
    expect(classifyPgError(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }))).toBe('connection');
    expect(classifyPgError(new Error('Connection terminated unexpectedly'))).toBe('connection');
    expect(classifyPgError(new Error('Client was closed and is not queryable'))).toBe('connection');
    expect(classifyPgError(undefined)).toBe('connection');
    expect(classifyPgError(null)).toBe('connection');
  });

  it('retries an unknown SQLSTATE rather than dead-lettering the batch', () => {
    expect(classifyPgError(server('HV000'))).toBe('connection');
    expect(classifyPgError(server('ZZ999'))).toBe('connection');
  });

  it('dead-letters what a PL/pgSQL trigger raises (RAISE, ASSERT), not its other errors', () => {
    expect(classifyPgError(server('P0001'))).toBe('record');
    expect(classifyPgError(server('P0004'))).toBe('record');
    expect(classifyPgError(server('P0000'))).toBe('connection');
    expect(classifyPgError(server('P0002'))).toBe('connection');
  });
});

describe('pgErrorColumn', () => {
  it('returns the column the server names', () => {
    expect(pgErrorColumn(server('23502', 'first'))).toBe('first');
    expect(pgErrorColumn(server('22001'))).toBeUndefined();
    expect(pgErrorColumn(Object.assign(new Error('x'), { column: '' }))).toBeUndefined();
    expect(pgErrorColumn(undefined)).toBeUndefined();
  });
});
