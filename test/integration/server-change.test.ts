// After a failover (or a restart from a persistence file) the server that answers may hold
// backlog entries whose delivery and acknowledgement it never heard of: older states of keys the
// table already has newer ones of. The runtime notices that Redis is another server (its run_id)
// and re-reads every entry held then before writing it. Made deterministic here: a stale entry
// sits undelivered (the recipe paused) when Redis restarts from its AOF; a proxy in front of
// MariaDB records every statement, and none may carry the stale value.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partitionOf } from '../../runtime/backlog/partition.ts';
import { addBacklogEntry, PARTITIONS } from '../helpers/backlog.ts';
import { diffTable } from '../helpers/compare.ts';
import { MYSQL, TestEnv } from '../helpers/env.ts';
import { startRuntime, type RuntimeProcess } from '../helpers/processes.ts';
import { freePort, TestRedis } from '../helpers/redis-server.ts';
import { TcpProxy } from '../helpers/tcp-proxy.ts';
import { expectVerifyClean } from '../helpers/verify.ts';
import { waitFor } from '../helpers/wait.ts';

const MAPPINGS = { first_name: 'first', age: 'age' };

describe('Redis turns out to be another server', () => {
  const server = new TestRedis(freePort(), ['--appendonly', 'yes', '--appendfsync', 'always']);
  let env: TestEnv;
  let proxy: TcpProxy;
  let rt: RuntimeProcess;
  const sent: string[] = [];

  beforeAll(async () => {
    await server.start();
    env = new TestEnv(server.url);
    proxy = await TcpProxy.start(MYSQL.host, MYSQL.port);
    proxy.onClientData = (chunk) => sent.push(chunk.toString('latin1'));
    await env.createTable('first VARCHAR(20), age INT');
    await env.tuneCredentials();
    rt = await startRuntime(env.runtimeArgs());
    await env.upload(env.writeRecipe({ version: '1', mappings: MAPPINGS, dbAddress: { host: '127.0.0.1', port: proxy.port } }), rt);
    await env.reconciled();
  }, 60_000);

  afterAll(async () => {
    await rt?.stop();
    await env?.close();
    await proxy?.close();
    await server.stop();
  });

  it('entries the backlog held when it changed are re-read before they are written', async () => {
    const key = `${env.prefix}:1`;
    await env.redis.hset(key, 'first_name', 'fresh', 'age', '2');
    await waitFor('the fresh row', async () => (await env.row('1'))?.['first'] === 'fresh');
    // What a promoted replica can hold: an older state of the key, never delivered as far as it
    // knows, and an entry of another key of the same partition behind it (so the stale one is
    // not read in one batch with the reconcile's snapshot of the key, which would hide it).
    const other = `${env.prefix}:${Array.from({ length: 1000 }, (_, i) => i + 2).find((i) => partitionOf(`${env.prefix}:${i}`, PARTITIONS) === partitionOf(key, PARTITIONS))}`;
    await env.redis.hset(other, 'first_name', 'other', 'age', '5');
    await waitFor('the other row', async () => (await env.count()) === 2);
    expect((await env.cli(['pause', env.name])).code).toBe(0);
    await waitFor('paused', async () => (await env.redis.hget(`${env.ns}:status:${env.name}`, 'state')) === 'paused');
    await addBacklogEntry(env, key, [key, 'u:2:', 'first_name', 'stale', 'age', '1']);
    await addBacklogEntry(env, other, [other, 'u:2:', 'first_name', 'other', 'age', '5']);
    await server.kill9();
    await server.start();
    await waitFor('the runtime sees another server', async () => rt.hasLog((r) => String(r['msg']).includes('another server than before')), 30_000);
    expect((await env.cli(['resume', env.name])).code).toBe(0);
    await expectVerifyClean(env);
    expect(await diffTable(env, MAPPINGS)).toEqual([]);
    expect((await env.row('1'))?.['first']).toBe('fresh');
    // The proxy saw the writes, and none of them carried the stale state.
    expect(sent.some((s) => s.includes('fresh'))).toBe(true);
    expect(sent.filter((s) => s.includes('stale'))).toEqual([]);
  }, 90_000);
});
