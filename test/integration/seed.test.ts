import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestEnv } from '../helpers/env.ts';
import { startRuntime, type RuntimeProcess } from '../helpers/processes.ts';
import { waitFor } from '../helpers/wait.ts';

// The seed scenario, with the example recipe exactly as shipped (prefix `person`, table `persons`).
describe('seed scenario: recipes/examples/persons.recipe.ts', () => {
  const env = new TestEnv();
  let rt: RuntimeProcess;
  const row = async (id: string) => (await env.db.query<any[]>('SELECT id, first, last, age FROM persons WHERE id = ?', [id]))[0][0];

  beforeAll(async () => {
    await env.db.query('DROP TABLE IF EXISTS persons');
    await env.db.query('CREATE TABLE persons (id VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin PRIMARY KEY, first VARCHAR(255), last VARCHAR(255), age INT)');
    const old = await env.redis.keys('person:*');
    if (old.length) await env.redis.del(...old);
    expect((await env.cli(['tune', 'param', 'MySqlUser', 'root'])).code).toBe(0);
    expect((await env.cli(['tune', 'param', 'MySqlPassword', '--stdin'], '\n')).code).toBe(0);
    rt = await startRuntime(env.runtimeArgs());
    const up = await env.upload('recipes/examples/persons.recipe.ts', rt);
    expect(up.stdout).toContain('PersonsWriteBehind version 1 loaded by runtime');
  });

  afterAll(async () => {
    expect(await rt.stop()).toBe(0);
    const keys = await env.redis.keys('person:*');
    if (keys.length) await env.redis.del(...keys);
    await env.db.query('DROP TABLE IF EXISTS persons');
    await env.close();
  });

  it('HSET creates the row, a later HSET updates it', async () => {
    await env.redis.hset('person:5', 'first_name', 'Marek', 'last_name', 'Michalski', 'age', '27');
    expect(await waitFor('row 5', () => row('5'))).toEqual({ id: '5', first: 'Marek', last: 'Michalski', age: 27 });
    await env.redis.hset('person:5', 'age', '28');
    await waitFor('age 28', async () => (await row('5'))?.age === 28);
  });

  it('HDEL of a mapped field makes its column NULL', async () => {
    await env.redis.hdel('person:5', 'last_name');
    await waitFor('last NULL', async () => (await row('5'))?.last === null);
    expect(await row('5')).toEqual({ id: '5', first: 'Marek', last: null, age: 28 });
  });

  it('DEL removes the row', async () => {
    await env.redis.del('person:5');
    await waitFor('row 5 gone', async () => (await row('5')) === undefined);
  });

  it('an id containing ":" is kept whole', async () => {
    await env.redis.hset('person:a:b', 'first_name', 'Ada');
    expect(await waitFor('row a:b', () => row('a:b'))).toEqual({ id: 'a:b', first: 'Ada', last: null, age: null });
  });

  it('a key that expires leaves its row', async () => {
    await env.redis.hset('person:6', 'first_name', 'Eve', 'age', '30');
    await waitFor('row 6', () => row('6'));
    await env.redis.pexpire('person:6', 50);
    await waitFor('person:6 expired', async () => (await env.redis.exists('person:6')) === 0);
    // The backlog is FIFO: once a later change has arrived, the expiry before it was handled.
    await env.redis.hset('person:marker', 'first_name', 'M');
    await waitFor('marker row', () => row('marker'));
    expect(await row('6')).toEqual({ id: '6', first: 'Eve', last: null, age: 30 });
  });
});
