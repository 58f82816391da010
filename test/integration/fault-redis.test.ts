import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestEnv } from '../helpers/env.ts';
import type { RuntimeProcess } from '../helpers/processes.ts';
import { freePort, TestRedis } from '../helpers/redis-server.ts';
import { BackgroundWriter, expectVerifyClean } from '../helpers/verify.ts';
import { waitFor } from '../helpers/wait.ts';

// Each test owns a redis-server on its own port, so it can kill it, flush it and starve it.
describe('Redis faults', () => {
  describe('Redis restarted with AOF on, under load', () => {
    const server = new TestRedis(freePort(), ['--appendonly', 'yes', '--appendfsync', 'always']);
    let env: TestEnv;
    let rt: RuntimeProcess;

    beforeAll(async () => {
      await server.start();
      env = new TestEnv(server.url);
      rt = await env.startWithRecipe();
    });

    afterAll(async () => {
      await rt.stop();
      await env.close();
      await server.stop();
    });

    it('the runtime reconnects and nothing acknowledged is lost', async () => {
      const writer = new BackgroundWriter(env, 3000);
      await waitFor('rows arriving', async () => (await env.count()) > 200);
      await server.kill9();
      await new Promise((r) => setTimeout(r, 1000));
      await server.start();
      await waitFor('writes acknowledged again', async () => {
        const before = writer.acknowledged;
        await new Promise((r) => setTimeout(r, 300));
        return writer.acknowledged > before;
      });
      await new Promise((r) => setTimeout(r, 1000));
      await writer.stop();
      await waitFor('gap logged', () => rt.hasLog((r) => String(r['msg']).includes('subscription was cut')));
      console.log(`Redis AOF restart: ${writer.acknowledged} acknowledged HSETs, ${writer.errors} failed pipelines`);
      await expectVerifyClean(env);
      expect(await env.count()).toBeGreaterThan(1000);
    });
  });

  describe('a burst that overflows a small pubsub output buffer', () => {
    const server = new TestRedis(freePort(), ['--client-output-buffer-limit', 'pubsub 256kb 128kb 1']);
    let env: TestEnv;
    let rt: RuntimeProcess;

    beforeAll(async () => {
      await server.start();
      env = new TestEnv(server.url);
      rt = await env.startWithRecipe();
    });

    afterAll(async () => {
      await rt.stop();
      await env.close();
      await server.stop();
    });

    it('the cut is logged and reconciled, and verify is clean', async () => {
      process.kill(rt.pid as number, 'SIGSTOP'); // a runtime too slow to read its events
      try {
        for (let chunk = 0; chunk < 10; chunk++) {
          const p = env.redis.pipeline();
          for (let i = 0; i < 10_000; i++) p.hset(`${env.prefix}:${chunk * 10_000 + i}`, 'first_name', `b${i}`, 'age', String(i));
          await p.exec();
        }
        const clients = (await env.redis.call('CLIENT', 'LIST', 'TYPE', 'pubsub')) as string;
        console.log(`pubsub clients after the burst: ${clients.trim().split('\n').filter(Boolean).length}`);
      } finally {
        process.kill(rt.pid as number, 'SIGCONT');
      }
      await waitFor('cut logged', () => rt.hasLog((r) => String(r['msg']).includes('subscription was cut')), 30_000);
      await waitFor('reconciled', () => rt.hasLog((r) => r['msg'] === 'reconciled' && r['reason'] === 'subscription restored'), 30_000);
      await waitFor('100,000 rows', async () => (await env.count()) === 100_000, 120_000, 500);
      await expectVerifyClean(env);
    });
  });

  describe('FLUSHALL (no keyspace events at all)', () => {
    const server = new TestRedis(freePort());
    let env: TestEnv;
    let rt: RuntimeProcess;

    beforeAll(async () => {
      await server.start();
      env = new TestEnv(server.url);
      rt = await env.startWithRecipe();
    });

    afterAll(async () => {
      await rt.stop();
      await env.close();
      await server.stop();
    });

    it('is detected and logged loudly; rows are kept (default policy); the recipe keeps running', async () => {
      for (let i = 0; i < 20; i++) await env.redis.hset(`${env.prefix}:${i}`, 'first_name', `f${i}`);
      await waitFor('20 rows', async () => (await env.count()) === 20);
      await env.redis.flushall();
      await waitFor('flush detected', () => rt.hasLog((r) => String(r['msg']).includes('vanished from Redis')), 20_000);
      await waitFor('policy logged', () => rt.hasLog((r) => String(r['msg']).includes('rows are kept (onFlush: keep)')));
      expect(await env.count()).toBe(20);
      const listed = JSON.parse((await env.cli(['list', '--json'])).stdout);
      expect(listed).toMatchObject([{ name: env.name, version: '1' }]);
      await env.redis.hset(`${env.prefix}:after`, 'first_name', 'still syncing');
      await waitFor('row after the flush', () => env.row('after'));
    });
  });
});
