import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Keys } from '../../runtime/keys.ts';
import { MYSQL, TestEnv } from '../helpers/env.ts';
import { startRuntime, type RuntimeProcess } from '../helpers/processes.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * Recipe code runs in a sandbox per recipe (a worker thread): a throw from a timer, an endless
 * loop, a promise that never settles or process.exit fail that recipe only. The runtime and the
 * healthy recipe beside them keep syncing, and a restart loads the bad ones as failed again
 * instead of crashing.
 */
describe('recipe code cannot take the runtime down', () => {
  const env = new TestEnv();
  const keys = new Keys(env.ns);
  let rt: RuntimeProcess;
  // Short limits: the behaviour is the same at the defaults (5 s, 10 s), only slower to test.
  const limits = ['--eval-timeout-ms', '2000', '--credential-timeout-ms', '1500'];
  const state = async (name: string) => env.redis.hgetall(keys.status(name));

  /** A bundle as `wb-cli upload` stores it (CommonJS, wbsync external), plus `tail` at its top level. */
  const bundle = (name: string, opts: { tail?: string; password?: string } = {}) => `"use strict";
const w = require("wbsync");
const c = new w.MySqlConnection(() => w.configGet("MySqlUser"), ${opts.password ?? '() => w.configGet("MySqlPassword")'}, "${MYSQL.host}:${MYSQL.port}/${MYSQL.database}");
module.exports.default = w.writeBehind({ name: "${name}", version: "1", connector: new w.MySqlConnector(c, "${env.table}", "id"), keysPrefix: "${env.prefix}_${name}", mappings: { first_name: "first" } });
${opts.tail ?? ''}
`;

  /** Stores a bundle the way upload does, behind its back (no evaluation on the way). */
  const inject = async (name: string, code: string) => {
    const meta = { name, version: '1', sha: name, file: `${name}.js`, uploadedAt: new Date().toISOString(), keysPrefix: `${env.prefix}_${name}`, target: `mysql ${env.table}` };
    await env.redis.multi().hset(keys.recipes(), name, JSON.stringify(meta)).set(keys.code(name), code).exec();
    await env.redis.publish(keys.control(), JSON.stringify({ op: 'sync' }));
  };

  const healthySyncs = async (value: string) => {
    await env.redis.hset(`${env.prefix}:h1`, 'first_name', value);
    await waitFor(`row h1 = ${value}`, async () => (await env.row('h1'))?.['first'] === value, 20_000);
  };

  beforeAll(async () => {
    await env.createTable();
    await env.tuneCredentials();
    rt = await startRuntime(env.runtimeArgs(limits));
    await env.upload(env.writeRecipe({ version: '1' }), rt);
  });

  afterAll(async () => {
    await rt.stop();
    await env.close();
  });

  it('upload refuses a recipe that throws from a timer and one that loops for ever, within the limit; the healthy recipe keeps syncing', async () => {
    const timer = env.writeRecipe({ version: '1', name: 'Timer', file: 'timer.ts', tail: "setTimeout(() => { throw new Error('boom from a timer'); });" });
    const loop = env.writeRecipe({ version: '1', name: 'Loop', file: 'loop.ts', tail: 'while (true) {}' });

    const t0 = Date.now();
    const a = await env.cli(['upload', timer, ...limits]);
    expect(a.code).toBe(1);
    expect(a.stderr).toMatch(/upload refused: .*timer\.ts (threw outside any call|failed while loading): boom from a timer/);
    const t1 = Date.now();
    const b = await env.cli(['upload', loop, ...limits]);
    const t2 = Date.now();
    expect(b.code).toBe(1);
    expect(b.stderr).toMatch(/loop\.ts did not finish loading within 2 s/);
    expect(t2 - t1).toBeLessThan(2000 + 4000); // the limit, plus a CLI start and bundling
    expect(t1 - t0).toBeLessThan(8000);
    // Nothing was stored, the runtime never saw them.
    expect(await env.redis.hexists(keys.recipes(), 'Timer')).toBe(0);
    expect(await env.redis.hexists(keys.recipes(), 'Loop')).toBe(0);
    await healthySyncs('after-refusals');
  });

  it('bad code stored behind upload: each recipe fails with its reason, the runtime and the healthy recipe go on', async () => {
    await inject('Thrower', bundle('Thrower', { tail: "setTimeout(() => { throw new Error('thrown from a timer'); });" }));
    await inject('Looper', bundle('Looper', { tail: 'for (;;) {}' }));
    await inject('Exiter', bundle('Exiter', { tail: 'process.exit(7);' }));
    await inject('Rejecter', bundle('Rejecter', { tail: "Promise.reject(new Error('nobody catches me'));" }));
    // Loads (its timer is beyond the settle window), then throws while running.
    await inject('Later', bundle('Later', { tail: "setTimeout(() => { throw new Error('thrown while running'); }, 1800);" }));
    // Loads, but its password never arrives: the credential limit stops it.
    await inject('Never', bundle('Never', { password: '() => new Promise(() => {})' }));
    await env.redis.hset(`${env.prefix}_Never:1`, 'first_name', 'x'); // a change, so the writer connects

    const failed = async (name: string, reason: RegExp) => {
      const s = await waitFor(`${name} failed`, async () => ((await state(name))['state'] === 'failed' ? state(name) : undefined), 20_000);
      expect(s['error']).toMatch(reason);
    };
    await failed('Thrower', /recipe 'Thrower' (failed while loading|threw outside any call): thrown from a timer/);
    await failed('Looper', /recipe 'Looper' did not finish loading within 2 s/);
    await failed('Exiter', /recipe 'Exiter' ended its thread \(process\.exit\(7\)\)/);
    await failed('Rejecter', /nobody catches me/);
    await failed('Later', /recipe 'Later' threw outside any call: thrown while running/);
    await failed('Never', /a credential function did not settle within 1\.5 s/);
    expect(rt.hasLog((r) => r['msg'] === 'recipe failed: its code is stopped; the other recipes go on' && r['recipe'] === 'Later')).toBe(true);

    const st = JSON.parse((await env.cli(['status', '--json'])).stdout) as { recipes: Array<{ name: string; state: string }> };
    expect(st.recipes.find((r) => r.name === env.name)?.state).toBe('loaded');
    await healthySyncs('beside-bad-code');
  });

  it('a restart loads them as failed again instead of crashing, and stops promptly', async () => {
    const t0 = Date.now();
    expect(await rt.stop()).toBe(0);
    expect(Date.now() - t0).toBeLessThan(5000);
    // A long credential limit from here on: the next test unregisters a recipe while its call waits.
    rt = await startRuntime(env.runtimeArgs(['--eval-timeout-ms', '2000', '--credential-timeout-ms', '60000']));
    await waitFor('Later failed again', async () => (await state('Later'))['state'] === 'failed' && rt.hasLog((r) => r['recipe'] === 'Later' && String(r['error']).includes('thrown while running')), 20_000);
    await healthySyncs('after-restart');
    for (const name of ['Thrower', 'Looper', 'Exiter', 'Rejecter']) expect((await state(name))['state']).toBe('failed');
  });

  it('unregister stops a recipe whose credential call is pending, at once', async () => {
    await inject('Slow', bundle('Slow', { password: '() => new Promise((r) => setTimeout(() => r(""), 60_000))' }));
    await waitFor('Slow loaded', async () => (await state('Slow'))['state'] === 'loaded', 20_000);
    await env.redis.hset(`${env.prefix}_Slow:1`, 'first_name', 'x');
    await new Promise((r) => setTimeout(r, 300)); // the writer is now waiting for the password
    const t0 = Date.now();
    const un = await env.cli(['unregister', 'Slow']);
    expect(un.code).toBe(0);
    await waitFor('Slow unregistered', async () => (await state('Slow'))['state'] === 'unregistered', 10_000);
    expect(Date.now() - t0).toBeLessThan(5000);
    await healthySyncs('after-unregister');
    // 'Never' is waiting for its password too: SIGTERM does not wait for it.
    const t1 = Date.now();
    expect(await rt.stop()).toBe(0);
    expect(Date.now() - t1).toBeLessThan(5000);
  });
});
