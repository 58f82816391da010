import { describe, it, expect } from 'vitest';
import { classifyMysqlError } from '../../runtime/connectors/mysql/errors.ts';

const server = (errno: number, fatal = false) => Object.assign(new Error(`errno ${errno}`), { errno, fatal });

describe('classifyMysqlError', () => {
  it.each([1366, 1406, 1062, 1048, 1264, 1265, 1292, 1451, 1452, 1690, 3819, 4025])('classifies value/constraint errno %i as record', (errno) => {
    expect(classifyMysqlError(server(errno))).toBe('record');
  });

  it.each([1146, 1054, 1064, 1142])('classifies errno %i as schema', (errno) => {
    expect(classifyMysqlError(server(errno))).toBe('schema');
  });

  it.each([1045, 1040, 1213, 1205, 2013, -111, 1114, 1021, 1158, 1159, 1160, 1161, 1317])('classifies errno %i as connection', (errno) => {
    expect(classifyMysqlError(server(errno))).toBe('connection');
  });

  it('retries a server errno it does not list rather than dead-lettering the batch', () => {
    expect(classifyMysqlError(server(1030))).toBe('connection'); // ER_GET_ERRNO: "Got error N from storage engine"
    expect(classifyMysqlError(server(1105))).toBe('connection'); // ER_UNKNOWN_ERROR
    expect(classifyMysqlError(server(1999))).toBe('connection');
    expect(classifyMysqlError(server(4078))).toBe('connection'); // MariaDB: illegal parameter data types, the same for every row
  });

  it('classifies any fatal error as connection', () => {
    expect(classifyMysqlError(server(1366, true))).toBe('connection');
  });

  it('classifies errors without a numeric errno as connection', () => {
    expect(classifyMysqlError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:3306'), { code: 'ECONNREFUSED' }))).toBe('connection');
    expect(classifyMysqlError(Object.assign(new Error('x'), { errno: 'ECONNREFUSED' }))).toBe('connection');
    expect(classifyMysqlError(undefined)).toBe('connection');
    expect(classifyMysqlError(null)).toBe('connection');
  });
});
