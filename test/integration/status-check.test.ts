import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestEnv } from '../helpers/env.ts';
import { startRuntime, type RuntimeProcess } from '../helpers/processes.ts';
import { waitFor } from '../helpers/wait.ts';

const CLI = fileURLToPath(new URL('../../bin/wb-cli.js', import.meta.url));

describe('wb-cli status --check, --watch; dlq --json', () => {
  const env = new TestEnv();
  let rt: RuntimeProcess | undefined;
  let file: string;

  beforeAll(async () => {
    await env.createTable();
    await env.tuneCredentials();
    file = env.writeRecipe({ version: '1' });
  });

  afterAll(async () => {
    await rt?.stop();
    await env.close();
  });

  it('fails, naming why, with no runtime and a recipe nobody loaded; plain status exits 0', async () => {
    expect((await env.cli(['upload', file])).code).toBe(0); // stored; loads when a runtime starts
    const check = await env.cli(['status', '--check']);
    expect(check.code).toBe(1);
    expect(check.stderr).toContain('wb-cli: check failed:');
    expect(check.stderr).toContain('no runtime is alive');
    expect(check.stderr).toContain(`${env.name}: not loaded`);
    expect(check.stdout).toContain(env.name); // the status itself is printed too
    expect((await env.cli(['status'])).code).toBe(0);
  });

  it('passes once a runtime syncs the recipe; fails while it is paused', async () => {
    rt = await startRuntime(env.runtimeArgs());
    await waitFor('loaded', async () => (await env.cli(['status', '--check'])).code === 0, 20_000);
    // Every connection is named: CLIENT LIST shows which runtime and which role holds it.
    const names = String(await env.redis.call('CLIENT', 'LIST')).split('\n').map((l) => /\bname=(\S*)/.exec(l)?.[1]);
    for (const role of ['commands', 'subscriber', 'flush-tracker', 'flush-listener']) expect(names).toContain(`wbsync-runtime:rt-${env.id}:${role}`);
    expect((await env.cli(['pause', env.name])).code).toBe(0);
    await waitFor('paused', async () => (await env.redis.hget(`${env.ns}:status:${env.name}`, 'state')) === 'paused');
    const paused = await env.cli(['status', '--check']);
    expect(paused.code).toBe(1);
    expect(paused.stderr).toContain(`${env.name}: paused`);
    expect((await env.cli(['resume', env.name])).code).toBe(0);
    await waitFor('resumed', async () => (await env.cli(['status', '--check'])).code === 0);
  });

  it('--watch --json prints the status every second until interrupted', async () => {
    const child = spawn(process.execPath, [CLI, 'status', '--watch', '--json', ...env.flags], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const t0 = Date.now();
    await waitFor('three redraws', () => out.split('\n').filter(Boolean).length >= 3, 10_000);
    expect(Date.now() - t0).toBeGreaterThan(1500); // about one a second, not a busy loop
    child.kill('SIGINT');
    await new Promise((r) => child.on('exit', r));
    for (const line of out.split('\n').filter(Boolean)) {
      const s = JSON.parse(line) as { recipes: Array<{ name: string }>; runtimes: unknown[] };
      expect(s.recipes.map((r) => r.name)).toEqual([env.name]);
      expect(s.runtimes).toHaveLength(1);
    }
  });

  it('dlq --json gives the total with the list', async () => {
    expect(JSON.parse((await env.cli(['dlq', env.name, '--json'])).stdout)).toEqual({ total: 0, shown: 0, deadLetters: [] });
    await env.redis.hset(`${env.prefix}:big`, 'first_name', 'x'.repeat(30)); // VARCHAR(20): refused
    await env.redis.hset(`${env.prefix}:big2`, 'first_name', 'y'.repeat(30));
    await waitFor('two dead letters', async () => (await env.redis.xlen(`${env.ns}:dlq:${env.name}`)) === 2);
    const one = JSON.parse((await env.cli(['dlq', env.name, '--json', '--limit', '1'])).stdout) as { total: number; shown: number; deadLetters: Array<{ key: string }> };
    expect(one.total).toBe(2);
    expect(one.shown).toBe(1);
    expect(one.deadLetters).toHaveLength(1);
  });
});
