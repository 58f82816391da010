// Redis Sentinel over TLS: the master, the replica and the three sentinels listen with TLS only
// and require client certificates (made here with openssl, in a temp folder), and replication
// and the sentinels' own links go over TLS too. The bins get `--sentinel … --sentinel-master …
// --tls --tls-ca … --tls-cert … --tls-key …` and reach the sentinels, the master and (for the
// runtime's checks) the replica with the same files. The seed journey runs through them; without
// the TLS flags wb-cli gives up at once; after a kill -9 of the master the runtime follows the
// promoted replica, over TLS, and a write made there reaches the table.
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestEnv } from '../helpers/env.ts';
import { cli, startRuntime, type CliResult, type RuntimeProcess } from '../helpers/processes.ts';
import { SENTINEL_MASTER, TestSentinel } from '../helpers/redis-sentinel.ts';
import { makeTestPki, type TestPki } from '../helpers/tls.ts';
import { expectVerifyClean } from '../helpers/verify.ts';
import { waitFor } from '../helpers/wait.ts';

const MAPPINGS = { first_name: 'first', age: 'age' };

const explain = (r: CliResult): string => `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;

describe('Redis Sentinel over TLS', () => {
  let pki: TestPki;
  let sentinel: TestSentinel;
  let env: TestEnv;
  let rt: RuntimeProcess | undefined;

  beforeAll(async () => {
    pki = makeTestPki();
    sentinel = new TestSentinel({ tls: { server: pki.server, client: pki.client } });
    await sentinel.start();
    // The bins get `--sentinel … --sentinel-master … --tls --tls-ca … --tls-cert … --tls-key …`.
    env = new TestEnv(sentinel.master.url, { connection: sentinel.flags, client: sentinel.client() });
  }, 60_000);

  afterAll(async () => {
    await rt?.stop();
    await env?.db.query(`DROP TABLE IF EXISTS \`${env.table}\``);
    env?.redis.disconnect();
    await env?.db.end();
    await sentinel?.stop();
    if (pki) rmSync(pki.dir, { recursive: true, force: true });
  });

  it('the seed journey through --sentinel with --tls and the files: tune, upload, rows arrive, status, verify clean', async () => {
    expect(sentinel.flags).toEqual(expect.arrayContaining(['--sentinel', '--sentinel-master', '--tls', '--tls-ca', '--tls-cert', '--tls-key']));
    await env.createTable('first VARCHAR(20), age INT');
    const user = await env.cli(['tune', 'param', 'MySqlUser', 'root']);
    expect(user.code, explain(user)).toBe(0);
    const password = await env.cli(['tune', 'param', 'MySqlPassword', '--stdin'], '\n');
    expect(password.code, explain(password)).toBe(0);
    // Entries left pending across the failover are claimed after 3 s idle, not the default 30 s:
    // over TLS, about one failover in four still leaves some to the idle claim after the
    // connection comes back (not understood yet; sentinel.test.ts runs with the default).
    rt = await startRuntime(env.runtimeArgs(['--claim-idle-ms', '3000']));
    await env.upload(env.writeRecipe({ version: '1', mappings: MAPPINGS }), rt);
    await env.reconciled();
    for (let i = 0; i < 50; i++) await env.redis.hset(`${env.prefix}:${i}`, 'first_name', `n${i}`, 'age', String(i));
    await waitFor('50 rows', async () => (await env.count()) === 50, 20_000);
    expect(await env.row('7')).toMatchObject({ first: 'n7', age: 7 });
    const status = await env.cli(['status']);
    expect(status.code, explain(status)).toBe(0);
    expect(status.stdout).toContain(env.name);
    // status read the master the sentinels name, reached through them (all over TLS).
    expect(status.stdout).toContain(`redis: 127.0.0.1:${sentinel.master.port} (master), reached as master '${SENTINEL_MASTER}' via sentinel ${sentinel.addresses}`);
    await expectVerifyClean(env, 20_000);
  }, 45_000);

  it('without the TLS flags (or with only the CA, no client certificate) wb-cli exits 1 at once: the sentinels close the connection', async () => {
    const gaveUp = (r: CliResult): void => {
      expect(r.code, explain(r)).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toBe(`wb-cli: cannot reach Redis at master '${SENTINEL_MASTER}' via sentinel ${sentinel.addresses}: All sentinels are unreachable and retry is disabled. Last error: Connection is closed. (a sentinel that requires TLS closes a connection without it: check --tls, --tls-ca, --tls-cert and --tls-key)\n`);
    };
    const started = Date.now();
    gaveUp(await cli(['status', '--sentinel', sentinel.addresses, '--sentinel-master', SENTINEL_MASTER, '--namespace', env.ns]));
    gaveUp(await cli(['status', '--sentinel', sentinel.addresses, '--sentinel-master', SENTINEL_MASTER, '--tls-ca', pki.client.ca, '--namespace', env.ns]));
    expect(Date.now() - started).toBeLessThan(10_000);
  }, 20_000);

  it('the master killed with kill -9: the runtime follows the promoted replica over TLS, and a write made there reaches the table', async () => {
    expect(await sentinel.masterPort()).toBe(sentinel.master.port);
    await sentinel.master.kill9();
    await waitFor('the replica promoted', async () => (await sentinel.masterPort()) === sentinel.replica.port, 20_000, 200);
    // The test's own client follows the sentinels too: this write lands on the promoted replica.
    // Tried again: ioredis fails the commands it queued with "Connection is closed." when its
    // failover detector closes the client while it asks the sentinels (CI saw it once).
    await waitFor('the write on the promoted replica', async () => (await env.redis.hset(`${env.prefix}:after`, 'first_name', 'promoted', 'age', '99')) >= 0, 20_000, 200);
    await waitFor('the write made after the failover, in the table', async () => (await env.row('after'))?.['first'] === 'promoted', 20_000, 200);
    expect(rt?.hasLog((l) => String(l['msg']).includes('another server than before')), rt?.lines.join('\n')).toBe(true);
    const status = await env.cli(['status']);
    expect(status.code, explain(status)).toBe(0);
    expect(status.stdout).toContain(`redis: 127.0.0.1:${sentinel.replica.port} (master), reached as master '${SENTINEL_MASTER}' via sentinel ${sentinel.addresses}`);
    await expectVerifyClean(env, 20_000);
  }, 45_000);
});
