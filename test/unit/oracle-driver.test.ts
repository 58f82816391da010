import { afterEach, beforeEach, describe, it, expect, vi } from 'vitest';
// The real node-oracledb package: only its getConnection is replaced, per test.
import oracledb, { type Connection, type ConnectionAttributes, type ExecuteOptions, type Metadata } from 'oracledb';
import { OracleConnection, OracleConnector } from '../../recipes/connectors/oracle.ts';
import { driverFor } from '../../runtime/connectors/drivers.ts';
import { OracleDriver } from '../../runtime/connectors/oracle/driver.ts';
import { TableWriter } from '../../runtime/writer/table-writer.ts';
import { pino } from 'pino';
import type { OracleColumnRow } from '../../runtime/connectors/oracle/metadata.ts';
import type { WriteBatch } from '../../runtime/connectors/types.ts';

interface Call {
  readonly method: 'execute' | 'executeMany' | 'commit' | 'rollback' | 'close';
  readonly sql?: string;
  readonly binds?: unknown;
  readonly options?: ExecuteOptions;
}

const col = (COLUMN_NAME: string, DATA_TYPE: string, extra: Partial<OracleColumnRow> = {}): OracleColumnRow => ({
  OWNER: 'SCOTT', TABLE_NAME: 'PERSONS', COLUMN_NAME, DATA_TYPE, DATA_LENGTH: 22, CHAR_LENGTH: 0, DATA_PRECISION: null, DATA_SCALE: null, NULLABLE: 'Y', ...extra,
});

const COLUMNS = [
  col('ID', 'NUMBER', { DATA_PRECISION: 10, DATA_SCALE: 0, NULLABLE: 'N' }),
  col('NAME', 'VARCHAR2', { DATA_LENGTH: 200, CHAR_LENGTH: 50 }),
  col('SCORE', 'NUMBER', { DATA_PRECISION: 5, DATA_SCALE: 2 }),
  col('BORN', 'DATE', { DATA_LENGTH: 7 }),
  col('BIO', 'CLOB', { DATA_LENGTH: 4000 }),
];

/** A recording stand-in for a node-oracledb Connection, answering the driver's queries. */
class FakeConnection {
  readonly calls: Call[] = [];
  callTimeout = 0;
  columns: OracleColumnRow[] = COLUMNS;
  /** Errors to raise, by the first words of the statement (or method). */
  readonly failures = new Map<string, Error>();
  /** A row the database refuses, as a failing executeMany call (no batchErrors). */
  refuse: ((row: unknown[]) => Error | undefined) | undefined;

  private fail(key: string): void {
    const err = this.failures.get(key);
    if (err) throw err;
  }

  async execute(sql: string, binds?: unknown, options?: ExecuteOptions): Promise<unknown> {
    this.calls.push({ method: 'execute', sql, binds, options });
    if (sql.includes('ALL_TAB_COLUMNS')) {
      this.fail('ALL_TAB_COLUMNS');
      return { rows: this.columns };
    }
    if (sql.includes('ALL_CONSTRAINTS')) return { rows: [{ COLUMN_NAME: 'ID' }] };
    if (sql.includes(' IN (')) return { rows: [['1', 'Ann', '1.5', '2024-01-02 03:04:05', Buffer.from('bio')], ['2', null, '-3', '2024-01-02 00:00:00', null]] };
    if (sql.includes('FETCH FIRST')) return { rows: [['1'], ['2']] };
    return {};
  }

  async executeMany(sql: string, binds: unknown[][], options?: ExecuteOptions): Promise<unknown> {
    this.calls.push({ method: 'executeMany', sql, binds, options });
    this.fail(sql.split(' ')[0] as string);
    for (const row of binds) {
      const err = this.refuse?.(row);
      if (err) throw err;
    }
    return { rowsAffected: binds.length };
  }

  async commit(): Promise<void> {
    this.calls.push({ method: 'commit' });
  }

  async rollback(): Promise<void> {
    this.calls.push({ method: 'rollback' });
    this.fail('rollback');
  }

  async close(): Promise<void> {
    this.calls.push({ method: 'close' });
  }
}

const ORA_12899 = (): Error => Object.assign(new Error('ORA-12899: value too large for column "SCOTT"."PERSONS"."NAME" (actual: 60, maximum: 50)'), { code: 'ORA-12899', errorNum: 12899 });
const NJS_500 = (): Error => Object.assign(new Error('NJS-500: connection to Oracle Database was closed or broken'), { code: 'NJS-500' });

const BATCH: WriteBatch = {
  table: 'persons',
  pkColumn: 'id',
  columns: ['name', 'score', 'born', 'bio'],
  rows: [
    { op: 'upsert', key: 'p:1', id: '1', acks: ['1-0'], values: ['Ann', '1.5', '2024-01-02T03:04:05', 'bio'], fields: {} },
    { op: 'upsert', key: 'p:2', id: '2', acks: ['2-0'], values: [null, '-3', '2024-01-02', null], fields: {} },
    { op: 'delete', key: 'p:3', id: '3', acks: ['3-0'] },
  ],
};
const SHAPE = { table: BATCH.table, pkColumn: BATCH.pkColumn, columns: BATCH.columns };

const MERGE_SQL =
  'MERGE INTO "PERSONS" t USING (SELECT :1 "ID", :2 "NAME", :3 "SCORE", :4 "BORN", :5 "BIO" FROM dual) s ON (t."ID"=s."ID")' +
  ' WHEN MATCHED THEN UPDATE SET t."NAME"=s."NAME", t."SCORE"=s."SCORE", t."BORN"=s."BORN", t."BIO"=s."BIO"' +
  ' WHEN NOT MATCHED THEN INSERT ("ID","NAME","SCORE","BORN","BIO") VALUES (s."ID",s."NAME",s."SCORE",s."BORN",s."BIO")';

/** The error a promise rejects with (the test fails if it resolves). */
async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

let fake: FakeConnection;
let attempts: ConnectionAttributes[];
let passwordReads: number;

/** A connector whose password is a function, counting its reads (as a rotated secret would be). */
function connector(table = 'persons'): OracleConnector {
  return new OracleConnector(new OracleConnection('scott', () => `tiger-${++passwordReads}`, 'dbhost:1521/FREEPDB1'), table, 'id');
}

beforeEach(() => {
  fake = new FakeConnection();
  attempts = [];
  passwordReads = 0;
  vi.spyOn(oracledb, 'getConnection').mockImplementation(async (attrs) => {
    attempts.push(attrs);
    return fake as unknown as Connection;
  });
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe('OracleDriver against the real oracledb module', () => {
  it('replaces only getConnection and restores it', () => {
    expect(vi.isMockFunction(oracledb.getConnection)).toBe(true);
    vi.restoreAllMocks();
    expect(vi.isMockFunction(oracledb.getConnection)).toBe(false);
    expect(oracledb.OUT_FORMAT_OBJECT).toBe(4002);
  });

  it('connects, sets the session formats and describes the table', async () => {
    const session = await new OracleDriver(connector()).connect('persons');
    expect(attempts).toEqual([{ user: 'scott', password: 'tiger-1', connectString: 'dbhost:1521/FREEPDB1', connectTimeout: 10, transportConnectTimeout: 10 }]);
    // The defaults of --db-connect-timeout-ms (10 s, in whole seconds here) and --db-query-timeout-ms.
    expect(fake.callTimeout).toBe(30_000);
    expect(fake.calls).toEqual([
      {
        method: 'execute',
        sql: "ALTER SESSION SET NLS_NUMERIC_CHARACTERS='.,' NLS_DATE_FORMAT='YYYY-MM-DD HH24:MI:SS' NLS_TIMESTAMP_FORMAT='YYYY-MM-DD HH24:MI:SS.FF' NLS_TIMESTAMP_TZ_FORMAT='YYYY-MM-DD HH24:MI:SS.FF TZH:TZM' NLS_SORT='BINARY' NLS_COMP='BINARY'",
        binds: undefined,
        options: undefined,
      },
      {
        method: 'execute',
        sql: "SELECT OWNER, TABLE_NAME, COLUMN_NAME, DATA_TYPE, DATA_LENGTH, CHAR_LENGTH, DATA_PRECISION, DATA_SCALE, NULLABLE FROM ALL_TAB_COLUMNS WHERE OWNER = SYS_CONTEXT('USERENV','CURRENT_SCHEMA') AND UPPER(TABLE_NAME) = UPPER(:1) ORDER BY OWNER, TABLE_NAME, COLUMN_ID",
        binds: ['persons'],
        options: { outFormat: oracledb.OUT_FORMAT_OBJECT },
      },
      {
        method: 'execute',
        sql: "SELECT cc.COLUMN_NAME FROM ALL_CONSTRAINTS c JOIN ALL_CONS_COLUMNS cc ON cc.OWNER = c.OWNER AND cc.CONSTRAINT_NAME = c.CONSTRAINT_NAME WHERE c.CONSTRAINT_TYPE = 'P' AND c.OWNER = :1 AND c.TABLE_NAME = :2 ORDER BY cc.POSITION",
        binds: ['SCOTT', 'PERSONS'],
        options: { outFormat: oracledb.OUT_FORMAT_OBJECT },
      },
    ]);
    expect(session.broken).toBe(false);
    expect(session.table.exists).toBe(true);
    expect(session.table.primaryKey).toEqual(['ID']);
    expect(Object.fromEntries([...session.table.columns].map(([k, c]) => [k, [c.name, c.type, c.family, c.maxLength]]))).toEqual({
      id: ['ID', 'NUMBER(10,0)', 'integer', undefined],
      name: ['NAME', 'VARCHAR2(50)', 'text', 50],
      score: ['SCORE', 'NUMBER(5,2)', 'decimal', undefined],
      born: ['BORN', 'DATE', 'timestamp', undefined],
      bio: ['BIO', 'CLOB', 'text', undefined],
    });
    expect(session.table.columns.get('id')?.max).toBe(9_999_999_999n);
  });

  it('writes a batch as executeMany MERGE + executeMany DELETE in one transaction, then reads it back', async () => {
    const driver = new OracleDriver(connector());
    const session = await driver.connect('persons');
    fake.calls.length = 0;

    await session.write(BATCH);
    expect(fake.calls).toEqual([
      {
        method: 'executeMany',
        sql: MERGE_SQL,
        binds: [['1', 'Ann', '1.5', '2024-01-02 03:04:05', 'bio'], ['2', null, '-3', '2024-01-02', null]],
        options: {
          autoCommit: false,
          bindDefs: [
            { type: oracledb.DB_TYPE_VARCHAR, maxSize: 1 },
            { type: oracledb.DB_TYPE_VARCHAR, maxSize: 3 },
            { type: oracledb.DB_TYPE_VARCHAR, maxSize: 3 },
            { type: oracledb.DB_TYPE_VARCHAR, maxSize: 19 },
            { type: oracledb.DB_TYPE_CLOB },
          ],
        },
      },
      {
        method: 'executeMany',
        sql: 'DELETE FROM "PERSONS" WHERE "ID"=:1',
        binds: [['3']],
        options: { autoCommit: false, bindDefs: [{ type: oracledb.DB_TYPE_VARCHAR, maxSize: 1 }] },
      },
      { method: 'commit' },
    ]);

    fake.calls.length = 0;
    const rows = await session.readRows(SHAPE, ['1', '2']);
    const [read] = fake.calls;
    expect(read?.sql).toBe('SELECT "ID", "NAME", "SCORE", "BORN", "BIO" FROM "PERSONS" WHERE "ID" IN (:1, :2)');
    expect(read?.binds).toEqual(['1', '2']);
    expect(read?.options?.outFormat).toBe(oracledb.OUT_FORMAT_ARRAY);
    // Values are fetched as text (the server formats them with the session's NLS), bytes as bytes.
    const handler = read?.options?.fetchTypeHandler as (m: Metadata) => unknown;
    expect(handler({ name: 'SCORE', dbType: oracledb.DB_TYPE_NUMBER })).toEqual({ type: oracledb.STRING });
    expect(handler({ name: 'PIC', dbType: oracledb.DB_TYPE_BLOB })).toEqual({ type: oracledb.BUFFER });
    expect(rows).toEqual(new Map([
      ['1', { id: '1', name: 'Ann', score: '1.5', born: '2024-01-02 03:04:05', bio: 'bio' }],
      ['2', { id: '2', name: null, score: '-3', born: '2024-01-02 00:00:00', bio: null }],
    ]));

    fake.calls.length = 0;
    expect(await session.scanIds(SHAPE, undefined, 2)).toEqual(['1', '2']);
    await session.scanIds(SHAPE, '2', 500);
    expect(fake.calls.map((c) => [c.sql, c.binds])).toEqual([
      ['SELECT "ID" FROM "PERSONS" ORDER BY "ID" FETCH FIRST 2 ROWS ONLY', []],
      ['SELECT "ID" FROM "PERSONS" WHERE "ID" > :1 ORDER BY "ID" FETCH FIRST 500 ROWS ONLY', ['2']],
    ]);
  });

  it('rolls back a failed write, never commits it, and sorts a refused value as a record error naming its column', async () => {
    const driver = new OracleDriver(connector());
    const session = await driver.connect('persons');
    fake.calls.length = 0;
    const refused = ORA_12899();
    fake.failures.set('MERGE', refused);

    await expect(session.write(BATCH)).rejects.toBe(refused);
    expect(fake.calls.map((c) => c.method)).toEqual(['executeMany', 'rollback']);
    expect(driver.classify(refused)).toBe('record');
    expect(driver.columnOf(refused)).toBe('NAME');
    expect(session.broken).toBe(false);
  });

  it('marks the session broken on a connection error, and on a failed rollback', async () => {
    const session = await new OracleDriver(connector()).connect('persons');
    fake.failures.set('DELETE', NJS_500());
    await expect(session.write(BATCH)).rejects.toThrow('NJS-500');
    expect(session.broken).toBe(true);

    const other = await new OracleDriver(connector()).connect('persons');
    fake.failures.clear();
    fake.failures.set('MERGE', ORA_12899());
    fake.failures.set('rollback', NJS_500());
    await expect(other.write(BATCH)).rejects.toThrow('ORA-12899');
    expect(other.broken).toBe(true);
  });

  it('closes the connection', async () => {
    const session = await new OracleDriver(connector()).connect('persons');
    fake.calls.length = 0;
    await session.close();
    expect(fake.calls).toEqual([{ method: 'close' }]);
    expect(session.broken).toBe(true);
  });

  it('reads the credentials again at every connect', async () => {
    const driver = new OracleDriver(connector());
    await driver.connect('persons');
    await driver.connect('persons');
    expect(passwordReads).toBe(2);
    expect(attempts.map((a) => a.password)).toEqual(['tiger-1', 'tiger-2']);
  });

  it('never lets the password into an error message', async () => {
    vi.mocked(oracledb.getConnection).mockImplementation(async (attrs) => {
      throw Object.assign(new Error(`ORA-01017: invalid credential or not authorized; logon denied (${attrs.user}/${attrs.password})`), { code: 'ORA-01017' });
    });
    const driver = new OracleDriver(connector());
    const err = await failure(driver.connect('persons'));
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toBe('ORA-01017: invalid credential or not authorized; logon denied (scott/***)');
    expect(err.stack).not.toContain('tiger-1');
    expect(driver.classify(err)).toBe('schema');

    // After connecting, a failing describe closes the connection and is redacted too.
    vi.mocked(oracledb.getConnection).mockImplementation(async () => fake as unknown as Connection);
    fake.failures.set('ALL_TAB_COLUMNS', new Error('ORA-00942: table or view does not exist (tiger-2)'));
    const err2 = await failure(driver.connect('persons'));
    expect(err2.message).toBe('ORA-00942: table or view does not exist (***)');
    expect(fake.calls.at(-1)).toEqual({ method: 'close' });

    // And a write error carries only the database's message.
    fake.failures.clear();
    const session = await driver.connect('persons');
    fake.failures.set('MERGE', ORA_12899());
    const err3 = await failure(session.write(BATCH));
    expect(err3.message).not.toMatch(/tiger/);
  });

  it('resolves an owner-qualified, lower-case table name to the dictionary spelling', async () => {
    const session = await new OracleDriver(connector('scott.persons')).connect('scott.persons');
    expect(fake.calls[1]?.binds).toEqual(['scott', 'persons']);
    fake.calls.length = 0;
    await session.write({ ...BATCH, table: 'scott.persons', rows: [BATCH.rows[2] as WriteBatch['rows'][number]] });
    expect(fake.calls[0]?.sql).toBe('DELETE FROM "SCOTT"."PERSONS" WHERE "ID"=:1');
  });

  it('describes a missing table as absent, without asking for its key', async () => {
    fake.columns = [];
    const session = await new OracleDriver(connector()).connect('persons');
    expect(session.table).toEqual({ exists: false, columns: new Map(), primaryKey: [] });
    expect(fake.calls.filter((c) => c.sql?.includes('ALL_CONSTRAINTS'))).toEqual([]);
  });

  it('is what drivers.ts loads for an oracle connector', async () => {
    const c = connector();
    const driver = driverFor(c);
    expect(driver.describe()).toBe('oracle dbhost:1521/FREEPDB1 table persons');
    const session = await driver.connect('persons');
    expect(session.table.primaryKey).toEqual(['ID']);
    expect(driver.classify(ORA_12899())).toBe('record');
    expect(driver.columnOf?.(ORA_12899())).toBe('NAME');
  });

  it('lets TableWriter convert values, bisect a refused row out and dead-letter only it', async () => {
    // A value the conversion lets through but the table refuses: a check constraint (score >= 0).
    const ORA_02290 = Object.assign(new Error('ORA-02290: check constraint (APP.SCORE_POSITIVE) violated'), { code: 'ORA-02290' });
    fake.refuse = (row) => (row[2] === '-1' ? ORA_02290 : undefined);
    const fields = ['name', 'score', 'born', 'bio'];
    const writer = new TableWriter(driverFor(connector()), SHAPE.columns, fields, pino({ level: 'silent' }), () => undefined, new AbortController().signal, { minMs: 1, maxMs: 1 });
    const rows: WriteBatch['rows'] = [
      { op: 'upsert', key: 'p:1', id: '1', acks: [], values: ['Ann', '1.5', '2024-01-02 10:00:00', null], fields: {} },
      { op: 'upsert', key: 'p:2', id: '2', acks: [], values: ['Bob', '-1', null, null], fields: {} },
      { op: 'upsert', key: 'p:4', id: '4', acks: [], values: ['Cy', 'abc', null, null], fields: {} },
      { op: 'delete', key: 'p:3', id: '3', acks: [] },
    ];
    const dead = await writer.write({ table: 'persons', pkColumn: 'id', columns: SHAPE.columns }, rows);
    expect(dead.map((d) => [d.key, d.error])).toEqual([
      // refused before any SQL: 'abc' is not a number for NUMBER(5,2)
      ['p:4', "key 'p:4': field 'score' = 'abc' cannot go into column SCORE (NUMBER(5,2)): not a decimal number in plain form (digits with an optional leading - and one decimal point; no spaces, +, leading zeros or exponent)"],
      ['p:2', "key 'p:2': ORA-02290: check constraint (APP.SCORE_POSITIVE) violated"],
    ]);
    // Every failed call was rolled back and never committed; the rows that fit were committed.
    expect(fake.calls.filter((c) => c.method !== 'execute').map((c) => c.method)).toEqual([
      'executeMany', 'rollback', // [p:1, p:2, p:3]
      'executeMany', 'rollback', // [p:1, p:2]
      'executeMany', 'commit', // [p:1]
      'executeMany', 'rollback', // [p:2]: dead-lettered
      'executeMany', 'commit', // [p:3]
    ]);
    await writer.close();
  });
});
