import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { TestEnv } from '../helpers/env.ts';
import { startRuntime } from '../helpers/processes.ts';
import { freePort, TestRedis } from '../helpers/redis-server.ts';
import { waitFor } from '../helpers/wait.ts';

const BIN = fileURLToPath(new URL('../../bin/wb-runtime.js', import.meta.url));

/** The state letter of /proc/<pid>/stat (R, S, Z, ...), or undefined once the pid is gone. */
function procState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return undefined;
  }
}

describe('a runtime starting and stopping', () => {
  const env = new TestEnv();
  afterAll(() => env.close());

  it('exits promptly on SIGTERM while its Redis is unreachable at start', async () => {
    const port = await freePort(); // nothing listens there
    const child = spawn(process.execPath, [BIN, '--port', String(port), '--namespace', env.ns, '--id', `lc-${env.id}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await waitFor('a connection error logged', () => out.includes('ECONNREFUSED'), 10_000);
    const t0 = Date.now();
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(code).toBe(0);
    expect(out).toContain('runtime stopped before it was running');
  });

  it('takes over its id from a killed runtime not yet reaped (a zombie)', async () => {
    // `exec sleep` replaces the shell, and sleep never reaps the runtime it inherits as a child:
    // once killed, the runtime stays a zombie, which still answers kill(pid, 0).
    const args = [BIN, ...env.runtimeArgs()].map((a) => `'${a}'`).join(' ');
    const parent = spawn('bash', ['-c', `'${process.execPath}' ${args} > /dev/null 2>&1 & echo $!; exec sleep 120`], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      const pid = Number(await new Promise<string>((resolve) => parent.stdout.once('data', (d: Buffer) => resolve(d.toString().trim()))));
      await waitFor('the first runtime holds its id', async () => {
        const held = await env.redis.get(`${env.ns}:runtime:rt-${env.id}`);
        return held !== null && (JSON.parse(held) as { pid: number }).pid === pid;
      }, 20_000);
      process.kill(pid, 'SIGKILL');
      await waitFor('a zombie', () => procState(pid) === 'Z', 5000);
      const t0 = Date.now();
      const second = await startRuntime(env.runtimeArgs());
      expect(Date.now() - t0).toBeLessThan(10_000); // no wait for the zombie's 15 s heartbeat
      expect(second.hasLog((r) => r['msg'] === 'runtime running')).toBe(true);
      expect(await second.stop()).toBe(0);
    } finally {
      parent.kill('SIGKILL');
    }
  });

  it('exits promptly on SIGTERM when its Redis dies while it runs', async () => {
    const server = new TestRedis(freePort());
    await server.start();
    const own = new TestEnv(server.url);
    try {
      await own.createTable();
      await own.tuneCredentials();
      const rt = await startRuntime(own.runtimeArgs());
      await own.upload(own.writeRecipe({ version: '1' }), rt);
      await own.redis.hset(`${own.prefix}:1`, 'first_name', 'Ada');
      await waitFor('row 1', () => own.row('1'));
      await server.kill9();
      await new Promise((r) => setTimeout(r, 1500)); // the runtime notices: its connection is not ready
      const t0 = Date.now();
      expect(await rt.stop()).toBe(0);
      expect(Date.now() - t0).toBeLessThan(5000); // not the 30 s stop timeout
      expect(rt.hasLog((r) => String(r['msg']).startsWith('Redis does not answer: stopping without finishing'))).toBe(true);
    } finally {
      await server.start();
      await own.close();
      await server.stop();
    }
  });

  it('records its key layout in a new namespace, and refuses, with the CLI, one of another layout', async () => {
    const fresh = new TestEnv();
    try {
      const rt = await startRuntime(fresh.runtimeArgs());
      expect(await fresh.redis.get(`${fresh.ns}:layout`)).toBe('2');
      expect(await rt.stop()).toBe(0);
      await fresh.redis.set(`${fresh.ns}:layout`, '3');
      const child = spawn(process.execPath, [BIN, ...fresh.runtimeArgs()], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      expect(await new Promise<number | null>((resolve) => child.on('exit', resolve))).toBe(1);
      expect(out).toContain(`namespace '${fresh.ns}' cannot be used by this wb-runtime (key layout 2): a newer wbsync (key layout 3) serves it`);
      const status = await fresh.cli(['status']);
      expect(status.code).toBe(1);
      expect(status.stderr).toContain('cannot be used by this wb-cli (key layout 2): a newer wbsync (key layout 3) serves it');
      expect(await fresh.redis.get(`${fresh.ns}:layout`)).toBe('3'); // left alone
    } finally {
      await fresh.close();
    }
  });
});
