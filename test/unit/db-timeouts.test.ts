import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { pino } from 'pino';
import oracledb, { type Connection as OracleConnectionHandle } from 'oracledb';
import snowflake, { type Connection as SnowflakeConnectionHandle } from 'snowflake-sdk';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MySqlConnection, MySqlConnector } from '../../recipes/connectors/mysql.ts';
import { OracleConnection, OracleConnector } from '../../recipes/connectors/oracle.ts';
import { PostgresConnection, PostgresConnector } from '../../recipes/connectors/postgres.ts';
import { SnowflakeConnection, SnowflakeConnector } from '../../recipes/connectors/snowflake.ts';
import { MySqlDriver } from '../../runtime/connectors/mysql/driver.ts';
import { OracleDriver } from '../../runtime/connectors/oracle/driver.ts';
import { SnowflakeDriver } from '../../runtime/connectors/snowflake/driver.ts';
import { PostgresDriver } from '../../runtime/connectors/postgres/driver.ts';
import { NoAnswerError, seconds, serverStatementTimeoutMs, wholeSeconds, withDeadline } from '../../runtime/connectors/timeouts.ts';
import type { ConnectorDriver, ConnectorSession, DbTimeouts } from '../../runtime/connectors/types.ts';
import { TableWriter } from '../../runtime/writer/table-writer.ts';

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

/** The error a promise rejects with (the test fails if it resolves). */
async function failure(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

describe('withDeadline', () => {
  it('settles as the work does when it is in time, and destroys nothing', async () => {
    const expire = vi.fn();
    await expect(withDeadline(1000, async () => 'rows', { expire })).resolves.toBe('rows');
    const refused = new Error('refused');
    await expect(withDeadline(1000, async () => { throw refused; }, { expire })).rejects.toBe(refused);
    // A work that throws before returning its promise is a rejection too.
    await expect(withDeadline(1000, () => { throw refused; }, { expire })).rejects.toBe(refused);
    expect(expire).not.toHaveBeenCalled();
  });

  it('rejects with NoAnswerError after the limit, destroying the connection first', async () => {
    vi.useFakeTimers();
    const order: string[] = [];
    const p = withDeadline(30_000, () => new Promise<never>(() => undefined), { expire: () => order.push('expire') });
    const err = failure(p).then((e) => { order.push('rejected'); return e; });
    await vi.advanceTimersByTimeAsync(29_999);
    expect(order).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    const e = await err;
    expect(e).toBeInstanceOf(NoAnswerError);
    expect((e as NoAnswerError).message).toBe('no answer within 30 s');
    expect((e as NoAnswerError).timeoutMs).toBe(30_000);
    expect(order).toEqual(['expire', 'rejected']);
  });

  it('is armed before the work starts: a driver timeout of the same length loses, and its late error is swallowed', async () => {
    vi.useFakeTimers();
    const driverTimeout = new Error('connect ETIMEDOUT');
    const p = withDeadline(2000, () => new Promise<never>((_, reject) => setTimeout(() => reject(driverTimeout), 2000)));
    const err = failure(p);
    await vi.advanceTimersByTimeAsync(2000);
    expect(await err).toBeInstanceOf(NoAnswerError);
  });

  it('hands what completes too late to `late` (a connection to close), once', async () => {
    vi.useFakeTimers();
    const late = vi.fn();
    const p = withDeadline(100, () => new Promise<string>((resolve) => setTimeout(() => resolve('conn'), 500)), { late });
    const err = failure(p);
    await vi.advanceTimersByTimeAsync(100);
    expect(await err).toBeInstanceOf(NoAnswerError);
    expect(late).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(400);
    expect(late).toHaveBeenCalledTimes(1);
    expect(late).toHaveBeenCalledWith('conn');
  });

  it('survives an expire that throws (the connection was already gone)', async () => {
    vi.useFakeTimers();
    const err = failure(withDeadline(10, () => new Promise<never>(() => undefined), { expire: () => { throw new Error('already closed'); } }));
    await vi.advanceTimersByTimeAsync(10);
    expect(await err).toBeInstanceOf(NoAnswerError);
  });
});

describe('limits in messages and for the server', () => {
  it('reads in seconds', () => {
    expect(seconds(30_000)).toBe('30 s');
    expect(seconds(2000)).toBe('2 s');
    expect(seconds(2500)).toBe('2.5 s');
    expect(seconds(1)).toBe('0.001 s');
  });

  it('puts the server-side statement timeout a little below the client-side one', () => {
    expect(serverStatementTimeoutMs(30_000)).toBe(29_000);
    expect(serverStatementTimeoutMs(2000)).toBe(1800);
    expect(serverStatementTimeoutMs(120_000)).toBe(119_000);
    expect(serverStatementTimeoutMs(5)).toBe(5);
  });

  it('rounds up to whole seconds for drivers that take seconds', () => {
    expect(wholeSeconds(10_000)).toBe(10);
    expect(wholeSeconds(2500)).toBe(3);
    expect(wholeSeconds(10)).toBe(1);
  });
});

/** A server that accepts connections and never says a word (a database whose host froze). */
async function silentServer(): Promise<{ port: number; sockets: Socket[]; server: Server }> {
  const sockets: Socket[] = [];
  const server = createServer((s) => {
    s.on('error', () => undefined);
    s.resume(); // reads (and ignores) what the client sends, so its close is seen
    sockets.push(s);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return { port: (server.address() as AddressInfo).port, sockets, server };
}

const SHORT: DbTimeouts = { connectTimeoutMs: 300, queryTimeoutMs: 300 };

describe.each([
  ['mysql', (port: number) => new MySqlDriver(new MySqlConnector(new MySqlConnection('u', 'p', `127.0.0.1:${port}/db`), 't', 'id'))],
  ['postgres', (port: number) => new PostgresDriver(new PostgresConnector(new PostgresConnection('u', 'p', `127.0.0.1:${port}/db`), 't', 'id'))],
] as const)('%s: a connect that gets no answer', (_name, make) => {
  it('fails with NoAnswerError after the connect timeout and closes its socket', async () => {
    const silent = await silentServer();
    try {
      const started = performance.now();
      const err = await failure(make(silent.port).connect('t', SHORT));
      const took = performance.now() - started;
      expect(err).toBeInstanceOf(NoAnswerError);
      expect((err as Error).message).toBe('no answer within 0.3 s');
      expect(took).toBeGreaterThanOrEqual(290);
      expect(took).toBeLessThan(2000);
      // The attempt's socket is gone (not left open on the frozen peer).
      await vi.waitFor(() => expect(silent.sockets.every((s) => s.closed)).toBe(true), { timeout: 2000 });
      expect(silent.sockets.length).toBe(1);
    } finally {
      silent.sockets.forEach((s) => s.destroy());
      silent.server.close();
    }
  });
});

// Oracle and Snowflake have no server here: their clients are replaced by stand-ins that never answer.
describe('oracle: calls that get no answer', () => {
  const driver = (): OracleDriver => new OracleDriver(new OracleConnector(new OracleConnection('scott', 'tiger', 'dbhost:1521/FREEPDB1'), 'persons', 'id'));

  it('gives up on a connect after the connect timeout and closes a connection that completes late', async () => {
    const close = vi.fn(async () => undefined);
    let complete: ((c: OracleConnectionHandle) => void) | undefined;
    vi.spyOn(oracledb, 'getConnection').mockImplementation(() => new Promise((resolve) => { complete = resolve; }));
    const err = await failure(driver().connect('persons', SHORT));
    expect(err).toBeInstanceOf(NoAnswerError);
    complete?.({ close } as unknown as OracleConnectionHandle);
    await vi.waitFor(() => expect(close).toHaveBeenCalledTimes(1));
  });

  it('gives up on the session set-up after the query timeout, closing the connection; callTimeout is the query limit', async () => {
    const fake = { callTimeout: 0, execute: () => new Promise(() => undefined), close: vi.fn(async () => undefined) };
    vi.spyOn(oracledb, 'getConnection').mockResolvedValue(fake as unknown as OracleConnectionHandle);
    const err = await failure(driver().connect('persons', SHORT));
    expect(err).toBeInstanceOf(NoAnswerError);
    expect(fake.callTimeout).toBe(300);
    expect(fake.close).toHaveBeenCalled();
  });
});

describe('snowflake: a login that gets no answer', () => {
  it('gives up after the connect timeout and destroys the connection', async () => {
    const fake = { connect: () => undefined, destroy: vi.fn((cb: () => void) => cb()), isUp: () => false };
    vi.spyOn(snowflake, 'createConnection').mockReturnValue(fake as unknown as SnowflakeConnectionHandle);
    const driver = new SnowflakeDriver(new SnowflakeConnector(new SnowflakeConnection('u', 'p', 'myorg-acct/SALES'), 'persons', 'id'));
    const err = await failure(driver.connect('persons', SHORT));
    expect(err).toBeInstanceOf(NoAnswerError);
    expect(fake.destroy).toHaveBeenCalled();
  });
});

/** A driver whose sessions' writes fail with `fail()`, counting connects and closes. */
function fakeDriver(fail: () => unknown): ConnectorDriver & { connects: DbTimeouts[]; closes: number } {
  const table = { exists: true, primaryKey: ['id'], columns: new Map([['id', { name: 'id', type: 'text', family: 'text' as const }], ['a', { name: 'a', type: 'text', family: 'text' as const }]]) };
  let failed = false;
  const d = {
    connects: [] as DbTimeouts[],
    closes: 0,
    describe: () => 'fake db',
    // A refusal is what this driver would say of any error: NoAnswerError must not reach it.
    classify: () => 'record' as const,
    connect: async (_t: string, timeouts?: DbTimeouts): Promise<ConnectorSession> => {
      d.connects.push(timeouts as DbTimeouts);
      return {
        table,
        broken: false,
        write: async () => {
          if (!failed) {
            failed = true;
            throw fail();
          }
        },
        readRows: async () => new Map(),
        scanIds: async () => [],
        close: async () => void d.closes++,
      };
    },
  };
  return d;
}

describe('TableWriter and a call that got no answer', () => {
  it('passes the timeouts to connect, drops the session, reports the timeout, retries, and dead-letters nothing', async () => {
    const driver = fakeDriver(() => new NoAnswerError(30_000));
    const reports: Array<string | undefined> = [];
    const timeouts = { connectTimeoutMs: 1234, queryTimeoutMs: 5678 };
    const writer = new TableWriter(driver, ['a'], ['a'], pino({ level: 'silent' }), (m) => reports.push(m), new AbortController().signal, { minMs: 1, maxMs: 1 }, { timeouts });
    const dead = await writer.write({ table: 't', pkColumn: 'id', columns: ['a'] }, [{ op: 'upsert', key: 'k:1', id: '1', acks: ['1-0'], values: ['x'], fields: {} }]);
    expect(dead).toEqual([]);
    expect(reports).toEqual(['fake db: write failed: no answer within 30 s', undefined]);
    expect(driver.connects).toEqual([timeouts, timeouts]);
    expect(driver.closes).toBe(1);
  });
});
