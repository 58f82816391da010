import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestEnv } from '../helpers/env.ts';
import type { RuntimeProcess } from '../helpers/processes.ts';
import { waitFor } from '../helpers/wait.ts';

describe('a burst of 10,000 keys', () => {
  const env = new TestEnv();
  let rt: RuntimeProcess;

  beforeAll(async () => {
    rt = await env.startWithRecipe();
  });

  afterAll(async () => {
    await rt.stop();
    await env.close();
  });

  it('all arrive', async () => {
    const started = Date.now();
    const p = env.redis.pipeline();
    for (let i = 0; i < 10_000; i++) p.hset(`${env.prefix}:${i}`, 'first_name', `n${i}`, 'last_name', 'burst', 'age', String(i));
    await p.exec();
    const written = Date.now() - started;
    await waitFor('10,000 rows', async () => (await env.count()) === 10_000, 60_000, 50);
    const total = Date.now() - started;
    console.log(`burst: 10,000 keys written in ${written} ms, all in MariaDB after ${total} ms (${Math.round(10_000 / (total / 1000))} rows/s)`);
    expect(await env.row('9999')).toMatchObject({ first: 'n9999', last: 'burst', age: 9999 });
  });
});
