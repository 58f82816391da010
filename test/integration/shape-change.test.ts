// The table's shape is re-read when it changes: a value refused by a narrow column is
// dead-lettered; after ALTER TABLE widens the column, `dlq --replay` writes it, with no restart.
// Also a write refused for a shape reason is checked against a fresh description first, and a
// value MariaDB would round after a column was narrowed (a note, not an error) is never stored.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestEnv } from '../helpers/env.ts';
import { startRuntime, type RuntimeProcess } from '../helpers/processes.ts';
import { waitFor } from '../helpers/wait.ts';

interface Dialect {
  readonly name: string;
  connector(table: string): string;
  exec(sql: string): Promise<void>;
  first(table: string, id: string): Promise<string | undefined>;
  close(): Promise<void>;
}

async function mariadb(env: TestEnv): Promise<Dialect> {
  return {
    name: 'MariaDB',
    connector: (t) => `new MySqlConnector(new MySqlConnection('root', '', '127.0.0.1:3306/test'), '${t}', 'id')`,
    exec: async (sql) => void (await env.db.query(sql)),
    first: async (t, id) => ((await env.db.query(`SELECT first FROM ${t} WHERE id = ?`, [id]))[0] as Array<{ first: string }>)[0]?.first,
    close: async () => undefined,
  };
}

async function postgres(): Promise<Dialect> {
  const pg = new Client({ host: '127.0.0.1', port: 5432, database: 'test', user: 'postgres' });
  await pg.connect();
  return {
    name: 'PostgreSQL',
    connector: (t) => `new PostgresConnector(new PostgresConnection('postgres', '', '127.0.0.1:5432/test'), '${t}', 'id')`,
    exec: async (sql) => void (await pg.query(sql)),
    first: async (t, id) => (await pg.query(`SELECT first FROM ${t} WHERE id = $1`, [id])).rows[0]?.first,
    close: () => pg.end(),
  };
}

for (const make of [mariadb, postgres]) {
  describe(`a column widened while the runtime runs (${make.name})`, () => {
    const env = new TestEnv();
    const t = `${env.table}_shape`;
    let db: Dialect;
    let rt: RuntimeProcess;

    beforeAll(async () => {
      db = await make(env);
      await db.exec(`CREATE TABLE ${t} (id VARCHAR(64) ${db.name === 'MariaDB' ? 'COLLATE utf8mb4_nopad_bin ' : ''}PRIMARY KEY, first VARCHAR(5))`);
      rt = await startRuntime(env.runtimeArgs());
      const file = join(env.dir, 'shape.ts');
      writeFileSync(file, `import { MySqlConnection, MySqlConnector, PostgresConnection, PostgresConnector, writeBehind } from 'wbsync';
export default writeBehind({ name: '${env.name}', version: '1', keysPrefix: '${env.prefix}', mappings: { first_name: 'first' }, connector: ${db.connector(t)} });
`);
      await env.upload(file, rt);
    });
    afterAll(async () => {
      await rt.stop();
      await db.exec(`DROP TABLE IF EXISTS ${t}`);
      await db.close();
      await env.close();
    });

    it('dead-letters what does not fit, then writes it on dlq --replay after ALTER TABLE, without a restart', async () => {
      await env.redis.hset(`${env.prefix}:1`, 'first_name', 'fits');
      await env.redis.hset(`${env.prefix}:2`, 'first_name', 'much too long');
      await waitFor('row 1', async () => (await db.first(t, '1')) === 'fits');
      const dlq = await waitFor('the dead letter', async () => {
        const list = (JSON.parse((await env.cli(['dlq', env.name, '--json'])).stdout) as { deadLetters: never[] }).deadLetters as Array<{ key: string; error: string }>;
        return list.length === 1 ? list : undefined;
      });
      expect(dlq[0]?.error).toMatch(/cannot go into column first \(.*5\)\): longer than 5 characters/);
      // The refused hash, as docs/sync-semantics.md lists it.
      expect(dlq[0]).toMatchObject({ key: `${env.prefix}:2`, op: 'upsert', fields: { first_name: 'much too long' } });
      await db.exec(db.name === 'MariaDB' ? `ALTER TABLE ${t} MODIFY first VARCHAR(64)` : `ALTER TABLE ${t} ALTER COLUMN first TYPE VARCHAR(64)`);
      const replay = await env.cli(['dlq', env.name, '--replay']);
      expect(replay.code, replay.stderr).toBe(0);
      await waitFor('row 2 after the replay', async () => (await db.first(t, '2')) === 'much too long', 15_000);
      expect((JSON.parse((await env.cli(['dlq', env.name, '--json'])).stdout) as { deadLetters: never[] }).deadLetters).toEqual([]);
    });

    it('a value refused by an old description is checked against the altered table before it is dead-lettered', async () => {
      // Narrow again (key 2 and its long row go first), then widen behind the runtime's back: the
      // next long value must be written.
      await env.redis.del(`${env.prefix}:2`);
      await waitFor('row 2 deleted', async () => (await db.first(t, '2')) === undefined);
      await db.exec(db.name === 'MariaDB' ? `ALTER TABLE ${t} MODIFY first VARCHAR(5)` : `ALTER TABLE ${t} ALTER COLUMN first TYPE VARCHAR(5)`);
      await env.cli(['dlq', env.name, '--replay']); // makes the runtime re-read the narrow shape
      await env.redis.hset(`${env.prefix}:3`, 'first_name', 'short');
      await waitFor('row 3', async () => (await db.first(t, '3')) === 'short');
      await db.exec(db.name === 'MariaDB' ? `ALTER TABLE ${t} MODIFY first VARCHAR(64)` : `ALTER TABLE ${t} ALTER COLUMN first TYPE VARCHAR(64)`);
      await new Promise((r) => setTimeout(r, 1100)); // the description is now more than a second old
      await env.redis.hset(`${env.prefix}:4`, 'first_name', 'longer than five');
      await waitFor('row 4', async () => (await db.first(t, '4')) === 'longer than five', 15_000);
      expect((JSON.parse((await env.cli(['dlq', env.name, '--json'])).stdout) as { deadLetters: never[] }).deadLetters).toEqual([]);
    });
  });
}

describe('a column narrowed while the runtime runs (MariaDB rounds with a note, even in strict mode)', () => {
  const env = new TestEnv();
  const t = `${env.table}_narrow`;
  let rt: RuntimeProcess;

  beforeAll(async () => {
    await env.db.query(`CREATE TABLE ${t} (id VARCHAR(64) COLLATE utf8mb4_nopad_bin PRIMARY KEY, score DECIMAL(6,2))`);
    rt = await startRuntime(env.runtimeArgs());
    const file = join(env.dir, 'narrow.ts');
    writeFileSync(file, `import { MySqlConnection, MySqlConnector, writeBehind } from 'wbsync';
export default writeBehind({ name: '${env.name}', version: '1', keysPrefix: '${env.prefix}', mappings: { score: 'score' }, connector: new MySqlConnector(new MySqlConnection('root', '', '127.0.0.1:3306/test'), '${t}', 'id') });
`);
    await env.upload(file, rt);
  });
  afterAll(async () => {
    await rt.stop();
    await env.db.query(`DROP TABLE IF EXISTS ${t}`);
    await env.close();
  });

  const score = async (id: string): Promise<string | undefined> => ((await env.db.query(`SELECT score FROM ${t} WHERE id = ?`, [id]))[0] as Array<{ score: string }>)[0]?.score;

  it('never stores a value rounded by a scale the runtime has not read yet: the row is dead-lettered, the others sync', async () => {
    // Found from the outside: 1.25 became 1.3 after the ALTER, until the description was read again.
    await env.redis.hset(`${env.prefix}:1`, 'score', '1.25');
    await waitFor('row 1', async () => (await score('1')) === '1.25');
    await env.db.query(`ALTER TABLE ${t} MODIFY score DECIMAL(6,1)`);
    await env.redis.hset(`${env.prefix}:2`, 'score', '1.25');
    await env.redis.hset(`${env.prefix}:3`, 'score', '2.5');
    await waitFor('row 3', async () => (await score('3')) === '2.5', 15_000);
    const [letter] = await waitFor('the dead letter', async () => {
      const list = (JSON.parse((await env.cli(['dlq', env.name, '--json'])).stdout) as { deadLetters: Array<{ key: string; error: string }> }).deadLetters;
      return list.length ? list : undefined;
    });
    expect(letter?.key).toBe(`${env.prefix}:2`);
    expect(letter?.error).toMatch(/score|stored a value otherwise than given/);
    expect(await score('2')).toBeUndefined();
  });
});
