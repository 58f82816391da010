// Two keys never share a row. A text key column that does not compare exactly (a case- or
// accent-insensitive collation, PAD SPACE, CHAR) is refused by check and upload unless the recipe
// says keyMatch: 'inexact'; a recipe already syncing keeps syncing with a warning in status. A
// numeric key takes only the canonical text of its value: `01`, `1.0`, ` 1` are dead-lettered,
// never merged into row 1, and their DEL never deletes it.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestEnv } from '../helpers/env.ts';
import { startRuntime, type RuntimeProcess } from '../helpers/processes.ts';
import { waitFor } from '../helpers/wait.ts';

const status = async (env: TestEnv, name = env.name): Promise<Record<string, unknown>> =>
  JSON.parse((await env.cli(['status', name, '--json'])).stdout).recipes[0];

describe('key columns that compare inexactly (MariaDB)', () => {
  const env = new TestEnv();
  let rt: RuntimeProcess;
  const recipe = (table: string, extra = '', name = env.name): string => {
    const file = join(env.dir, `km-${table}-${name}-${extra.length}.ts`);
    writeFileSync(file, `import { configGet, MySqlConnection, MySqlConnector, writeBehind } from 'wbsync';
const c = new MySqlConnection(() => configGet('MySqlUser'), () => configGet('MySqlPassword'), '127.0.0.1:3306/test');
export default writeBehind({ name: '${name}', version: '1', keysPrefix: '${env.prefix}', mappings: { first_name: 'first' },
  connector: new MySqlConnector(c, '${table}', 'id'), ${extra} });
`);
    return file;
  };
  const table = async (suffix: string, key: string): Promise<string> => {
    const name = `${env.table}_${suffix}`;
    await env.db.query(`DROP TABLE IF EXISTS ${name}`);
    await env.db.query(`CREATE TABLE ${name} (id ${key} PRIMARY KEY, first VARCHAR(64)) CHARACTER SET utf8mb4`);
    return name;
  };

  beforeAll(async () => {
    await env.tuneCredentials();
    rt = await startRuntime(env.runtimeArgs());
  });
  afterAll(async () => {
    await rt.stop();
    for (const s of ['ci', 'bin', 'char', 'exact', 'int']) await env.db.query(`DROP TABLE IF EXISTS ${env.table}_${s}`);
    await env.close();
  });

  it.each([
    ['ci', 'VARCHAR(64) COLLATE utf8mb4_general_ci', 'collation utf8mb4_general_ci ignores case'],
    ['bin', 'VARCHAR(64) COLLATE utf8mb4_bin', 'collation utf8mb4_bin ignores trailing spaces (PAD SPACE)'],
    ['char', 'CHAR(64) COLLATE utf8mb4_nopad_bin', 'CHAR pads values with spaces'],
  ])('%s: check and upload refuse it, naming the column, its collation and the fix; nothing is stored', async (suffix, key, why) => {
    const t = await table(suffix, key);
    const checked = await env.cli(['check', recipe(t)]);
    expect(checked.code).toBe(1);
    expect(checked.stdout).toContain(`PROBLEM: key column ${t}.id does not compare exactly: ${why}`);
    expect(checked.stdout).toContain("utf8mb4_nopad_bin");
    expect(checked.stdout).toContain("keyMatch: 'inexact'");
    const up = await env.cli(['upload', recipe(t)]);
    expect(up.code).toBe(1);
    expect(up.stderr).toContain(`upload refused: ${env.name}: key column ${t}.id does not compare exactly: ${why}`);
    expect(JSON.parse((await env.cli(['list', '--json'])).stdout)).toEqual([]);
  });

  it("keyMatch: 'inexact' accepts it", async () => {
    const t = await table('ci', 'VARCHAR(64) COLLATE utf8mb4_general_ci');
    expect((await env.cli(['check', recipe(t, "keyMatch: 'inexact'")])).code).toBe(0);
    await env.upload(recipe(t, "keyMatch: 'inexact'", `${env.name}_ci`), rt);
    await env.cli(['unregister', `${env.name}_ci`]);
  });

  it('with an exact collation, sw:Alice and sw:alice are two rows, and DEL of one leaves the other', async () => {
    const t = await table('exact', 'VARCHAR(64) COLLATE utf8mb4_nopad_bin');
    await env.upload(recipe(t), rt);
    await env.redis.hset(`${env.prefix}:Alice`, 'first_name', 'upper');
    await env.redis.hset(`${env.prefix}:alice`, 'first_name', 'lower');
    await env.redis.hset(`${env.prefix}:alice `, 'first_name', 'trailing space');
    const rows = async () => (await env.db.query(`SELECT id, first FROM ${t} ORDER BY id`))[0] as Array<{ id: string; first: string }>;
    await waitFor('three rows', async () => (await rows()).length === 3);
    await env.redis.del(`${env.prefix}:alice`);
    await waitFor('alice deleted', async () => !(await rows()).some((r) => r.id === 'alice'));
    expect(await rows()).toEqual([{ id: 'Alice', first: 'upper' }, { id: 'alice ', first: 'trailing space' }]);
  });

  it('a recipe already syncing whose key column turns inexact keeps syncing, with a warning in status', async () => {
    const t = `${env.table}_exact`;
    // Under the new collation 'Alice' and 'alice ' would be one key: start from an empty table.
    await env.db.query(`DELETE FROM ${t}`);
    await env.db.query(`ALTER TABLE ${t} MODIFY id VARCHAR(64) COLLATE utf8mb4_general_ci`);
    await rt.stop();
    rt = await startRuntime(env.runtimeArgs());
    await env.redis.hset(`${env.prefix}:Bob`, 'first_name', 'after');
    await waitFor('the row written after the change', async () => ((await env.db.query(`SELECT first FROM ${t} WHERE id = 'Bob'`))[0] as unknown[]).length === 1);
    const s = await waitFor('the warning', async () => ((await status(env))['warning'] ? status(env) : undefined));
    expect(s['warning']).toContain(`key column ${t}.id does not compare exactly: collation utf8mb4_general_ci`);
    expect(s['state']).toBe('loaded');
    const text = await env.cli(['status']);
    expect(text.stdout).toContain(`WARNING ${env.name}: key column`);
    await env.cli(['unregister', env.name]);
  });

  it('an INT key takes only canonical ids: 01, 1.0, +1 and " 1" are dead-lettered, and their DEL leaves row 1', async () => {
    const t = await table('int', 'INT');
    const name = `${env.name}_int`;
    // The earlier tests' text ids (Alice, Bob) are not integers: remove them, or this recipe's
    // first reconcile would dead-letter them too.
    const old = await env.redis.keys(`${env.prefix}:*`);
    if (old.length) await env.redis.del(...old);
    await env.upload(recipe(t, '', name), rt);
    // The running count (5) below is exact only once the new recipe's reconcile is over.
    await env.reconciled(name);
    await env.redis.hset(`${env.prefix}:1`, 'first_name', 'one');
    for (const id of ['01', '1.0', '+1', ' 1']) await env.redis.hset(`${env.prefix}:${id}`, 'first_name', `not one: ${id}`);
    await waitFor('four dead letters', async () => Number((await status(env, name))['deadLetters']) === 4);
    await env.redis.del(`${env.prefix}:01`);
    // One dead letter per key: the DEL's replaces the upsert's (the running count says 5).
    await waitFor('the DEL dead-lettered', async () => Number((await status(env, name))['deadLettered']) === 5);
    expect((await env.db.query(`SELECT id, first FROM ${t}`))[0]).toEqual([{ id: 1, first: 'one' }]);
    const dlq = (JSON.parse((await env.cli(['dlq', name, '--json'])).stdout) as { deadLetters: never[] }).deadLetters as Array<{ key: string; op: string; error: string }>;
    expect(dlq.find((d) => d.key === `${env.prefix}:01` && d.op === 'delete')?.error).toMatch(/id '01' cannot be a key of column id \(int\(11\)\): not an integer in plain form.*no two keys may share a row/);
    expect(dlq.map((d) => d.key).sort()).toEqual([` 1`, '+1', '01', '1.0'].map((id) => `${env.prefix}:${id}`).sort());
  });
});

describe('key columns that compare inexactly (PostgreSQL)', () => {
  const env = new TestEnv();
  const collation = `wbci_${env.id}`;
  let pg: Client;
  const recipe = (table: string, extra = ''): string => {
    const file = join(env.dir, `pg-${table}-${extra.length}.ts`);
    writeFileSync(file, `import { PostgresConnection, PostgresConnector, writeBehind } from 'wbsync';
export default writeBehind({ name: '${env.name}', version: '1', keysPrefix: '${env.prefix}', mappings: { first_name: 'first' },
  connector: new PostgresConnector(new PostgresConnection('postgres', '', '127.0.0.1:5432/test'), '${table}', 'id'), ${extra} });
`);
    return file;
  };

  beforeAll(async () => {
    pg = new Client({ host: '127.0.0.1', port: 5432, database: 'test', user: 'postgres' });
    await pg.connect();
    await pg.query(`CREATE COLLATION ${collation} (provider = icu, locale = 'und-u-ks-level2', deterministic = false)`);
  });
  afterAll(async () => {
    for (const s of ['char', 'ci', 'int']) await pg.query(`DROP TABLE IF EXISTS ${env.table}_${s}`);
    await pg.query(`DROP COLLATION IF EXISTS ${collation}`);
    await pg.end();
    await env.close();
  });

  it.each([
    ['char', 'character(10)', "character(n) pads values with spaces"],
    ['ci', `text COLLATE ${'"'}COLL${'"'}`, 'is nondeterministic (case- or accent-insensitive)'],
  ])('%s: check and upload refuse it', async (suffix, key, why) => {
    const t = `${env.table}_${suffix}`;
    await pg.query(`CREATE TABLE ${t} (id ${key.replace('"COLL"', collation)} PRIMARY KEY, first text)`);
    const checked = await env.cli(['check', recipe(t)]);
    expect(checked.code).toBe(1);
    expect(checked.stdout).toContain(`key column ${t}.id does not compare exactly`);
    expect(checked.stdout).toContain(why);
    const up = await env.cli(['upload', recipe(t)]);
    expect(up.code).toBe(1);
    expect(up.stderr).toContain('upload refused');
    expect((await env.cli(['check', recipe(t, "keyMatch: 'inexact'")])).code).toBe(0);
  });

  it('an INT key takes only canonical ids', async () => {
    const t = `${env.table}_int`;
    await pg.query(`CREATE TABLE ${t} (id integer PRIMARY KEY, first text)`);
    const rt = await startRuntime(env.runtimeArgs());
    try {
      await env.upload(recipe(t), rt);
      // The running count (4) below is exact only once the start-up reconcile is over.
      await env.reconciled();
      await env.redis.hset(`${env.prefix}:7`, 'first_name', 'seven');
      for (const id of ['07', '7.0', ' 7']) await env.redis.hset(`${env.prefix}:${id}`, 'first_name', 'not seven');
      await waitFor('three dead letters', async () => Number((await status(env))['deadLetters']) === 3);
      await env.redis.del(`${env.prefix}:07`);
      await waitFor('the DEL dead-lettered too', async () => Number((await status(env))['deadLettered']) === 4);
      expect((await pg.query(`SELECT id, first FROM ${t}`)).rows).toEqual([{ id: 7, first: 'seven' }]);
    } finally {
      await rt.stop();
    }
  });
});
