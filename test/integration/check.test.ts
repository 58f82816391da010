import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestEnv } from '../helpers/env.ts';

describe('wb-cli check and upload --check (MySQL)', () => {
  const env = new TestEnv();
  const recipe = (table: string, pk: string, mappings: Record<string, string>): string => {
    const file = join(env.dir, `check-${table}-${pk}.ts`);
    writeFileSync(file, `import { configGet, MySqlConnection, MySqlConnector, writeBehind } from 'wbsync';
const c = new MySqlConnection(() => configGet('MySqlUser'), () => configGet('MySqlPassword'), '127.0.0.1:3306/test');
export default writeBehind({ name: '${env.name}', version: '1', keysPrefix: '${env.prefix}', mappings: ${JSON.stringify(mappings)},
  connector: new MySqlConnector(c, '${table}', '${pk}') });
`);
    return file;
  };

  beforeAll(async () => {
    await env.tuneCredentials();
    await env.createTable('first VARCHAR(20), last VARCHAR(255), age INT');
  });
  afterAll(() => env.close());

  it('passes for a matching table and says how each field converts', async () => {
    const res = await env.cli(['check', recipe(env.table, 'id', { first_name: 'first', age: 'age' })]);
    expect(res.stdout).toContain('first_name -> first varchar(20): kept as text');
    expect(res.stdout).toContain('age -> age int(11): converted to an integer');
    expect(res.stdout).toContain('ok: table, columns and primary key match');
    expect(res.code).toBe(0);
  });

  it('catches a missing table', async () => {
    const res = await env.cli(['check', recipe(`${env.table}_nope`, 'id', { first_name: 'first' })]);
    expect(res.code).toBe(1);
    expect(res.stdout).toContain(`PROBLEM: table ${env.table}_nope does not exist; create it with the primary key id and the columns first, or fix the connector's table name`);
  });

  it('catches a missing column', async () => {
    const res = await env.cli(['check', recipe(env.table, 'id', { first_name: 'first', nick: 'nickname' })]);
    expect(res.code).toBe(1);
    expect(res.stdout).toContain(`PROBLEM: column nickname (mapped from field 'nick') does not exist in ${env.table}; add it, or change mappings.nick`);
  });

  it('catches a wrong primary key', async () => {
    const res = await env.cli(['check', recipe(env.table, 'first', { age: 'age' })]);
    expect(res.code).toBe(1);
    expect(res.stdout).toContain(`PROBLEM: the primary key of ${env.table} is (id), but the recipe's pkColumn is first; make first the only primary-key column, or set pkColumn to id`);
  });

  it('upload --check refuses a recipe with a problem and stores nothing; a good one is stored', async () => {
    const bad = await env.cli(['upload', '--check', recipe(env.table, 'id', { nick: 'nickname' })]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('upload refused: the check found problems');
    expect(JSON.parse((await env.cli(['list', '--json'])).stdout)).toEqual([]);
    const good = await env.cli(['upload', '--check', recipe(env.table, 'id', { first_name: 'first' })]);
    expect(good.code).toBe(0);
    expect(good.stdout).toContain(`registered ${env.name} version 1`);
  });

  it('a wrong password is reported as a connection problem without the password', async () => {
    await env.redis.hset(`${env.ns}:params`, 'MySqlPassword', 'S3cret-wrong-pw');
    const res = await env.cli(['check', recipe(env.table, 'id', { first_name: 'first' })]);
    expect(res.code).toBe(1);
    expect(res.stdout).toMatch(/PROBLEM: cannot connect to mysql 127.0.0.1:3306\/test table .*Access denied/);
    expect(res.stdout + res.stderr).not.toContain('S3cret-wrong-pw');
  });
});
