import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestEnv } from '../helpers/env.ts';
import { startRuntime, type RuntimeProcess } from '../helpers/processes.ts';
import { waitFor } from '../helpers/wait.ts';

const SECRET = 'Wr0ng-Secret-7f3a';

describe('a wrong MySQL password, then the right one', () => {
  const env = new TestEnv();
  let rt: RuntimeProcess;
  const status = async () => JSON.parse((await env.cli(['status', env.name, '--json'])).stdout).recipes[0];

  beforeAll(async () => {
    await env.createTable();
    expect((await env.cli(['tune', 'param', 'MySqlUser', 'root'])).code).toBe(0);
    expect((await env.cli(['tune', 'param', 'MySqlPassword', '--stdin'], `${SECRET}\n`)).code).toBe(0);
    rt = await startRuntime(env.runtimeArgs());
    await env.upload(env.writeRecipe({ version: '1' }), rt);
    // The backlog of 200 and `synced` 200 below are exact only once the start-up reconcile is
    // over: until then a key written is snapshotted by its change and by the reconcile's SCAN.
    await env.reconciled();
  });

  afterAll(async () => {
    await rt.stop();
    await env.close();
  });

  it('reports the failure and keeps the backlog', async () => {
    const p = env.redis.pipeline();
    for (let i = 0; i < 200; i++) p.hset(`${env.prefix}:${i}`, 'first_name', `n${i}`, 'age', String(i));
    await p.exec();
    const s = await waitFor('status error', async () => ((await status()).error ? status() : undefined));
    expect(s.error).toMatch(/connect failed: .*Access denied for user 'root'/);
    expect(s.backlog).toBe(200);
    expect(await env.count()).toBe(0);
    expect(rt.hasLog((r) => String(r['msg']).includes('Access denied'))).toBe(true);
  });

  it('never shows the secret: params, status, list, logs', async () => {
    const outputs = await Promise.all([env.cli(['params']), env.cli(['params', '--json']), env.cli(['status']), env.cli(['list', '--json'])]);
    for (const o of outputs) expect(o.stdout + o.stderr).not.toContain(SECRET);
    expect(outputs[0]?.stdout).toMatch(/MySqlPassword\s+<redacted>/);
    expect(rt.lines.join('\n')).not.toContain(SECRET);
  });

  it('drains the backlog once the right password is tuned', async () => {
    expect((await env.cli(['tune', 'param', 'MySqlPassword', ''])).code).toBe(0);
    await waitFor('200 rows', async () => (await env.count()) === 200, 30_000);
    expect(await env.row('199')).toMatchObject({ first: 'n199', age: 199 });
    const s = await waitFor('backlog drained', async () => ((await status()).backlog === 0 ? status() : undefined));
    expect(s.error).toBeNull();
    expect(s.synced).toBe(200);
  });
});
