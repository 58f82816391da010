import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestEnv } from '../helpers/env.ts';
import { startRuntime, type RuntimeProcess } from '../helpers/processes.ts';
import { waitFor } from '../helpers/wait.ts';

const CLI = fileURLToPath(new URL('../../bin/wb-cli.js', import.meta.url));
const quote = (a: string): string => `'${a.replace(/'/g, "'\\''")}'`;

/** Runs wb-cli in a pseudo-terminal (util-linux `script`), returning everything the terminal got. */
function inTerminal(args: readonly string[]): Promise<{ code: number | null; out: string }> {
  const command = [process.execPath, CLI, ...args].map(quote).join(' ');
  const child = spawn('script', ['-qfec', command, '/dev/null'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, COLUMNS: '160' } });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, out })));
}

describe('progress in the CLI: on a terminal only', () => {
  const env = new TestEnv();
  let rt: RuntimeProcess;

  beforeAll(async () => {
    await env.createTable();
    await env.tuneCredentials();
    rt = await startRuntime(env.runtimeArgs());
    const p = env.redis.pipeline();
    for (let i = 0; i < 3000; i++) p.hset(`${env.prefix}:${i}`, 'first_name', `n${i}`);
    await p.exec();
  });

  afterAll(async () => {
    await rt.stop();
    await env.close();
  });

  it('upload --wait waits until the existing keys are queued, with a bar on a terminal', async () => {
    const file = env.writeRecipe({ version: '1' });
    const run = await inTerminal(['upload', file, '--wait', ...env.flags]);
    expect(run.code, run.out).toBe(0);
    expect(run.out).toContain(`${env.name}: queueing existing keys`);
    expect(run.out).toContain(`${env.name}: 3,000 existing keys queued`);
    await waitFor('3,000 rows', async () => (await env.count()) === 3000, 30_000);
  });

  it('verify shows its progress on a terminal, and none in a pipe or with --json', async () => {
    const tty = await inTerminal(['verify', env.name, ...env.flags]);
    expect(tty.code, tty.out).toBe(0);
    expect(tty.out).toMatch(/verify \S+: comparing \d+ keys \| [\d,]+ keys\/s/);
    expect(tty.out).toContain('clean: the table equals Redis');
    const piped = await env.cli(['verify', env.name]);
    expect(piped.code).toBe(0);
    expect(piped.stdout + piped.stderr).not.toContain('comparing');
    const json = await inTerminal(['verify', env.name, '--json', ...env.flags]);
    expect(json.out).not.toContain('comparing');
  });

  it('dlq --replay shows a bar with the total on a terminal', async () => {
    await env.redis.hset(`${env.prefix}:big`, 'first_name', 'x'.repeat(30)); // VARCHAR(20): refused
    await waitFor('a dead letter', async () => (await env.redis.xlen(`${env.ns}:dlq:${env.name}`)) === 1);
    const run = await inTerminal(['dlq', env.name, '--replay', ...env.flags]);
    expect(run.code, run.out).toBe(0);
    expect(run.out).toMatch(/replaying dead letters of \S+ \[.*\] \d+% \| \d\/1 letters/);
    expect(run.out).toContain('replayed 1 dead letters');
  });
});
