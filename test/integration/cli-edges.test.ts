import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestEnv } from '../helpers/env.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const VERSION = (JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { version: string }).version;

/** Runs a bin with its stdout closed by the reader before anything is written to it. */
function runIntoClosedPipe(bin: string, args: readonly string[]): Promise<{ code: number | null; signal: string | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [`${ROOT}bin/${bin}.js`, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy(); // like `| head -1` done reading: every write of the child now fails with EPIPE
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stderr }));
  });
}

function run(bin: string, args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [`${ROOT}bin/${bin}.js`, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('wb-cli and small edges', () => {
  const env = new TestEnv();

  beforeAll(async () => {
    await env.cli(['upload', env.writeRecipe({ version: '1' })]); // something to list (no runtime: stored only)
  });

  afterAll(() => env.close());

  it('a reader that closes early (status | head -1) ends it quietly with its own exit code 0', async () => {
    for (const args of [['status'], ['list'], ['status', '--json']]) {
      const res = await runIntoClosedPipe('wb-cli', [...args, ...env.flags]);
      expect(res.stderr, args.join(' ')).toBe('');
      expect(res.signal).toBeNull();
      expect(res.code, args.join(' ')).toBe(0);
    }
  });

  it('through a shell: our own exit status in the pipeline is 0, with nothing on stderr', async () => {
    const flags = env.flags.map((f) => `'${f}'`).join(' ');
    const shell = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
      // The reader closes its end at once and leaves; PIPESTATUS[0] is wb-cli's own exit status.
      const child = spawn('bash', ['-c', `"${process.execPath}" bin/wb-cli.js status ${flags} | (exec 0<&-; true); echo "exit \${PIPESTATUS[0]}"`], { cwd: ROOT });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('close', () => resolve({ stdout, stderr }));
    });
    expect(shell.stderr).toBe('');
    expect(shell.stdout.trim()).toBe('exit 0');
  });

  it('tune param refuses an empty name with exit 2, storing nothing; an empty value is stored and said so', async () => {
    for (const name of ['', '  ']) {
      const noName = await env.cli(['tune', 'param', name, 'v']);
      expect(noName.code).toBe(2);
      expect(noName.stderr).toBe('wb-cli: the parameter name must not be empty: wb-cli tune param NAME VALUE\n');
    }
    const onlyName = await env.cli(['tune', 'param', '']);
    expect(onlyName.code).toBe(2);
    expect(await env.redis.hkeys(`${env.ns}:params`)).toEqual([]);
    // A database user without a password is real (MariaDB's root here): stored, and said.
    const empty = await env.cli(['tune', 'param', 'Token', '']);
    expect(empty.code).toBe(0);
    expect(empty.stdout).toBe('parameter Token set to the empty string\n');
    const piped = await env.cli(['tune', 'param', 'Token2', '--stdin'], '\n');
    expect(piped.stdout).toBe('parameter Token2 set to the empty string\n');
    expect(await env.redis.hget(`${env.ns}:params`, 'Token')).toBe('');
    const ok = await env.cli(['tune', 'param', 'Token', '--stdin'], ' s3cret\n');
    expect(ok.code).toBe(0);
    expect(await env.redis.hget(`${env.ns}:params`, 'Token')).toBe(' s3cret');
  });

  it('--version and -V print the package version on both bins', async () => {
    for (const bin of ['wb-cli', 'wb-runtime']) {
      for (const flag of ['--version', '-V']) {
        const res = await run(bin, [flag]);
        expect(res, `${bin} ${flag}`).toEqual({ code: 0, stdout: `${VERSION}\n`, stderr: '' });
      }
    }
  });
});
