import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { diffTable } from '../helpers/compare.ts';
import { TestEnv } from '../helpers/env.ts';
import { startRuntime, type RuntimeProcess } from '../helpers/processes.ts';
import { waitFor } from '../helpers/wait.ts';

const MAPPINGS = { first_name: 'first', last_name: 'last', age: 'age' };

describe('kill -9 of the runtime under load', () => {
  const env = new TestEnv();
  let rt: RuntimeProcess;

  beforeAll(async () => {
    rt = await env.startWithRecipe({ version: '1', mappings: MAPPINGS });
  });

  afterAll(async () => {
    await rt.stop();
    await env.close();
  });

  it('after a restart the table equals Redis, key for key', async () => {
    let written = 0;
    const writer = (async () => {
      for (let round = 0; round < 60; round++) {
        const p = env.redis.pipeline();
        for (let i = 0; i < 500; i++) {
          const id = Math.floor(Math.random() * 3000);
          if (i % 50 === 0) p.hdel(`${env.prefix}:${id}`, 'last_name');
          else p.hset(`${env.prefix}:${id}`, 'first_name', `f${round}`, 'last_name', `l${i}`, 'age', String(round * 1000 + i));
          written++;
        }
        await p.exec();
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    await waitFor('writer under way and rows arriving', async () => written > 8000 && (await env.count()) > 0);
    await rt.kill9();
    const atKill = written;
    await waitFor('more writes while the runtime is down', () => written > atKill + 3000);
    rt = await startRuntime(env.runtimeArgs());
    await writer;
    console.log(`crash test: ${written} writes, killed after ${atKill}`);
    const diffs = await waitFor('table equals Redis', async () => {
      const d = await diffTable(env, MAPPINGS);
      return d.length === 0 ? d : undefined;
    }, 60_000, 500).catch(async (err) => {
      throw new Error(`${String(err)}\nfirst differences: ${(await diffTable(env, MAPPINGS)).slice(0, 10).join('; ')}`);
    });
    expect(diffs).toEqual([]);
    expect(await env.count()).toBeGreaterThan(2500);
  });
});
