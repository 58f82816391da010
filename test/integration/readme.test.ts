// The README's quickstart, run as written: its shell blocks in a fresh folder next to this
// clone, with the one change the README itself documents for another Redis (WB_REDIS_URL, and
// `redis-cli -u "$WB_REDIS_URL"`), so that it runs against a private Redis and not the machine's.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { createPool, type RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MYSQL } from '../helpers/env.ts';
import { freePort, TestRedis } from '../helpers/redis-server.ts';
import { waitFor } from '../helpers/wait.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

/** The ```sh blocks of one `## ` section, list indentation removed. */
function shellBlocks(heading: string): string[] {
  const start = README.indexOf(`\n## ${heading}\n`);
  if (start < 0) throw new Error(`README has no section '## ${heading}'`);
  const end = README.indexOf('\n## ', start + 1);
  const section = README.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(/^( *)```sh\n([\s\S]*?)^\1```$/gm)].map((m) => {
    const indent = (m[1] ?? '').length;
    return (m[2] ?? '').split('\n').map((l) => l.slice(Math.min(indent, l.length - l.trimStart().length))).join('\n');
  });
}

function bash(script: string, cwd: string, env: NodeJS.ProcessEnv): { code: number; out: string } {
  const r = spawnSync('bash', ['-euo', 'pipefail', '-c', script], { cwd, env, encoding: 'utf8', timeout: 300_000 });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}${r.error ? String(r.error) : ''}` };
}

describe('README quickstart (in your own project)', () => {
  const redis = new TestRedis(freePort(), ['--appendonly', 'no']);
  const db = createPool({ ...MYSQL, connectionLimit: 1 });
  const work = mkdtempSync(join(tmpdir(), 'wbsync-readme-'));
  let runtime: ChildProcess | undefined;
  let runtimeLog = '';

  beforeAll(async () => {
    await redis.start();
    await db.query('DROP TABLE IF EXISTS persons');
    // The Install section's `npm ci && npm pack`, in this clone (npm ci already ran).
    const pack = spawnSync('npm', ['pack'], { cwd: ROOT, encoding: 'utf8' });
    expect(pack.status, `${pack.stdout}${pack.stderr}`).toBe(0);
    symlinkSync(ROOT, join(work, 'wbsync'));
  }, 120_000);

  afterAll(async () => {
    if (runtime?.pid !== undefined && runtime.exitCode === null) {
      process.kill(-runtime.pid, 'SIGTERM');
      await new Promise((r) => runtime?.once('exit', r));
    }
    await db.query('DROP TABLE IF EXISTS persons');
    await db.end();
    await redis.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('step 3 is the example recipe shipped in recipes/examples', () => {
    const step3 = shellBlocks('Quickstart (in your own project)')[2] ?? '';
    const recipe = /<<'EOF'\n([\s\S]*?)\nEOF/.exec(step3)?.[1];
    expect(recipe).toBeDefined();
    const example = readFileSync(join(ROOT, 'recipes/examples/persons.recipe.ts'), 'utf8');
    expect(example.slice(example.indexOf('import '))).toBe(`${recipe}\n`);
  });

  it('its commands, pasted in order, make the example row arrive', async () => {
    const blocks = shellBlocks('Quickstart (in your own project)');
    expect(blocks).toHaveLength(6);
    const [project, table, recipe, start, upload, change] = blocks as [string, string, string, string, string, string];
    expect(start.trim()).toBe('npx wb-runtime');
    const env = { ...process.env, WB_REDIS_URL: redis.url, npm_config_update_notifier: 'false' };
    const setup = bash([project, table, recipe].join('\n'), work, env);
    expect(setup.code, setup.out).toBe(0);
    const dir = join(work, 'persons-sync');

    runtime = spawn('bash', ['-c', start], { cwd: dir, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    runtime.stdout?.on('data', (d: Buffer) => (runtimeLog += d.toString()));
    runtime.stderr?.on('data', (d: Buffer) => (runtimeLog += d.toString()));
    await waitFor('the runtime to run', () => runtimeLog.includes('runtime running') || runtime?.exitCode !== null, 30_000);
    expect(runtime.exitCode, runtimeLog).toBeNull();

    const up = bash(upload, dir, env);
    expect(up.code, `${up.out}\n${runtimeLog}`).toBe(0);
    expect(up.out).toContain('PersonsWriteBehind version 1 loaded by runtime');

    expect(change).toContain('redis-cli HSET person:5');
    const shown = bash(change.replaceAll('redis-cli ', 'redis-cli -u "$WB_REDIS_URL" '), dir, env);
    expect(shown.code, shown.out).toBe(0);
    const [rows] = await waitFor('the row', async () => {
      const r = await db.query<RowDataPacket[]>('SELECT id, first, last, age FROM persons');
      return r[0].length ? r : undefined;
    }, 30_000);
    expect(rows).toEqual([{ id: '5', first: 'Marek', last: 'Michalski', age: 27 }]);
    const direct = new Redis(redis.url);
    expect(await direct.hgetall('person:5')).toEqual({ first_name: 'Marek', last_name: 'Michalski', age: '27' });
    direct.disconnect();
  }, 300_000);
});
