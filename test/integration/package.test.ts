// The package as a user gets it: `npm pack`, checked by publint and attw, installed into a fresh
// project with only the driver it uses, a recipe type-checked by that project's own tsc, and a
// row synced by that project's `npx wb-runtime` and `npx wb-cli upload`.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MYSQL, TestEnv } from '../helpers/env.ts';
import { waitFor } from '../helpers/wait.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; devDependencies: Record<string, string> };
const exec = promisify(execFile);

interface Run {
  readonly code: number;
  readonly out: string;
}

/** Runs a command to its end; never throws on a non-zero exit (the test asserts on `code`). */
async function run(cmd: string, args: readonly string[], cwd: string, timeout = 180_000): Promise<Run> {
  try {
    const { stdout, stderr } = await exec(cmd, args, { cwd, timeout, maxBuffer: 64 * 2 ** 20, env: { ...process.env, npm_config_update_notifier: 'false' } });
    return { code: 0, out: `${stdout}${stderr}` };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string; message: string };
    return { code: typeof e.code === 'number' ? e.code : -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}${e.message}` };
  }
}

describe('the packed package', () => {
  const work = mkdtempSync(join(tmpdir(), 'wbsync-pack-'));
  const project = join(work, 'app');
  let tarball = '';
  const env = new TestEnv();
  let runtime: ChildProcess | undefined;
  let runtimeLog = '';

  beforeAll(async () => {
    const packed = await run('npm', ['pack', '--pack-destination', work], ROOT);
    expect(packed.code, packed.out).toBe(0);
    const file = readdirSync(work).find((f) => f.endsWith('.tgz'));
    if (file === undefined) throw new Error(`npm pack left no tarball:\n${packed.out}`);
    tarball = join(work, file);
  }, 180_000);

  afterAll(async () => {
    if (runtime?.pid !== undefined && runtime.exitCode === null) {
      process.kill(-runtime.pid, 'SIGTERM');
      await new Promise((r) => runtime?.once('exit', r));
    }
    await env.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('passes publint and @arethetypeswrong/cli', async () => {
    const lint = await run(process.execPath, [join(ROOT, 'node_modules/publint/src/cli.js'), tarball, '--strict'], ROOT);
    expect(lint.code, lint.out).toBe(0);
    expect(lint.out).toContain('All good');
    const attw = await run(process.execPath, [join(ROOT, 'node_modules/@arethetypeswrong/cli/dist/index.js'), tarball, '--format', 'ascii', '--ignore-rules', 'cjs-resolves-to-esm'], ROOT);
    expect(attw.code, attw.out).toBe(0);
    expect(attw.out).toContain('No problems found');
  });

  it('holds compiled JavaScript and declarations only: no TypeScript sources, tests or bench', async () => {
    const list = await run('tar', ['tzf', tarball], work);
    expect(list.code, list.out).toBe(0);
    const files = list.out.trim().split('\n');
    expect(files).toContain('package/dist/recipes/index.js');
    expect(files).toContain('package/dist/recipes/index.d.ts');
    expect(files).toContain('package/dist/runtime/main.js');
    expect(files).toContain('package/dist/runtime/capture/capture.lua');
    expect(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
    expect(files.filter((f) => /^package\/(test|bench|scripts|recipes|runtime|cli|\.ci)\//.test(f))).toEqual([]);
  });

  it('installs into a fresh project with one driver; a recipe type-checks with the project\'s own tsc', async () => {
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), `${JSON.stringify({ name: 'app', private: true, type: 'module' }, null, 2)}\n`);
    // Only the driver this project uses, and its own TypeScript (the versions the repo locks, so
    // npm's cache answers); no @types/node, as in a project that is not a Node service.
    const install = await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball, `mysql2@${pkg.devDependencies['mysql2']}`, `typescript@${pkg.devDependencies['typescript']}`], project, 300_000);
    expect(install.code, install.out).toBe(0);
    const installed = readdirSync(join(project, 'node_modules'));
    for (const driver of ['pg', 'better-sqlite3', 'cassandra-driver', 'oracledb', 'snowflake-sdk']) expect(installed, driver).not.toContain(driver);

    writeFileSync(join(project, 'persons.recipe.ts'), `import { configGet, MySqlConnection, MySqlConnector, writeBehind, type Registration } from 'wbsync';

const connection = new MySqlConnection(
  () => configGet('MySqlUser'),
  async () => (await configGet('MySqlPassword')) ?? '',
  '${MYSQL.host}:${MYSQL.port}/${MYSQL.database}',
);
const recipe: Registration = writeBehind({
  name: '${env.name}',
  version: '1',
  connector: new MySqlConnector(connection, '${env.table}', 'id'),
  keysPrefix: '${env.prefix}',
  mappings: { first_name: 'first', last_name: 'last', age: 'age' },
});
export default recipe;
`);
    // A mistake the types must catch: a mapping value that is not a column name.
    writeFileSync(join(project, 'wrong.recipe.ts'), `import { writeBehind, SqliteConnection, SqliteConnector } from 'wbsync';
export default writeBehind({ name: 'W', version: 1, connector: new SqliteConnector(new SqliteConnection('/tmp/x.db'), 't', 'id'), keysPrefix: 'w', mappings: {} });
`);
    const tsc = join(project, 'node_modules/typescript/bin/tsc');
    const settings: Array<[string, string]> = [['nodenext', 'nodenext'], ['preserve', 'bundler'], ['commonjs', 'node10']];
    for (const [module, resolution] of settings) {
      const ok = await run(process.execPath, [tsc, '--noEmit', '--strict', '--module', module, '--moduleResolution', resolution, '--target', 'es2022', 'persons.recipe.ts'], project);
      expect(ok.code, `${module}/${resolution}: ${ok.out}`).toBe(0);
      const wrong = await run(process.execPath, [tsc, '--noEmit', '--strict', '--module', module, '--moduleResolution', resolution, '--target', 'es2022', 'wrong.recipe.ts'], project);
      expect(wrong.code, `${module}/${resolution} accepted a wrong recipe`).not.toBe(0);
      expect(wrong.out).toMatch(/wrong\.recipe\.ts\(2,\d+\): error TS2322: Type 'number' is not assignable to type 'string'/);
    }
  }, 360_000);

  it('importing wbsync loads no database driver, no ioredis and no esbuild', async () => {
    // A resolve hook lists every module the import pulls in.
    writeFileSync(join(project, 'trace-hooks.mjs'), `export async function resolve(s, c, next) { const r = await next(s, c); process._rawDebug('RESOLVED ' + r.url); return r; }\n`);
    writeFileSync(join(project, 'trace.mjs'), `import { register } from 'node:module'; register('./trace-hooks.mjs', import.meta.url);\n`);
    const traced = await run(process.execPath, ['--import', './trace.mjs', '--input-type=module', '-e', "const sdk = await import('wbsync'); console.log('EXPORTS', Object.keys(sdk).sort().join(','));"], project);
    expect(traced.code, traced.out).toBe(0);
    expect(traced.out).toContain('writeBehind');
    const loaded = traced.out.split('\n').filter((l) => l.startsWith('RESOLVED ')).map((l) => l.slice('RESOLVED '.length));
    expect(loaded.some((u) => u.includes('/node_modules/wbsync/dist/recipes/index.js'))).toBe(true);
    const foreign = loaded.filter((u) => u.includes('/node_modules/') && !u.includes('/node_modules/wbsync/'));
    expect(foreign).toEqual([]);
    expect(loaded.filter((u) => /\/wbsync\/dist\/(runtime|cli)\//.test(u))).toEqual([]);
  });

  it('npx wb-runtime and npx wb-cli upload from the project make a row arrive', async () => {
    const help = await run('npx', ['wb-cli', '--help'], project);
    expect(help.code, help.out).toBe(0);
    expect(help.out).toContain('upload');
    const rtHelp = await run('npx', ['wb-runtime', '--help'], project);
    expect(rtHelp.code, rtHelp.out).toBe(0);
    expect(rtHelp.out).toContain('--namespace');
    // The paths docs/runtime.md gives supervisors exist and start the same program.
    for (const entry of ['node_modules/.bin/wb-runtime', 'node_modules/wbsync/dist/runtime/main.js']) {
      const v = await run(process.execPath, [entry, '--version'], project);
      expect(v.code, `${entry}: ${v.out}`).toBe(0);
      expect(v.out.trim()).toBe(pkg.version);
    }

    await env.createTable();
    const flags = env.flags;
    expect((await run('npx', ['wb-cli', 'tune', 'param', 'MySqlUser', MYSQL.user, ...flags], project)).code).toBe(0);
    expect((await run('npx', ['wb-cli', 'tune', 'param', 'MySqlPassword', MYSQL.password, ...flags], project)).code).toBe(0);
    // Its own process group, so the stop reaches the runtime behind npx.
    runtime = spawn('npx', ['wb-runtime', ...flags, '--id', `rt-${env.id}`], { cwd: project, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    runtime.stdout?.on('data', (d: Buffer) => (runtimeLog += d.toString()));
    runtime.stderr?.on('data', (d: Buffer) => (runtimeLog += d.toString()));
    await waitFor('the runtime to run', () => runtimeLog.includes('runtime running') || runtime?.exitCode !== null, 30_000);
    expect(runtime.exitCode, runtimeLog).toBeNull();

    const up = await run('npx', ['wb-cli', 'upload', 'persons.recipe.ts', '--timeout', '30', ...flags], project);
    expect(up.code, `${up.out}\n${runtimeLog}`).toBe(0);
    expect(up.out).toContain('loaded by runtime');
    await env.redis.hset(`${env.prefix}:5`, 'first_name', 'Marek', 'last_name', 'Michalski', 'age', '27');
    const row = await waitFor('the row', () => env.row('5'), 30_000);
    expect({ first: row['first'], last: row['last'], age: row['age'] }).toEqual({ first: 'Marek', last: 'Michalski', age: 27 });
  }, 120_000);

  it('a recipe whose driver is not installed is refused by the runtime, naming the package and its install command; nothing is stored', async () => {
    expect(runtime?.exitCode, runtimeLog).toBeNull();
    writeFileSync(join(project, 'pg.recipe.ts'), `import { PostgresConnection, PostgresConnector, writeBehind } from 'wbsync';
export default writeBehind({
  name: '${env.name}_pg',
  version: '1',
  connector: new PostgresConnector(new PostgresConnection('postgres', '', '127.0.0.1:5432/test'), 't_${env.id}', 'id'),
  keysPrefix: '${env.prefix}pg',
  mappings: { a: 'a' },
});
`);
    const up = await run('npx', ['wb-cli', 'upload', 'pg.recipe.ts', '--timeout', '30', ...env.flags], project);
    expect(up.code, up.out).toBe(1);
    expect(up.out).toContain("needs the npm package 'pg'");
    expect(up.out).toContain('npm install pg@8');
    expect(up.out).toContain('upload refused, nothing stored (the running version stays everywhere)');
    const list = await run('npx', ['wb-cli', 'list', '--json', ...env.flags], project);
    expect((JSON.parse(list.out.slice(list.out.indexOf('['))) as Array<{ name: string }>).map((r) => r.name)).toEqual([env.name]);
    // The other recipe keeps syncing.
    await env.redis.hset(`${env.prefix}:6`, 'first_name', 'Ada');
    expect((await waitFor('the next row', () => env.row('6'), 30_000))['first']).toBe('Ada');
  }, 90_000);
});
