// Dead letters do not multiply: every start and every reconcile re-snapshots every key, and a key
// whose record is still refused must keep one dead letter, the newest, not one more per restart.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestEnv } from '../helpers/env.ts';
import { startRuntime, type RuntimeProcess } from '../helpers/processes.ts';
import { waitFor } from '../helpers/wait.ts';

describe('at most one dead letter per key', () => {
  const env = new TestEnv();
  let rt: RuntimeProcess;
  const letters = async (): Promise<Array<{ key: string; error: string }>> => (JSON.parse((await env.cli(['dlq', env.name, '--json'])).stdout) as { deadLetters: never[] }).deadLetters;

  beforeAll(async () => {
    rt = await env.startWithRecipe();
  });
  afterAll(async () => {
    await rt.stop();
    await env.close();
  });

  it('keeps one dead letter per key across restarts and new refusals, the newest', async () => {
    await env.redis.hset(`${env.prefix}:1`, 'age', 'one');
    await env.redis.hset(`${env.prefix}:2`, 'age', 'two');
    await waitFor('two dead letters', async () => (await letters()).length === 2);
    for (let i = 0; i < 3; i++) {
      await rt.stop();
      rt = await startRuntime(env.runtimeArgs());
      // Each start reconciles: both keys are refused again (the running count says so).
      await waitFor(`refused again (${i})`, async () => Number(await env.redis.hget(`${env.ns}:status:${env.name}`, 'deadLetters')) >= 2 * (i + 2));
    }
    await env.redis.hset(`${env.prefix}:1`, 'age', 'uno');
    await waitFor('the newer refusal', async () => (await letters()).some((l) => l.error.includes("'uno'")));
    const list = await letters();
    expect(list.map((l) => l.key).sort()).toEqual([`${env.prefix}:1`, `${env.prefix}:2`]);
    expect(list.find((l) => l.key === `${env.prefix}:1`)?.error).toContain("'uno'");
    expect(await env.redis.xlen(`${env.ns}:dlq:${env.name}`)).toBe(2);
  });

  it('replay and purge leave no stale index behind: a later refusal is listed', async () => {
    await env.redis.hset(`${env.prefix}:2`, 'age', '2');
    expect((await env.cli(['dlq', env.name, '--replay'])).code).toBe(0);
    await waitFor('row 2 written', async () => (await env.row('2'))?.['age'] === 2);
    await waitFor('key 1 refused again after the replay', async () => (await letters()).length === 1);
    expect((await env.cli(['dlq', env.name, '--purge'])).code).toBe(0);
    expect(await letters()).toEqual([]);
    await env.redis.hset(`${env.prefix}:2`, 'age', 'two again');
    await waitFor('the next refusal listed', async () => (await letters()).length === 1);
  });
});
