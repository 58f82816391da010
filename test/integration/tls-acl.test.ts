// TLS and ACL, proven with the real bins against private redis-servers:
// - TLS: a server that listens only with TLS and requires client certificates (made here with
//   openssl, in a temp folder); `wb-cli tune`, `upload` and `status` and `wb-runtime` connect
//   with --tls-ca/--tls-cert/--tls-key (the CLI through a rediss:// URL, the runtime through
//   --host/--port --tls), and a change syncs. A CA the server does not use fails at once, with
//   Node's reason.
// - ACL: the two users of docs/security.md, created from the doc's lines as written (and its
//   write-through lines, with a write-through recipe); the runtime (user in WB_REDIS_URL,
//   password in WB_REDIS_PASSWORD) and the CLI run as them, every command they send is allowed
//   (ACL LOG shows no refusal but CONFIG GET, which the doc leaves out on purpose), and a
//   permission taken away fails loudly.
import { spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MYSQL, TestEnv } from '../helpers/env.ts';
import { cli, RuntimeProcess, startRuntime, type CliResult } from '../helpers/processes.ts';
import { freePort, TestRedis } from '../helpers/redis-server.ts';
import { makeTestPki, type TestPki } from '../helpers/tls.ts';
import { uid, waitFor } from '../helpers/wait.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Starts `wb-runtime` without waiting for it to run (for starts that must not succeed). */
function spawnRuntime(args: readonly string[], env?: NodeJS.ProcessEnv): { rt: RuntimeProcess; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [join(ROOT, 'bin/wb-runtime.js'), '--retry-max-ms', '1000', '--log-level', 'debug', ...args], {
    cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env },
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { rt: new RuntimeProcess(child), exited };
}

const explain = (r: CliResult): string => `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;

describe('TLS with client certificates', () => {
  const port = freePort();
  let pki: TestPki;
  let server: TestRedis;
  let env: TestEnv;
  let rt: RuntimeProcess | undefined;
  const tlsFlags = (ca = pki.client.ca): string[] => ['--tls-ca', ca, '--tls-cert', pki.client.cert, '--tls-key', pki.client.key];

  beforeAll(async () => {
    pki = makeTestPki();
    server = new TestRedis(port, [], { server: pki.server, client: pki.client });
    await server.start();
    // The CLI goes through `--url rediss://127.0.0.1:<port>` plus the TLS files.
    env = new TestEnv(server.url, { redis: server.clientOptions, flags: tlsFlags() });
  });

  afterAll(async () => {
    await rt?.stop();
    await env?.close();
    await server?.stop();
    if (pki) rmSync(pki.dir, { recursive: true, force: true });
  });

  it('tune, upload, the runtime and a synced change all go over TLS', async () => {
    await env.createTable();
    const tuned = await env.cli(['tune', 'param', 'MySqlUser', MYSQL.user]);
    expect(tuned.code, explain(tuned)).toBe(0);
    // `tune param` refuses an empty value, and the test's MariaDB root has no password.
    await env.redis.hset(`${env.ns}:params`, 'MySqlPassword', MYSQL.password);
    // The runtime goes through --host/--port with --tls and the files.
    rt = await startRuntime(['--host', '127.0.0.1', '--port', String(port), '--tls', ...tlsFlags(), '--namespace', env.ns, '--id', `rt-${env.id}`]);
    const up = await env.upload(env.writeRecipe({ version: '1' }), rt);
    expect(up.stdout).toContain(`loaded by runtime rt-${env.id}`);
    await env.redis.hset(`${env.prefix}:1`, 'first_name', 'Ada', 'last_name', 'Lovelace', 'age', '36');
    await waitFor('the row over TLS', async () => (await env.row('1'))?.['first'] === 'Ada');
    const status = await env.cli(['status', '--json']);
    expect(status.code, explain(status)).toBe(0);
    const parsed = JSON.parse(status.stdout) as { recipes: Array<{ name: string; state: string; synced: number }>; runtimes: Array<{ id: string }> };
    expect(parsed.recipes).toEqual([expect.objectContaining({ name: env.name, state: 'loaded', synced: 1 })]);
    expect(parsed.runtimes.map((r) => r.id)).toEqual([`rt-${env.id}`]);
  });

  it('a CA the server does not use: wb-cli exits 1 at once naming the certificate problem', async () => {
    const started = Date.now();
    const r = await cli(['status', '--host', '127.0.0.1', '--port', String(port), ...tlsFlags(pki.otherCa), '--namespace', env.ns]);
    expect(r.code, explain(r)).toBe(1);
    expect(r.stderr).toBe(`wb-cli: cannot reach Redis at 127.0.0.1:${port}: self-signed certificate in certificate chain\n`);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('a CA the server does not use: the runtime does not start and logs the certificate problem', async () => {
    const { rt: bad } = spawnRuntime(['--url', server.url, ...tlsFlags(pki.otherCa), '--namespace', `${env.ns}x`, '--id', `bad-${env.id}`]);
    try {
      await waitFor('the certificate problem in the log', () => bad.hasLog((l) => l['msg'] === 'redis connection error' && l['err'] === 'self-signed certificate in certificate chain'), 15_000);
      expect(bad.hasLog((l) => l['msg'] === 'runtime running')).toBe(false);
    } finally {
      await bad.kill9();
    }
  });

  it('without a client certificate, or without TLS, wb-cli exits 1', async () => {
    const noCert = await cli(['status', '--url', server.url, '--tls-ca', pki.client.ca, '--namespace', env.ns]);
    expect(noCert.code, explain(noCert)).toBe(1);
    expect(noCert.stderr).toMatch(new RegExp(`^wb-cli: cannot reach Redis at 127\\.0\\.0\\.1:${port}: .+`));
    const plain = await cli(['status', '--url', `redis://127.0.0.1:${port}`, '--namespace', env.ns]);
    expect(plain.code, explain(plain)).toBe(1);
    expect(plain.stderr).toMatch(new RegExp(`^wb-cli: cannot reach Redis at 127\\.0\\.0\\.1:${port}: .+`));
  });
});

/**
 * The `ACL SETUSER` lines in the code blocks of one section of docs/security.md (up to the next
 * heading), for this test's namespace, prefix and passwords: `wb:` and `person:` as written
 * there become `<ns>:` and `<prefix>:`.
 */
function aclLines(heading: string, ns: string, prefix: string, passwords: { runtime: string; cli: string }): string[][] {
  const doc = readFileSync(join(ROOT, 'docs/security.md'), 'utf8');
  const start = doc.indexOf(`\n${heading}\n`);
  if (start < 0) throw new Error(`docs/security.md has no heading '${heading}'`);
  const next = /\n#{1,6} /g;
  next.lastIndex = start + heading.length + 1;
  const end = next.exec(doc)?.index;
  const section = doc.slice(start, end);
  const lines = [...section.matchAll(/^```\w*\n([\s\S]*?)^```$/gm)]
    .flatMap((m) => (m[1] ?? '').split('\n'))
    .filter((l) => l.startsWith('ACL SETUSER '));
  if (lines.length === 0) throw new Error(`no ACL SETUSER lines under '${heading}'`);
  return lines.map((l) =>
    l.replace(/\bwb:/g, `${ns}:`).replace(/person:/g, `${prefix}:`)
      .replace('>RUNTIME-PASSWORD', `>${passwords.runtime}`).replace('>CLI-PASSWORD', `>${passwords.cli}`)
      .split(/\s+/).slice(2));
}

const MAIN = '## Least-privilege users';
const WRITE_THROUGH = '### Write-through recipes';

describe('ACL: the least-privilege users of docs/security.md', () => {
  const port = freePort();
  // Keyspace notifications are set on the server, as the doc says: the runtime has no CONFIG.
  const server = new TestRedis(port, ['--notify-keyspace-events', 'Kgh$xe']);
  let env: TestEnv;
  let rt: RuntimeProcess | undefined;
  const passwords = { runtime: `rt-${uid()}${uid()}`, cli: `cli-${uid()}${uid()}` };
  let lines: string[][];
  // The runtime as an environment file would set it up: user in the URL, password apart.
  const runtimeEnv = (): NodeJS.ProcessEnv => ({ WB_REDIS_URL: `redis://wb-runtime@127.0.0.1:${port}`, WB_REDIS_PASSWORD: passwords.runtime });
  const asCli = (args: readonly string[], input?: string): Promise<CliResult> =>
    cli([...args, '--host', '127.0.0.1', '--port', String(port), '--user', 'wb-cli', '--namespace', env.ns], input, { WB_REDIS_PASSWORD: passwords.cli });
  const aclLog = async (): Promise<Array<{ username: string; object: string; reason: string; context: string }>> => {
    const raw = (await env.redis.call('ACL', 'LOG')) as unknown[][];
    return raw.map((entry) => {
      const o: Record<string, unknown> = {};
      for (let i = 0; i + 1 < entry.length; i += 2) o[String(entry[i])] = entry[i + 1];
      return { username: String(o['username']), object: String(o['object']), reason: String(o['reason']), context: String(o['context']) };
    });
  };

  beforeAll(async () => {
    await server.start();
    env = new TestEnv(server.url);
    lines = aclLines(MAIN, env.ns, env.prefix, passwords);
    for (const args of lines) await env.redis.call('ACL', 'SETUSER', ...args);
  });

  afterAll(async () => {
    await rt?.stop();
    await env.close();
    await server.stop();
  });

  it('the doc has both users, each starting from reset', () => {
    const users = lines.map((l) => l[0]);
    expect(new Set(users)).toEqual(new Set(['wb-runtime', 'wb-cli']));
    expect(lines.filter((l) => l[1] === 'reset').map((l) => l[0])).toEqual(['wb-runtime', 'wb-cli']);
  });

  it('the runtime and the CLI, each as its user: upload, sync, # acks, status, verify --fix, pause, dlq', async () => {
    await env.createTable();
    const tuned = await asCli(['tune', 'param', 'MySqlUser', MYSQL.user]);
    expect(tuned.code, explain(tuned)).toBe(0);
    await env.redis.hset(`${env.ns}:params`, 'MySqlPassword', MYSQL.password); // tune refuses an empty value
    rt = await startRuntime(['--namespace', env.ns, '--id', `rt-${env.id}`], runtimeEnv());
    const up = await asCli(['upload', env.writeRecipe({ version: '1' }), '--timeout', '30']);
    expect(up.code, `${explain(up)}\nruntime log:\n${rt.lines.join('\n')}`).toBe(0);
    expect(up.stdout).toContain(`loaded by runtime rt-${env.id}`);

    // The application (here the default user) writes; the row arrives.
    await env.redis.hset(`${env.prefix}:1`, 'first_name', 'Ada', 'age', '36');
    await waitFor('the row', async () => (await env.row('1'))?.['first'] === 'Ada');
    // RGSync's `#` with an ack id: the script removes `#`, the runtime writes {key}ack.
    await env.redis.hset(`${env.prefix}:2`, 'first_name', 'Bob', '#', '=a1');
    await waitFor('the acknowledgement', async () => (await env.redis.xrange(`{${env.prefix}:2}a1`, '-', '+')).length === 1);
    expect(await env.redis.hexists(`${env.prefix}:2`, '#')).toBe(0);
    expect((await env.row('2'))?.['first']).toBe('Bob');

    // `# ~` with an ack: the script deletes the key itself, the row goes, the ack is written.
    await env.redis.hset(`${env.prefix}:5`, 'first_name', 'Eve');
    await waitFor('row 5', async () => (await env.row('5')) !== undefined);
    await env.redis.hset(`${env.prefix}:5`, '#', '~a2');
    await waitFor('row 5 deleted', async () => (await env.row('5')) === undefined);
    expect(await env.redis.exists(`${env.prefix}:5`)).toBe(0);
    expect((await env.redis.xrange(`{${env.prefix}:5}a2`, '-', '+')).length).toBe(1);
    // A key of another type is dead-lettered (the script asks its TYPE).
    await env.redis.set(`${env.prefix}:9`, 'not a hash');
    await waitFor('a dead letter', async () => (await env.redis.xlen(`${env.ns}:dlq:${env.name}`)) === 1);

    for (const args of [['status'], ['list'], ['params'], ['dlq', env.name], ['dlq', env.name, '--replay']]) {
      const r = await asCli(args);
      expect(r.code, `${args.join(' ')}: ${explain(r)}`).toBe(0);
    }
    // The replayed key is still not a hash: dead-lettered again; then purged.
    await waitFor('the replayed dead letter', async () => (await env.redis.xlen(`${env.ns}:dlq:${env.name}`)) === 1);
    const purged = await asCli(['dlq', env.name, '--purge']);
    expect(purged.code, explain(purged)).toBe(0);
    const status = await asCli(['status', '--json']);
    const parsed = JSON.parse(status.stdout) as { recipes: Array<{ name: string; state: string; synced: number }>; runtimes: Array<{ id: string }> };
    expect(parsed.recipes).toEqual([expect.objectContaining({ name: env.name, state: 'loaded', synced: 4 })]);
    expect(parsed.runtimes.map((r) => r.id)).toEqual([`rt-${env.id}`]);
    // The same version again is refused by the version rules (WATCH ... UNWATCH).
    const same = await asCli(['upload', env.writeRecipe({ version: '1' }), '--timeout', '30']);
    expect(same.code, explain(same)).toBe(1);
    expect(same.stderr).toContain('upload refused');

    await env.redis.del(`${env.prefix}:9`); // verify would report it (not a hash) and exit 1

    // verify reads the keys; --fix runs the capture script as the CLI user.
    await env.db.query(`UPDATE \`${env.table}\` SET first = 'zz' WHERE id = '1'`);
    const differs = await asCli(['verify', env.name]);
    expect(differs.code, explain(differs)).toBe(1);
    const fixed = await asCli(['verify', env.name, '--fix']);
    expect(fixed.code, explain(fixed)).toBe(0);
    await waitFor('the row repaired', async () => (await env.row('1'))?.['first'] === 'Ada');
    // A row whose key is gone: --delete-extra deletes it through the backlog.
    await env.db.query(`INSERT INTO \`${env.table}\` (id, first) VALUES ('extra', 'x')`);
    const extra = await asCli(['verify', env.name, '--fix', '--delete-extra']);
    expect(extra.code, explain(extra)).toBe(0);
    await waitFor('the extra row deleted', async () => (await env.row('extra')) === undefined);

    const paused = await asCli(['pause', env.name]);
    expect(paused.code, explain(paused)).toBe(0);
    await waitFor('paused', async () => (await env.redis.hget(`${env.ns}:status:${env.name}`, 'state')) === 'paused');
    const resumed = await asCli(['resume', env.name]);
    expect(resumed.code, explain(resumed)).toBe(0);
    await env.redis.hset(`${env.prefix}:3`, 'first_name', 'Cy');
    await waitFor('a change after resume', async () => (await env.row('3'))?.['first'] === 'Cy');

    // Every command both bins sent was allowed, but CONFIG GET (left out on purpose)...
    const refused = await aclLog();
    expect(refused.filter((e) => e.object !== 'config|get'), JSON.stringify(refused)).toEqual([]);
    expect(refused.every((e) => e.username === 'wb-runtime')).toBe(true);
    // ...which the runtime reports and goes on without.
    expect(rt.hasLog((l) => l['level'] === 50 && String(l['msg']).startsWith('cannot read notify-keyspace-events') && String(l['msg']).includes('NOPERM'))).toBe(true);
    expect(rt.hasLog((l) => String(l['msg']).startsWith('cannot read maxmemory-policy'))).toBe(true);
    expect(rt.hasLog((l) => String(l['msg']).startsWith('cannot watch for flush notices'))).toBe(false);
  });

  it('the runtime user cannot change the configuration or write outside its patterns', async () => {
    const asRuntime = new Redis({ port, username: 'wb-runtime', password: passwords.runtime, maxRetriesPerRequest: 0 });
    try {
      await expect(asRuntime.config('SET', 'notify-keyspace-events', '')).rejects.toThrow(/NOPERM/);
      await expect(asRuntime.set('other:1', 'x')).rejects.toThrow(/NOPERM/);
      await expect(asRuntime.flushall()).rejects.toThrow(/NOPERM/);
    } finally {
      asRuntime.disconnect();
    }
  });

  it('a command taken from the runtime (XADD) is logged and retried, ACL LOG names it; given back, the change arrives', async () => {
    const running = rt as RuntimeProcess;
    await env.redis.call('ACL', 'LOG', 'RESET');
    await env.redis.call('ACL', 'SETUSER', 'wb-runtime', '-xadd');
    try {
      await env.redis.hset(`${env.prefix}:4`, 'first_name', 'Dee');
      // Redis 7.0 words a refusal inside a script without the command's name...
      await waitFor('the refusal in the log', () =>
        running.hasLog((l) => l['msg'] === 'capture failed; retrying' && String(l['err']).includes("The user executing the script can't run this command")), 15_000);
      // ...which ACL LOG gives.
      expect(await aclLog()).toContainEqual({ username: 'wb-runtime', object: 'xadd', reason: 'command', context: 'lua' });
      expect(await env.row('4')).toBeUndefined();
    } finally {
      await env.redis.call('ACL', 'SETUSER', 'wb-runtime', '+xadd');
    }
    await waitFor('the change after the permission is back', async () => (await env.row('4'))?.['first'] === 'Dee');
  });

  it('after FLUSHALL the runtime user puts back the recipe it was running (it writes <ns>:recipes and <ns>:code:*)', async () => {
    await env.redis.call('ACL', 'LOG', 'RESET');
    await env.redis.flushall();
    await waitFor('the recipe restored', async () => (await env.redis.hexists(`${env.ns}:recipes`, env.name)) === 1 && (await env.redis.exists(`${env.ns}:code:${env.name}`)) === 1, 20_000);
    // The parameters went with the flush: tuned again, a change syncs.
    const tuned = await asCli(['tune', 'param', 'MySqlUser', MYSQL.user]);
    expect(tuned.code, explain(tuned)).toBe(0);
    await env.redis.hset(`${env.ns}:params`, 'MySqlPassword', MYSQL.password);
    await env.redis.hset(`${env.prefix}:6`, 'first_name', 'Fay');
    await waitFor('a change after the flush', async () => (await env.row('6'))?.['first'] === 'Fay', 30_000);
    expect((await aclLog()).filter((e) => e.object !== 'config|get')).toEqual([]);
  });

  it('without its namespace pattern the runtime exits 1 at start, naming the refusal', async () => {
    expect(await (rt as RuntimeProcess).stop()).toBe(0);
    rt = undefined;
    // The lines of the doc for the keys, without `~<ns>:*`.
    const keyLine = lines.find((l) => l[0] === 'wb-runtime' && l.some((a) => a === `~${env.ns}:*`)) as string[];
    await env.redis.call('ACL', 'SETUSER', 'wb-runtime', 'resetkeys', ...keyLine.slice(1).filter((a) => a !== `~${env.ns}:*`));
    const { rt: bad, exited } = spawnRuntime(['--namespace', env.ns, '--id', `rt-${env.id}`], runtimeEnv());
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([exited, new Promise<string>((resolve) => (timer = setTimeout(() => resolve('still running after 20 s'), 20_000)))]);
    clearTimeout(timer);
    if (code === 'still running after 20 s') await bad.kill9();
    expect(code, bad.lines.join('\n')).toBe(1);
    expect(bad.hasLog((l) => l['msg'] === 'runtime failed to start' && l['err'] === 'NOPERM this user has no permissions to access one of the keys used as arguments')).toBe(true);
  });

  it('a permission taken from the CLI user fails the command with NOPERM naming it', async () => {
    await env.redis.call('ACL', 'SETUSER', 'wb-cli', '-xlen');
    const r = await asCli(['status']);
    expect(r.code, explain(r)).toBe(1);
    expect(r.stderr).toBe("wb-cli: unexpected error: NOPERM this user has no permissions to run the 'xlen' command\n");
    await env.redis.call('ACL', 'SETUSER', 'wb-cli', '+xlen');
    await env.redis.call('ACL', 'LOG', 'RESET');
    const again = await asCli(['status']);
    expect(again.code, explain(again)).toBe(0);
    const gone = await asCli(['unregister', env.name]);
    expect(gone.code, explain(gone)).toBe(0);
    expect(await aclLog()).toEqual([]);
  });
});

describe('ACL: a write-through recipe with the lines docs/security.md adds for it', () => {
  const port = freePort();
  const server = new TestRedis(port, ['--notify-keyspace-events', 'Kgh$xe']);
  let env: TestEnv;
  let rt: RuntimeProcess | undefined;
  const passwords = { runtime: `rt-${uid()}${uid()}`, cli: `cli-${uid()}${uid()}` };
  const asCli = (args: readonly string[]): Promise<CliResult> =>
    cli([...args, '--url', `redis://wb-cli@127.0.0.1:${port}`, '--namespace', env.ns], undefined, { WB_REDIS_PASSWORD: passwords.cli });

  beforeAll(async () => {
    await server.start();
    env = new TestEnv(server.url);
    for (const heading of [MAIN, WRITE_THROUGH]) {
      for (const args of aclLines(heading, env.ns, env.prefix, passwords)) await env.redis.call('ACL', 'SETUSER', ...args);
    }
  });

  afterAll(async () => {
    await rt?.stop();
    await env.close();
    await server.stop();
  });

  it('a staged change reaches the row and then the target key; verify is clean; nothing refused but CONFIG GET', async () => {
    await env.createTable();
    await env.tuneCredentials();
    rt = await startRuntime(['--namespace', env.ns, '--id', `rt-${env.id}`],
      { WB_REDIS_URL: `redis://wb-runtime@127.0.0.1:${port}`, WB_REDIS_PASSWORD: passwords.runtime });
    const file = env.writeRecipe({ version: '1' });
    writeFileSync(file, readFileSync(file, 'utf8').replace(/writeBehind/g, 'writeThrough'));
    const up = await asCli(['upload', file, '--timeout', '30']);
    expect(up.code, `${explain(up)}\nruntime log:\n${rt.lines.join('\n')}`).toBe(0);
    await env.redis.hset(`__{${env.prefix}:1}`, 'first_name', 'Ada', 'age', '36', '#', '=w1');
    await waitFor('the row', async () => (await env.row('1'))?.['first'] === 'Ada');
    await waitFor('the target key', async () => (await env.redis.hget(`${env.prefix}:1`, 'first_name')) === 'Ada');
    await waitFor('the acknowledgement', async () => (await env.redis.xrange(`{${env.prefix}:1}w1`, '-', '+')).length === 1);
    expect(await env.redis.exists(`__{${env.prefix}:1}`)).toBe(0);
    const verify = await asCli(['verify', env.name]);
    expect(verify.code, explain(verify)).toBe(0);
    // The marks of applied changes are pruned (at most every 5 s, after a finish) with the
    // commands the doc's lines add.
    await new Promise((r) => setTimeout(r, 5200));
    await env.redis.hset(`__{${env.prefix}:2}`, 'first_name', 'Bob');
    await waitFor('row 2', async () => (await env.row('2'))?.['first'] === 'Bob');
    await waitFor('marks pruned', async () => (await env.redis.exists(`${env.ns}:wtmarks:${env.name}`)) === 0);
    const raw = (await env.redis.call('ACL', 'LOG')) as unknown[][];
    const refused = raw.map((e) => String(e[e.indexOf('object') + 1]));
    expect(refused.filter((o) => o !== 'config|get')).toEqual([]);
  });
});
