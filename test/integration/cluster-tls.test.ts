// A Redis Cluster over TLS: three masters listening with TLS only and requiring client
// certificates (made here with openssl), the cluster bus over TLS too. The bins get one node
// with `--tls --tls-ca … --tls-cert … --tls-key …`, reach every master (commands, the per-master
// subscriptions, the node configuration) with the same files, and the seed journey runs.
import { rmSync } from 'node:fs';
import { Cluster, type Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { diffRows } from '../helpers/compare.ts';
import { TestEnv } from '../helpers/env.ts';
import { cli, startRuntime, type RuntimeProcess } from '../helpers/processes.ts';
import { TestCluster } from '../helpers/redis-cluster.ts';
import { makeTestPki, type TestPki } from '../helpers/tls.ts';
import { waitFor } from '../helpers/wait.ts';

const MAPPINGS = { first_name: 'first', last_name: 'last', age: 'age' };

describe('the bins on a Redis Cluster over TLS', () => {
  let pki: TestPki;
  let cluster: TestCluster;
  let env: TestEnv;
  let all: Cluster;
  let rt: RuntimeProcess | undefined;
  let flags: string[];

  beforeAll(async () => {
    pki = makeTestPki();
    cluster = new TestCluster(3, 0, [], undefined, { server: pki.server, client: pki.client });
    await cluster.start();
    const port = cluster.ports[1] as number;
    flags = ['--host', '127.0.0.1', '--port', String(port), '--tls', '--tls-ca', pki.client.ca, '--tls-cert', pki.client.cert, '--tls-key', pki.client.key];
    all = new Cluster(cluster.ports.map((p) => ({ host: '127.0.0.1', port: p })), { redisOptions: { maxRetriesPerRequest: null, ...cluster.nodes[0]?.clientOptions } });
    env = new TestEnv(`rediss://127.0.0.1:${port}`, { connection: flags, client: all as unknown as Redis });
    await env.createTable();
  }, 120_000);

  afterAll(async () => {
    await rt?.kill9();
    await env?.db.query(`DROP TABLE IF EXISTS \`${env.table}\``);
    await env?.close().catch(() => undefined);
    all?.disconnect();
    await cluster?.stop();
    if (pki) rmSync(pki.dir, { recursive: true, force: true });
  });

  it('the seed journey with the TLS flags: tune, upload, keys of every master arrive, status shows the masters, verify is clean', async () => {
    expect((await env.cli(['tune', 'param', 'MySqlUser', 'root'])).code).toBe(0);
    expect((await env.cli(['tune', 'param', 'MySqlPassword', '--stdin'], '\n')).code).toBe(0);
    rt = await startRuntime(env.runtimeArgs());
    const up = await env.cli(['upload', env.writeRecipe({ version: '1' }), '--wait']);
    expect(up.code, up.stderr).toBe(0);
    for (let i = 0; i < 300; i++) await all.hset(`${env.prefix}:${i}`, 'first_name', 'T', 'last_name', String(i), 'age', String(i));
    await waitFor('300 rows', async () => (await env.count()) === 300, 30_000, 250);
    const want = new Map<string, Record<string, string | null>>();
    for (let i = 0; i < 300; i++) want.set(String(i), { first: 'T', last: String(i), age: String(i) });
    expect(diffRows(want, await env.rows())).toStrictEqual([]);
    const status = await env.cli(['status']);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/cluster of 3 masters/);
    const verify = await env.cli(['verify', env.name]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  }, 120_000);

  it('wb-cli without the TLS flags exits 1 at once', async () => {
    const started = Date.now();
    const res = await cli(['status', '--host', '127.0.0.1', '--port', String(cluster.ports[0]), '--namespace', env.ns]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/^wb-cli: cannot reach Redis at 127\.0\.0\.1:\d+: /);
    expect(Date.now() - started).toBeLessThan(10_000);
  }, 30_000);
});
