import { afterEach, beforeEach, describe, it, expect, vi } from 'vitest';
import { existsSync } from 'node:fs';
// The real snowflake-sdk package: only its createConnection is replaced, per test.
import snowflake, { type Connection, type ConnectionOptions, type StatementOption } from 'snowflake-sdk';
import { SnowflakeConnection, SnowflakeConnector } from '../../recipes/connectors/snowflake.ts';
import { driverFor } from '../../runtime/connectors/drivers.ts';
import { SnowflakeDriver } from '../../runtime/connectors/snowflake/driver.ts';
import type { SnowflakeColumnRow } from '../../runtime/connectors/snowflake/metadata.ts';
import type { WriteBatch } from '../../runtime/connectors/types.ts';

interface Call {
  readonly sql: string;
  readonly binds?: unknown;
  readonly rowMode?: string;
  readonly fetchAsString?: readonly string[];
}

const col = (COLUMN_NAME: string, DATA_TYPE: string, extra: Partial<SnowflakeColumnRow> = {}): SnowflakeColumnRow => ({
  TABLE_SCHEMA: 'PUBLIC', TABLE_NAME: 'PERSONS', COLUMN_NAME, DATA_TYPE, IS_NULLABLE: 'YES', CHARACTER_MAXIMUM_LENGTH: null, NUMERIC_PRECISION: null, NUMERIC_SCALE: null, ...extra,
});

const COLUMNS = [
  col('ID', 'NUMBER', { NUMERIC_PRECISION: 38, NUMERIC_SCALE: 0, IS_NULLABLE: 'NO' }),
  col('NAME', 'TEXT', { CHARACTER_MAXIMUM_LENGTH: 50 }),
  col('ACTIVE', 'BOOLEAN'),
  col('DOC', 'VARIANT'),
  col('PIC', 'BINARY', { CHARACTER_MAXIMUM_LENGTH: 8_388_608 }),
];

/**
 * A recording stand-in for a snowflake-sdk Connection: connect(cb) and execute({complete}) call
 * back later, as the driver does; execute returns a statement object at once.
 */
class FakeConnection {
  readonly calls: Call[] = [];
  readonly lifecycle: string[] = [];
  up = false;
  loginError: Error | undefined;
  /** Errors to raise, by the first word of the statement; `sync` ones are thrown by execute itself. */
  readonly failures = new Map<string, { err: Error; sync?: boolean }>();

  connect(cb: (err: Error | undefined, conn: unknown) => void): this {
    this.lifecycle.push('connect');
    setImmediate(() => {
      this.up = this.loginError === undefined;
      cb(this.loginError, this);
    });
    return this;
  }

  isUp(): boolean {
    return this.up;
  }

  destroy(cb: (err: Error | undefined, conn: unknown) => void): void {
    this.lifecycle.push('destroy');
    this.up = false;
    setImmediate(() => cb(undefined, this));
  }

  execute(o: StatementOption): object {
    const call: Call = { sql: o.sqlText, ...(o.binds ? { binds: o.binds } : {}), ...(o.rowMode ? { rowMode: o.rowMode } : {}), ...(o.fetchAsString ? { fetchAsString: o.fetchAsString } : {}) };
    this.calls.push(call);
    const stmt = { getSqlText: () => o.sqlText };
    const failure = this.failures.get(o.sqlText.split(' ')[0] as string);
    if (failure?.sync) throw failure.err;
    setImmediate(() => {
      const done = o.complete as (err: Error | undefined, stmt: unknown, rows?: unknown[]) => void;
      if (failure) return done(failure.err, stmt);
      done(undefined, stmt, this.rows(o.sqlText));
    });
    return stmt;
  }

  private rows(sql: string): unknown[] {
    if (sql.includes('INFORMATION_SCHEMA.COLUMNS')) return COLUMNS;
    if (sql.startsWith('SHOW PRIMARY KEYS')) return [{ created_on: 'x', table_name: 'PERSONS', column_name: 'ID', key_sequence: 1, constraint_name: 'PK' }];
    if (sql.startsWith('MERGE')) return [{ 'number of rows inserted': 1, 'number of rows updated': 1 }];
    if (sql.startsWith('DELETE')) return [{ 'number of rows deleted': 1 }];
    if (sql.includes(' IN (')) return [['1', 'Ann', 'TRUE', '{"a":1}', 'hi'], ['2', null, 'FALSE', null, null]];
    if (sql.includes(' LIMIT ')) return [['1'], ['2']];
    return [{ status: 'Statement executed successfully.' }];
  }
}

const BATCH: WriteBatch = {
  table: 'persons',
  pkColumn: 'id',
  columns: ['name', 'active', 'doc', 'pic'],
  rows: [
    { op: 'upsert', key: 'p:1', id: '1', acks: ['1-0'], values: ['Ann', true, '{"a":1}', 'hi'], fields: {} },
    { op: 'upsert', key: 'p:2', id: '2', acks: ['2-0'], values: [null, false, null, undefined as unknown as null], fields: {} },
    { op: 'delete', key: 'p:3', id: '3', acks: ['3-0'] },
  ],
};
const SHAPE = { table: BATCH.table, pkColumn: BATCH.pkColumn, columns: BATCH.columns };

const MERGE_SQL =
  'MERGE INTO "PERSONS" t USING (SELECT column1 AS "ID", column2 AS "NAME", column3 AS "ACTIVE", PARSE_JSON(column4) AS "DOC", TO_BINARY(column5, \'UTF-8\') AS "PIC"' +
  ' FROM VALUES (?,?,?,?,?),(?,?,?,?,?)) s ON t."ID" = s."ID"' +
  ' WHEN MATCHED THEN UPDATE SET t."NAME" = s."NAME", t."ACTIVE" = s."ACTIVE", t."DOC" = s."DOC", t."PIC" = s."PIC"' +
  ' WHEN NOT MATCHED THEN INSERT ("ID","NAME","ACTIVE","DOC","PIC") VALUES (s."ID",s."NAME",s."ACTIVE",s."DOC",s."PIC")';
const DELETE_SQL = 'DELETE FROM "PERSONS" t USING (SELECT column1 AS "ID" FROM VALUES (?)) s WHERE t."ID" = s."ID"';

const serverError = (code: string, sqlState: string, message: string): Error => Object.assign(new Error(message), { name: 'OperationFailedError', code, sqlState });

/** The error a promise rejects with (the test fails if it resolves). */
async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

let fakes: FakeConnection[];
let created: ConnectionOptions[];
let passwordReads: number;
/** The next connection createConnection hands out. */
let next: FakeConnection;

function connector(): SnowflakeConnector {
  const conn = new SnowflakeConnection(() => 'SF_USER', () => `pw-${++passwordReads}`, 'myorg-acct/SALES', { warehouse: 'WH' });
  return new SnowflakeConnector(conn, 'persons', 'id');
}

beforeEach(() => {
  fakes = [];
  created = [];
  passwordReads = 0;
  next = new FakeConnection();
  vi.spyOn(snowflake, 'createConnection').mockImplementation((options) => {
    created.push(options as ConnectionOptions);
    const fake = next;
    fakes.push(fake);
    next = new FakeConnection();
    return fake as unknown as Connection;
  });
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe('SnowflakeDriver against the real snowflake-sdk module', () => {
  // First in the file: the driver module configures the SDK on its first connect only.
  it('configures the SDK to log errors only, once, and keeps ./snowflake.log from being written', async () => {
    const configure = vi.spyOn(snowflake, 'configure');
    const driver = new SnowflakeDriver(connector());
    await driver.connect('persons');
    await driver.connect('persons');
    expect(configure.mock.calls).toEqual([[{ logLevel: 'ERROR' }]]);
    expect(existsSync('snowflake.log')).toBe(false);
  });

  it('connects through connect(cb), not connectAsync, and describes the table', async () => {
    const session = await new SnowflakeDriver(connector()).connect('persons');
    expect(created).toEqual([{
      account: 'myorg-acct', username: 'SF_USER', password: 'pw-1', database: 'SALES', schema: 'PUBLIC', warehouse: 'WH', clientSessionKeepAlive: true,
      // Each HTTP request's limit: the longer of --db-connect-timeout-ms and --db-query-timeout-ms (defaults).
      timeout: 30_000,
    }]);
    const [fake] = fakes;
    expect(fake?.lifecycle).toEqual(['connect']);
    expect(fake?.calls).toEqual([
      {
        sql: 'SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, DATA_TYPE, IS_NULLABLE, CHARACTER_MAXIMUM_LENGTH, NUMERIC_PRECISION, NUMERIC_SCALE FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_SCHEMA = CURRENT_SCHEMA() AND UPPER(TABLE_NAME) = UPPER(?) ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION',
        binds: ['persons'],
      },
      { sql: 'SHOW PRIMARY KEYS IN TABLE "PUBLIC"."PERSONS"' },
    ]);
    expect(session.broken).toBe(false);
    expect(session.table.primaryKey).toEqual(['ID']);
    expect(Object.fromEntries([...session.table.columns].map(([k, c]) => [k, [c.name, c.type, c.family]]))).toEqual({
      id: ['ID', 'NUMBER(38,0)', 'integer'],
      name: ['NAME', 'TEXT(50)', 'text'],
      active: ['ACTIVE', 'BOOLEAN', 'boolean'],
      doc: ['DOC', 'VARIANT', 'json'],
      pic: ['PIC', 'BINARY', 'binary'],
    });
  });

  it('writes a batch as BEGIN, one MERGE, one DELETE, COMMIT, then reads it back', async () => {
    const session = await new SnowflakeDriver(connector()).connect('persons');
    const fake = fakes[0] as FakeConnection;
    fake.calls.length = 0;

    await session.write(BATCH);
    expect(fake.calls).toEqual([
      { sql: 'BEGIN' },
      { sql: MERGE_SQL, binds: ['1', 'Ann', true, '{"a":1}', 'hi', '2', null, false, null, null] },
      { sql: DELETE_SQL, binds: ['3'] },
      { sql: 'COMMIT' },
    ]);

    fake.calls.length = 0;
    const rows = await session.readRows(SHAPE, ['1', '2']);
    expect(fake.calls).toEqual([{
      sql: 'SELECT "ID", "NAME", "ACTIVE", "DOC", TO_VARCHAR("PIC", \'UTF-8\') AS "PIC" FROM "PERSONS" WHERE "ID" IN (?, ?)',
      binds: ['1', '2'],
      rowMode: 'array',
      fetchAsString: ['Number', 'Date', 'Boolean', 'JSON', 'Buffer'],
    }]);
    expect(rows).toEqual(new Map([
      ['1', { id: '1', name: 'Ann', active: 'TRUE', doc: '{"a":1}', pic: 'hi' }],
      ['2', { id: '2', name: null, active: 'FALSE', doc: null, pic: null }],
    ]));

    fake.calls.length = 0;
    expect(await session.scanIds(SHAPE, undefined, 2)).toEqual(['1', '2']);
    await session.scanIds(SHAPE, '2', 500);
    expect(fake.calls.map((c) => [c.sql, c.binds])).toEqual([
      ['SELECT "ID" FROM "PERSONS" ORDER BY "ID" LIMIT 2', undefined],
      ['SELECT "ID" FROM "PERSONS" WHERE "ID" > ? ORDER BY "ID" LIMIT 500', ['2']],
    ]);
  });

  it('rolls back a failed write and never commits it; a refused value is a record error', async () => {
    const driver = new SnowflakeDriver(connector());
    const session = await driver.connect('persons');
    const fake = fakes[0] as FakeConnection;
    fake.calls.length = 0;
    const refused = serverError('100038', '22018', "Numeric value 'abc' is not recognized");
    fake.failures.set('MERGE', { err: refused });

    await expect(session.write(BATCH)).rejects.toBe(refused);
    expect(fake.calls.map((c) => c.sql.split(' ')[0])).toEqual(['BEGIN', 'MERGE', 'ROLLBACK']);
    expect(driver.classify(refused)).toBe('record');
    expect(session.broken).toBe(false);
  });

  it('rolls back when execute throws synchronously too', async () => {
    const session = await new SnowflakeDriver(connector()).connect('persons');
    const fake = fakes[0] as FakeConnection;
    fake.calls.length = 0;
    fake.failures.set('DELETE', { err: Object.assign(new Error('Invalid bind values'), { code: 409008 }), sync: true });
    await expect(session.write(BATCH)).rejects.toThrow('Invalid bind values');
    expect(fake.calls.map((c) => c.sql.split(' ')[0])).toEqual(['BEGIN', 'MERGE', 'DELETE', 'ROLLBACK']);
  });

  it('is broken after a connection error, or once the session is down', async () => {
    const session = await new SnowflakeDriver(connector()).connect('persons');
    const fake = fakes[0] as FakeConnection;
    fake.failures.set('COMMIT', { err: Object.assign(new Error('Network error. Could not reach Snowflake.'), { name: 'NetworkError', code: 401001 }) });
    await expect(session.write(BATCH)).rejects.toThrow('Network error');
    expect(session.broken).toBe(true);

    const other = await new SnowflakeDriver(connector()).connect('persons');
    expect(other.broken).toBe(false);
    (fakes[1] as FakeConnection).up = false;
    expect(other.broken).toBe(true);
  });

  it('destroys the connection on close', async () => {
    const session = await new SnowflakeDriver(connector()).connect('persons');
    await session.close();
    expect(fakes[0]?.lifecycle).toEqual(['connect', 'destroy']);
    expect(session.broken).toBe(true);
  });

  it('creates a new connection and reads the credentials again at every connect', async () => {
    const driver = new SnowflakeDriver(connector());
    await driver.connect('persons');
    await driver.connect('persons');
    expect(passwordReads).toBe(2);
    expect(created.map((o) => o.password)).toEqual(['pw-1', 'pw-2']);
    expect(fakes.length).toBe(2);
  });

  it('fails a refused login with the password redacted, and destroys the connection', async () => {
    next.loginError = serverError('390100', '08004', 'Incorrect username or password was specified (pw-1).');
    const driver = new SnowflakeDriver(connector());
    const err = await failure(driver.connect('persons'));
    expect(err.message).toBe('Incorrect username or password was specified (***).');
    expect(err.stack).not.toContain('pw-1');
    expect(driver.classify(err)).toBe('schema');
    expect(fakes[0]?.lifecycle).toEqual(['connect', 'destroy']);

    // A write error carries only the server's message.
    const session = await driver.connect('persons');
    (fakes[1] as FakeConnection).failures.set('MERGE', { err: serverError('100078', '22000', "String 'x' is too long and would be truncated") });
    const err2 = await failure(session.write(BATCH));
    expect(err2.message).not.toMatch(/pw-/);
  });

  it('describes a missing table as absent, without asking for its key', async () => {
    next.execute = function (this: FakeConnection, o: StatementOption) {
      this.calls.push({ sql: o.sqlText });
      setImmediate(() => (o.complete as (e: undefined, s: object, r: unknown[]) => void)(undefined, {}, []));
      return {};
    };
    const session = await new SnowflakeDriver(connector()).connect('persons');
    expect(session.table).toEqual({ exists: false, columns: new Map(), primaryKey: [] });
    expect(fakes[0]?.calls.map((c) => c.sql.split(' ')[0])).toEqual(['SELECT']);
  });

  it('is what drivers.ts loads for a snowflake connector', async () => {
    const driver = driverFor(connector());
    expect(driver.describe()).toBe('snowflake myorg-acct/SALES/PUBLIC table persons');
    const session = await driver.connect('persons');
    expect(session.table.primaryKey).toEqual(['ID']);
    expect(driver.classify(serverError('002003', '42S02', 'does not exist'))).toBe('schema');
  });
});
