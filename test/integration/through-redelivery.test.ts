import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backlogLength, backlogPending, backlogStreamOf } from '../helpers/backlog.ts';
import { TestEnv } from '../helpers/env.ts';
import { startRuntime, type RuntimeProcess } from '../helpers/processes.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * A write-through entry's staged fields exist only in the entry, so a redelivery cannot be
 * refreshed from Redis. Here an older staged change is read by a consumer that then dies (the
 * test reads it as 'ghost', as a runtime killed right after its read would leave it), a newer
 * change of the same fields is written, and the runtime claims the older one after
 * --claim-idle-ms: it must not overwrite the newer values, in the table or in Redis, and its
 * other fields still arrive.
 */
describe('a redelivered write-through entry', () => {
  const env = new TestEnv();
  let rt: RuntimeProcess;
  const key = (id: string) => `${env.prefix}:${id}`;
  const stage = (id: string) => `__{${key(id)}}`;
  /** The stream of key 1's partition: its staged changes are recorded there. */
  const backlog = () => backlogStreamOf(env, key('1'));

  beforeAll(async () => {
    await env.createTable();
    await env.tuneCredentials();
    rt = await startRuntime(env.runtimeArgs(['--claim-idle-ms', '2000']));
    const file = env.writeRecipe({ version: '1' });
    writeFileSync(file, readFileSync(file, 'utf8').replace(/writeBehind/g, 'writeThrough'));
    await env.upload(file, rt);
    await env.reconciled();
  });

  afterAll(async () => {
    await rt.stop();
    await env.close();
  });

  it('never overwrites a newer staged change of the same key; its other fields arrive', async () => {
    expect((await env.cli(['pause', env.name])).code).toBe(0);
    await waitFor('paused', async () => (await env.redis.hget(`${env.ns}:status:${env.name}`, 'state')) === 'paused', 10_000);
    // The older change: first_name and last_name. Captured, then read by a consumer that dies.
    await env.redis.hset(stage('1'), 'first_name', 'Old', 'last_name', 'Lee');
    await waitFor('the older change in the backlog', async () => (await env.redis.xlen(backlog())) === 1, 10_000);
    expect(await backlogLength(env)).toBe(1);
    const read = (await env.redis.xreadgroup('GROUP', 'writers', 'ghost', 'COUNT', 10, 'STREAMS', backlog(), '>')) as Array<[string, Array<[string, string[]]>]> | null;
    expect(read?.[0]?.[1]).toHaveLength(1);
    // The newer change of first_name, written while the older one is held by the dead consumer.
    await env.redis.hset(stage('1'), 'first_name', 'New', 'age', '40');
    expect((await env.cli(['resume', env.name])).code).toBe(0);
    await waitFor('the newer change applied', async () => (await env.redis.hget(key('1'), 'first_name')) === 'New', 10_000);
    expect(await env.row('1')).toMatchObject({ first: 'New', last: null, age: 40 });
    // The runtime claims the older entry once it is 2 s idle and writes it.
    await waitFor('the older entry claimed and written', async () => (await env.redis.hget(key('1'), 'last_name')) === 'Lee', 15_000);
    await waitFor('nothing pending', async () => (await backlogPending(env)) === 0, 10_000);
    expect(await env.redis.hgetall(key('1'))).toStrictEqual({ first_name: 'New', last_name: 'Lee', age: '40' });
    expect(await env.row('1')).toMatchObject({ first: 'New', last: 'Lee', age: 40 });
  });

  it('keeps no marks once nothing is pending', async () => {
    await env.redis.hset(stage('2'), 'first_name', 'Two');
    await waitFor('row 2', async () => (await env.row('2'))?.['first'] === 'Two', 10_000);
    // Marks are pruned at most every 5 s, after a finish.
    await new Promise((r) => setTimeout(r, 5200));
    await env.redis.hset(stage('3'), 'first_name', 'Three');
    await waitFor('marks pruned', async () => (await env.redis.exists(`${env.ns}:wtmarks:${env.name}`)) === 0, 10_000);
  });
});
