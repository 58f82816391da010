// Redis Cluster. wbsync does not run on a cluster yet (capture on every master is being built):
// until it does, both bins pointed at any node of one say so and what to use instead, rather
// than failing with a bare `MOVED …` or writing part of their keys.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../helpers/processes.ts';
import { TestCluster } from '../helpers/redis-cluster.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function runtimeUntilExit(args: readonly string[]): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [`${ROOT}bin/wb-runtime.js`, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('Redis Cluster', () => {
  const cluster = new TestCluster(3, 1);

  beforeAll(async () => {
    await cluster.start();
  }, 60_000);

  afterAll(async () => {
    await cluster.stop();
  });

  it('wb-cli and wb-runtime given any node refuse the cluster with what to do, not MOVED', async () => {
    for (const port of [cluster.ports[0], cluster.ports[4]]) {
      const res = await cli(['tune', 'param', 'MySqlUser', 'root', '--port', String(port), '--namespace', 'wbcluster']);
      expect(res.code).toBe(1);
      expect(res.stderr).toContain(`Redis at 127.0.0.1:${port} is a node of a Redis Cluster`);
      expect(res.stderr).toContain('--sentinel');
      expect(res.stderr).not.toMatch(/MOVED|unexpected error/);
    }
    const rt = await runtimeUntilExit(['--port', String(cluster.ports[1]), '--namespace', 'wbcluster', '--id', 'c1', '--http', 'off']);
    expect(rt.code).toBe(1);
    expect(rt.stdout + rt.stderr).toContain('is a node of a Redis Cluster');
    expect(rt.stdout + rt.stderr).not.toContain('MOVED');
  }, 60_000);
});
