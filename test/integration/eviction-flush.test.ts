import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MYSQL, TestEnv } from '../helpers/env.ts';
import { startRuntime, type RuntimeProcess } from '../helpers/processes.ts';
import { freePort, TestRedis } from '../helpers/redis-server.ts';
import { waitFor } from '../helpers/wait.ts';

// Issue #10, items 7 and 8: a flush that did not happen must never delete rows. Each test owns a
// redis-server with its own eviction policy, so the machine's Redis is never reconfigured.

const BIN = fileURLToPath(new URL('../../bin/wb-runtime.js', import.meta.url));

/** Runs wb-runtime until it exits by itself (or `timeoutMs` passes: then it is killed, code null). */
function runToExit(args: readonly string[], timeoutMs = 20_000): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

const msg = (r: Record<string, unknown>): string => String(r['msg'] ?? '');

/** A table, the MySQL parameters, a runtime with `runtimeFlags`, and a recipe with onFlush: 'delete'. */
async function startDeleting(env: TestEnv, runtimeFlags: readonly string[] = []): Promise<RuntimeProcess> {
  await env.createTable();
  await env.tuneCredentials();
  const rt = await startRuntime(env.runtimeArgs(runtimeFlags));
  try {
    await env.upload(env.writeRecipe({ version: '1', extra: "onFlush: 'delete'," }), rt);
  } catch (err) {
    await rt.stop();
    throw err;
  }
  return rt;
}

/** Ten synced keys, and two rows whose keys are not in Redis: what onFlush 'delete' would remove. */
async function seed(env: TestEnv): Promise<void> {
  for (let i = 0; i < 10; i++) await env.redis.hset(`${env.prefix}:${i}`, 'first_name', `f${i}`);
  await waitFor('10 rows', async () => (await env.count()) === 10);
  await env.db.query(`INSERT INTO \`${env.table}\` (id, first) VALUES ('orphan-1', 'o'), ('orphan-2', 'o')`);
}

/** A real FLUSHALL; the parameters are set again in the same transaction so a delete can connect. */
async function flushAll(env: TestEnv): Promise<void> {
  await env.redis.multi().flushall().hset(`${env.ns}:params`, 'MySqlUser', MYSQL.user, 'MySqlPassword', MYSQL.password).exec();
}

async function listed(env: TestEnv): Promise<Array<Record<string, unknown>>> {
  return JSON.parse((await env.cli(['list', '--json'])).stdout) as Array<Record<string, unknown>>;
}

async function statusJson(env: TestEnv): Promise<{ recipes: Array<Record<string, unknown>>; runtimes: Array<Record<string, unknown>> }> {
  return JSON.parse((await env.cli(['status', '--json'])).stdout) as { recipes: Array<Record<string, unknown>>; runtimes: Array<Record<string, unknown>> };
}

describe('eviction and flushes', () => {
  describe('a Redis whose maxmemory-policy is allkeys-lru', () => {
    const server = new TestRedis(freePort(), ['--maxmemory-policy', 'allkeys-lru']);
    let env: TestEnv;

    beforeAll(async () => {
      await server.start();
      env = new TestEnv(server.url);
    });

    afterAll(async () => {
      try {
        await env.close();
      } finally {
        await server.stop();
      }
    });

    it('wb-runtime refuses to start, naming the policy, why and the fix', async () => {
      const { code, out } = await runToExit(env.runtimeArgs());
      expect(code, out).toBe(1);
      expect(out).toContain('maxmemory-policy is allkeys-lru');
      expect(out).toContain('evict');
      expect(out).toContain('backlog');
      expect(out).toContain('noeviction');
      expect(out).toContain('volatile-');
      expect(out).toContain('--allow-eviction');
      // Refused before it touched anything: no sentinel, no runtime registered.
      expect(await env.redis.exists(`${env.ns}:sentinel`, `${env.ns}:runtimes`)).toBe(0);
    }, 60_000);

    it('with --allow-eviction it starts and logs a warning', async () => {
      const rt = await startRuntime(env.runtimeArgs(['--allow-eviction']));
      try {
        expect(rt.hasLog((r) => r['level'] === 40 && msg(r).includes('allkeys-lru') && msg(r).includes('--allow-eviction'))).toBe(true);
        const status = await statusJson(env);
        expect(String(status.runtimes[0]?.['warning'])).toContain('allkeys-lru');
      } finally {
        expect(await rt.stop()).toBe(0);
      }
    }, 60_000);
  });

  describe('onFlush delete, allkeys-lru accepted with --allow-eviction, the sentinel gone (as if evicted)', () => {
    const server = new TestRedis(freePort(), ['--maxmemory-policy', 'allkeys-lru']);
    let env: TestEnv;
    let rt: RuntimeProcess;

    beforeAll(async () => {
      await server.start();
      env = new TestEnv(server.url);
      rt = await startDeleting(env, ['--allow-eviction']);
    });

    afterAll(async () => {
      // A failed start leaves no runtime; the private Redis must go all the same.
      try {
        await (rt as RuntimeProcess | undefined)?.stop();
        await env.close();
      } finally {
        await server.stop();
      }
    });

    it('deletes no row, restores the recipe, and logs why', async () => {
      await seed(env);
      await env.redis.del(`${env.ns}:sentinel`, `${env.ns}:recipes`, `${env.ns}:code:${env.name}`, `${env.ns}:status:${env.name}`);
      await waitFor('restore logged', () => rt.hasLog((r) => msg(r).includes('vanished from Redis')), 20_000);
      await waitFor('why rows are kept', () => rt.hasLog((r) => r['recipe'] === env.name && msg(r).includes('rows are kept') && msg(r).includes('allkeys-lru')), 10_000);
      await waitFor('recipe restored', async () => (await listed(env))[0]?.['state'] === 'loaded');
      await new Promise((r) => setTimeout(r, 2000)); // a delete, were one queued, would be written by now
      expect(await env.count()).toBe(12);
      expect(await env.row('orphan-1')).toBeDefined();
      await env.redis.hset(`${env.prefix}:after`, 'first_name', 'still syncing');
      await waitFor('row after the restore', () => env.row('after'));
    });
  });

  describe('onFlush delete, allkeys-lru accepted with --allow-eviction, a real FLUSHALL', () => {
    const server = new TestRedis(freePort(), ['--maxmemory-policy', 'allkeys-lru']);
    let env: TestEnv;
    let rt: RuntimeProcess;

    beforeAll(async () => {
      await server.start();
      env = new TestEnv(server.url);
      rt = await startDeleting(env, ['--allow-eviction']);
    });

    afterAll(async () => {
      // A failed start leaves no runtime; the private Redis must go all the same.
      try {
        await (rt as RuntimeProcess | undefined)?.stop();
        await env.close();
      } finally {
        await server.stop();
      }
    });

    it("Redis's flush notice is the evidence: the rows are deleted", async () => {
      await seed(env);
      await flushAll(env);
      await waitFor('flush notice logged', () => rt.hasLog((r) => msg(r).includes('vanished from Redis') && msg(r).includes('flush notice')), 20_000);
      await waitFor('rows deleted', async () => (await env.count()) === 0, 20_000);
    });
  });

  describe('onFlush delete, noeviction, a real FLUSHALL', () => {
    const server = new TestRedis(freePort(), ['--maxmemory-policy', 'noeviction']);
    let env: TestEnv;
    let rt: RuntimeProcess;

    beforeAll(async () => {
      await server.start();
      env = new TestEnv(server.url);
      rt = await startDeleting(env);
    });

    afterAll(async () => {
      // A failed start leaves no runtime; the private Redis must go all the same.
      try {
        await (rt as RuntimeProcess | undefined)?.stop();
        await env.close();
      } finally {
        await server.stop();
      }
    });

    it('deletes the rows of the flushed keys; list and status show the recipe loaded', async () => {
      await seed(env);
      await flushAll(env);
      await waitFor('flush detected', () => rt.hasLog((r) => msg(r).includes('vanished from Redis')), 20_000);
      await waitFor('rows deleted', async () => (await env.count()) === 0, 20_000);
      expect(await listed(env)).toMatchObject([{ name: env.name, version: '1', state: 'loaded' }]);
      const status = await statusJson(env);
      expect(status.recipes).toMatchObject([{ name: env.name, version: '1', loadedVersion: '1', state: 'loaded', runtime: `rt-${env.id}` }]);
      await env.redis.hset(`${env.prefix}:after`, 'first_name', 'still syncing');
      await waitFor('row after the flush', () => env.row('after'));
    });
  });

  describe('the policy changed to allkeys-lru while running (no --allow-eviction)', () => {
    const server = new TestRedis(freePort(), ['--maxmemory-policy', 'noeviction']);
    let env: TestEnv;
    let rt: RuntimeProcess;

    beforeAll(async () => {
      await server.start();
      env = new TestEnv(server.url);
      rt = await startDeleting(env);
    });

    afterAll(async () => {
      // A failed start leaves no runtime; the private Redis must go all the same.
      try {
        await (rt as RuntimeProcess | undefined)?.stop();
        await env.close();
      } finally {
        await server.stop();
      }
    });

    it('is reported loudly in the log and in status, syncing goes on, and no row is deleted', async () => {
      await seed(env);
      await env.redis.config('SET', 'maxmemory-policy', 'allkeys-lru');
      await waitFor('error logged', () => rt.hasLog((r) => r['level'] === 50 && msg(r).includes('allkeys-lru')), 20_000);
      await waitFor('warning in status', async () => String((await statusJson(env)).runtimes[0]?.['warning']).includes('allkeys-lru'));
      expect((await env.cli(['status'])).stdout).toMatch(/WARNING runtime rt-\w+: .*allkeys-lru/);
      await env.redis.del(`${env.ns}:sentinel`);
      await waitFor('why rows are kept', () => rt.hasLog((r) => r['recipe'] === env.name && msg(r).includes('rows are kept')), 20_000);
      await new Promise((r) => setTimeout(r, 2000));
      expect(await env.count()).toBe(12);
      await env.redis.hset(`${env.prefix}:after`, 'first_name', 'still syncing');
      await waitFor('row after the change', () => env.row('after'));
      await env.redis.config('SET', 'maxmemory-policy', 'noeviction');
      await waitFor('warning cleared', async () => (await statusJson(env)).runtimes[0]?.['warning'] === undefined);
    });
  });
});
