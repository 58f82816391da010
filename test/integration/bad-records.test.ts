import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestEnv } from '../helpers/env.ts';
import type { RuntimeProcess } from '../helpers/processes.ts';
import { waitFor } from '../helpers/wait.ts';

describe('records that cannot be synced', () => {
  const env = new TestEnv();
  let rt: RuntimeProcess;

  beforeAll(async () => {
    rt = await env.startWithRecipe();
    // `synced: 100` below is exact only once the start-up reconcile is over (see TestEnv.reconciled).
    await env.reconciled();
  });

  afterAll(async () => {
    await rt.stop();
    await env.close();
  });

  it('a string key and a non-numeric INT go to the dead-letter stream; the rest of the moment syncs', async () => {
    const tx = env.redis.multi();
    for (let i = 0; i < 50; i++) tx.hset(`${env.prefix}:good${i}`, 'first_name', `g${i}`, 'age', String(i));
    tx.set(`${env.prefix}:9`, 'notahash');
    tx.hset(`${env.prefix}:7`, 'age', 'notanumber');
    tx.hset(`${env.prefix}:8`, 'first_name', 'x'.repeat(21)); // VARCHAR(20)
    for (let i = 50; i < 100; i++) tx.hset(`${env.prefix}:good${i}`, 'first_name', `g${i}`, 'age', String(i));
    await tx.exec();

    await waitFor('100 good rows', async () => (await env.count()) === 100);
    const dlq = await waitFor('3 dead letters', async () => {
      const entries = await env.redis.xrange(`${env.ns}:dlq:${env.name}`, '-', '+');
      return entries.length === 3 ? entries.map(([, f]) => Object.fromEntries(f.reduce<string[][]>((acc, v, i) => (i % 2 ? acc : [...acc, [v, f[i + 1] as string]]), []))) : undefined;
    });
    const byKey = Object.fromEntries(dlq.map((d) => [d['key'], d]));
    expect(byKey[`${env.prefix}:9`]?.['error']).toBe(`key '${env.prefix}:9' holds a string, not a hash; only hashes are synced`);
    // Refused before the database sees it, naming the key, the field, the column and its type.
    expect(byKey[`${env.prefix}:7`]?.['error']).toBe(`key '${env.prefix}:7': field 'age' = 'notanumber' cannot go into column age (int(11)): not an integer in plain form (digits with an optional leading -; no spaces, +, leading zeros, decimal point or exponent)`);
    expect(JSON.parse(byKey[`${env.prefix}:7`]?.['fields'] as string)).toEqual({ age: 'notanumber' });
    expect(byKey[`${env.prefix}:8`]?.['error']).toMatch(/field 'first_name' = '.*' cannot go into column first \(varchar\(20\)\): longer than 20 characters/);
    expect(await env.row('7')).toBeUndefined();
    expect(await env.row('9')).toBeUndefined();

    const status = JSON.parse((await env.cli(['status', '--json'])).stdout).recipes[0];
    expect(status).toMatchObject({ deadLetters: 3, synced: 100, backlog: 0 });
  });

  it('a fixed record syncs on its next change', async () => {
    await env.redis.hset(`${env.prefix}:7`, 'age', '7');
    expect(await waitFor('row 7', () => env.row('7'))).toMatchObject({ age: 7 });
  });
});
