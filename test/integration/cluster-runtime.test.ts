import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { clusterMasters, inRanges, slotOf, tagIn, type ClusterMaster } from '../../runtime/redis/cluster.ts';
import { diffRows } from '../helpers/compare.ts';
import { TestEnv } from '../helpers/env.ts';
import { startRuntime, type RuntimeProcess } from '../helpers/processes.ts';
import { TestCluster } from '../helpers/redis-cluster.ts';
import { RegressionPoller } from '../helpers/regression.ts';
import { waitFor } from '../helpers/wait.ts';

// The bins on a Redis Cluster (3 masters, 1 replica each, password-protected) started by the
// test: given any one node they detect the cluster, keep wbsync's keys in it (namespace-wide
// keys in one slot, each shard's beside its master's keys) and capture on every master.
const run = promisify(execFile);
const PASSWORD = 'cluster-secret';
const MAPPINGS = { first_name: 'first', last_name: 'last', age: 'age' };

describe('the runtime and the CLI on a Redis Cluster', () => {
  const cluster = new TestCluster(3, 1, [], PASSWORD);
  let env: TestEnv;
  let all: Cluster;
  const runtimes: RuntimeProcess[] = [];
  /** The bins' flags aimed at node `i` of the cluster. */
  const at = (i: number): string[] => ['--host', '127.0.0.1', '--port', String(cluster.ports[i]), '--password', PASSWORD];

  beforeAll(async () => {
    await cluster.start();
    all = new Cluster(cluster.ports.slice(0, 3).map((port) => ({ host: '127.0.0.1', port })), { redisOptions: { password: PASSWORD, maxRetriesPerRequest: null } });
    // The test's own client is the cluster; the bins reach it through node 0 unless told otherwise.
    env = new TestEnv(`redis://127.0.0.1:${cluster.ports[0]}`, { connection: at(0), client: all as unknown as Redis });
    await env.createTable();
  }, 120_000);

  afterAll(async () => {
    // Killed: the last test leaves the cluster without some slots, where a graceful stop would wait.
    await Promise.all(runtimes.map((rt) => rt.kill9()));
    await env?.db.query(`DROP TABLE IF EXISTS \`${env.table}\``);
    await env?.close().catch(() => undefined);
    all?.disconnect();
    await cluster.stop();
  });

  /** The masters now, as the first node that answers says (one may have been killed). */
  async function mastersNow(): Promise<ClusterMaster[]> {
    for (const node of cluster.nodes) {
      const conn = new Redis({ host: '127.0.0.1', port: node.port, password: PASSWORD, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      conn.on('error', () => undefined);
      try {
        await conn.connect();
        return await clusterMasters(conn);
      } catch {
        // the next node
      } finally {
        conn.disconnect();
      }
    }
    throw new Error('no node of the cluster answers');
  }

  /** What the cluster holds under the test's prefix, every master scanned: id -> expected row. */
  async function expected(): Promise<Map<string, Record<string, string | null>>> {
    const out = new Map<string, Record<string, string | null>>();
    for (const m of await mastersNow()) {
      const node = new Redis({ host: m.host, port: m.port, password: PASSWORD, maxRetriesPerRequest: 0 });
      try {
        for (let cursor = '0'; ;) {
          const [next, keys] = await node.scan(cursor, 'MATCH', `${env.prefix}:*`, 'COUNT', 1000);
          const p = node.pipeline();
          for (const k of keys) p.hgetall(k);
          const res = (await p.exec()) ?? [];
          keys.forEach((k, i) => {
            const h = (res[i]?.[1] ?? {}) as Record<string, string>;
            out.set(k.slice(env.prefix.length + 1), Object.fromEntries(Object.entries(MAPPINGS).map(([f, c]) => [c, h[f] ?? null])));
          });
          cursor = next;
          if (cursor === '0') break;
        }
      } finally {
        node.disconnect();
      }
    }
    return out;
  }

  /** Waits until the table equals the cluster key by key. */
  async function tableEqualsCluster(what: string, timeoutMs = 60_000): Promise<void> {
    let diffs: string[] = [];
    try {
      await waitFor(what, async () => {
        diffs = diffRows(await expected(), await env.rows());
        return diffs.length === 0;
      }, timeoutMs, 250);
    } catch (err) {
      throw new Error(`${(err as Error).message}: ${diffs.length} differences, e.g. ${diffs.slice(0, 5).join('; ')}\nruntime log tail:\n${runtimes.flatMap((r) => r.lines.slice(-40)).join('\n')}`);
    }
  }

  it('the seed journey through any node: tune, upload, keys of every slot range arrive, change, delete; status shows the masters; verify is clean', async () => {
    expect((await env.cli(['tune', 'param', 'MySqlUser', 'root'])).code).toBe(0);
    expect((await env.cli(['tune', 'param', 'MySqlPassword', '--stdin'], '\n')).code).toBe(0);
    // Keys written before the recipe exists are found by the first reconcile, on every master.
    for (let i = 0; i < 100; i++) await all.hset(`${env.prefix}:old${i}`, 'first_name', `old${i}`, 'age', String(i));
    runtimes.push(await startRuntime(env.runtimeArgs()));
    expect(runtimes[0]?.hasLog((r) => r['msg'] === 'Redis is a cluster: capturing on every master')).toBe(true);
    // Uploaded through another node than the runtime's.
    const up = await env.cli(['upload', env.writeRecipe({ version: '1' }), ...at(2).slice(2), '--wait']);
    expect(up.code, up.stderr).toBe(0);
    // --wait waits for the reconcile of every master's shard, not the first one done.
    expect(up.stdout).toContain('100 existing keys queued');
    const masters = await mastersNow();
    expect(masters).toHaveLength(3);
    // 600 keys: every master gets some.
    const keys = Array.from({ length: 600 }, (_, i) => `${env.prefix}:${i}`);
    for (const m of masters) expect(keys.some((k) => inRanges(slotOf(k), m.slots))).toBe(true);
    for (const k of keys) await all.hset(k, 'first_name', 'Ada', 'last_name', k, 'age', '1');
    await tableEqualsCluster('700 rows');
    expect(await env.count()).toBe(700);
    for (const k of keys.slice(0, 200)) await all.hset(k, 'age', '2');
    for (const k of keys.slice(200, 300)) await all.hdel(k, 'last_name');
    for (const k of keys.slice(300, 350)) await all.del(k);
    await tableEqualsCluster('changes and deletes');
    expect(await env.count()).toBe(650);

    type Report = { recipes: Array<{ name: string; synced: number; backlog: number; state: string }>; runtimes: Array<{ id: string; capture: boolean; partitions: Record<string, number[]> }>; redis: { masters: Array<{ address: string; shard: string }> } };
    const statusJson = async (): Promise<Report> => {
      const status = await env.cli(['status', '--json']);
      expect(status.code, status.stderr).toBe(0);
      return JSON.parse(status.stdout) as Report;
    };
    // One runtime captures and holds every shard's partitions (its heartbeat says so within a lease round).
    const report = await waitFor('every shard\'s partitions held', async () => {
      const r = await statusJson();
      const held = Object.entries(r.runtimes[0]?.partitions ?? {});
      return held.length === 3 && held.every(([, ps]) => ps.length === 8) ? r : undefined;
    }, 20_000, 500);
    expect(report.redis.masters.map((m) => m.address).sort()).toStrictEqual(masters.map((m) => `${m.host}:${m.port}`).sort());
    expect(Object.keys(report.runtimes[0]?.partitions ?? {}).sort()).toStrictEqual(report.redis.masters.map((m) => `${env.name}@${m.shard}`).sort());
    expect(report.runtimes).toHaveLength(1);
    expect(report.runtimes[0]?.capture).toBe(true);
    const recipe = report.recipes.find((r) => r.name === env.name);
    expect(recipe?.state).toBe('loaded');
    expect(recipe?.backlog).toBe(0);
    // 100 reconciled, 600 created, 200 + 100 updates, 50 deletes (a change may be coalesced with another).
    expect(recipe?.synced).toBeGreaterThanOrEqual(700);
    const text = await env.cli(['status']);
    expect(text.stdout).toMatch(/cluster of 3 masters/);
    for (const m of masters) expect(text.stdout).toMatch(new RegExp(`master ${m.host}:${m.port}: slots [^\\n]*, captured by rt-${env.id}\\n`));
    expect(report.redis.masters.every((m) => (m as { capturedBy?: string }).capturedBy === `rt-${env.id}`)).toBe(true);

    const verify = await env.cli(['verify', env.name]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    // Write-through does not run on a cluster yet: refused at upload with the reason.
    const through = env.writeRecipe({ version: '1', name: `Through_${env.id}`, table: `${env.table}_wt` });
    writeFileSync(through, readFileSync(through, 'utf8').replace(/writeBehind/g, 'writeThrough'));
    const refused = await env.cli(['upload', through]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('is write-through, which does not run on a Redis Cluster yet');
    // A row changed behind wbsync's back: verify finds it, --fix queues it on its master's shard.
    await env.db.query(`UPDATE \`${env.table}\` SET age = 99 WHERE id = ?`, ['0']);
    expect((await env.cli(['verify', env.name])).code).toBe(1);
    const fix = await env.cli(['verify', env.name, '--fix']);
    expect(fix.code, fix.stdout + fix.stderr).toBe(0);
    expect(fix.stdout).toContain('enqueued 1 keys to write again');
    await waitFor('row 0 fixed', async () => (await env.row('0'))?.['age'] === 2);
    expect((await env.cli(['verify', env.name])).code).toBe(0);
  }, 180_000);

  it('2,000 slots resharded from one master to another under load: the row count never drops, no row regresses, the table equals the cluster', async () => {
    const masters = await mastersNow();
    // The middle master's first 2,000 slots hold its shard's tag: it gets a new shard, made while
    // the recipe is paused below.
    const [, from, to] = masters as [ClusterMaster, ClusterMaster, ClusterMaster];
    const tagsBefore = masters.map((m) => tagIn(m.slots));
    // Keys on the master that gives slots away, and some on the others.
    const keys = Array.from({ length: 400 }, (_, i) => `${env.prefix}:r${i}`);
    const poller = new RegressionPoller(env);
    let stop = false;
    let round = 0;
    const deleted = new Set<string>();
    const load = (async () => {
      while (!stop) {
        round++;
        for (const k of keys) {
          if (stop) break;
          if (deleted.has(k)) continue;
          await all.hset(k, 'first_name', 'r', 'age', String(round)).catch(() => new Promise((r) => setTimeout(r, 50)));
        }
      }
    })();
    await waitFor('every key written once', () => round >= 2, 60_000);
    await waitFor('rows of every key', async () => (await env.count()) >= 650 + 400, 60_000, 200);
    const floor = await env.count();
    let lowest = floor;
    let counting = true;
    const counter = (async () => {
      while (counting) {
        lowest = Math.min(lowest, await env.count().catch(() => lowest));
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    // A failure below must not leave the pollers running against a table the next test drops.
    onTestFinished(async () => {
      stop = true;
      counting = false;
      await Promise.all([load, counter, poller.stop()]);
    });
    // Paused, so that the giving master's shard holds older entries of the moved keys when the
    // slots move, while their newer changes are captured on the receiving master.
    expect((await env.cli(['pause', env.name])).code).toBe(0);
    const synced = async (): Promise<number> => (JSON.parse((await env.cli(['status', env.name, '--json'])).stdout) as { recipes: Array<{ synced: number }> }).recipes[0]?.synced ?? -1;
    await new Promise((r) => setTimeout(r, 1000)); // the batches in flight finish
    const syncedAtPause = await synced();
    const paused = round;
    await waitFor('changes queued while paused', () => round >= paused + 1, 60_000);
    const reshard = run('redis-cli', ['--no-auth-warning', '-a', PASSWORD, '--cluster', 'reshard', `127.0.0.1:${from.port}`, '--cluster-from', from.id, '--cluster-to', to.id, '--cluster-slots', '2000', '--cluster-yes', '--cluster-pipeline', '50'], { maxBuffer: 64 * 1024 * 1024 });
    // A user's DELs during the move are not lost.
    for (const k of keys.filter((k) => inRanges(slotOf(k), from.slots)).slice(0, 10)) {
      deleted.add(k);
      await all.del(k);
    }
    await reshard;
    const resumedAt = round;
    await waitFor('changes on the new master while paused', () => round >= resumedAt + 1, 60_000);
    // A shard made while paused (the giving master's new one) wrote nothing either.
    expect((await mastersNow()).map((m) => tagIn(m.slots))).not.toStrictEqual(tagsBefore);
    await new Promise((r) => setTimeout(r, 2000));
    expect(await synced()).toBe(syncedAtPause);
    expect((await env.cli(['resume', env.name])).code).toBe(0);
    const moved = (await mastersNow()).find((m) => m.id === to.id);
    expect(moved?.slots.reduce((n, [a, b]) => n + b - a + 1, 0)).toBeGreaterThanOrEqual(5461 + 2000);
    const after = round;
    await waitFor('load goes on after the reshard', () => round >= after + 2, 60_000);
    stop = true;
    await load;
    await tableEqualsCluster('the table equals the cluster after the reshard', 90_000);
    counting = false;
    await counter;
    await poller.stop();
    expect(poller.regressions).toStrictEqual([]);
    expect(lowest).toBeGreaterThanOrEqual(floor - 10);
    for (const k of deleted) expect(await env.row(k.slice(env.prefix.length + 1))).toBeUndefined();
    const verify = await env.cli(['verify', env.name]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  }, 240_000);

  it('a reshard under load that moves a shard\'s own slot, with deletes, not paused: the table equals the cluster within seconds, no key waits a minute', async () => {
    const masters = await mastersNow();
    const src = masters[0] as ClusterMaster;
    const dst = masters[1] as ClusterMaster;
    // Enough of the source's first slots (redis-cli moves those) to take its shard's tag with them.
    const tagSlot = slotOf(`{${tagIn(src.slots)}}`);
    let before = 0;
    for (const [a, b] of src.slots) before += tagSlot > b ? b - a + 1 : tagSlot >= a ? tagSlot - a : 0;
    const count = Math.min(before + 300, src.slots.reduce((n, [a, b]) => n + b - a + 1, 0) - 1);
    const keys = Array.from({ length: 400 }, (_, i) => `${env.prefix}:m${i}`);
    const deleted = new Set<string>();
    let stop = false;
    let round = 0;
    const load = (async () => {
      while (!stop) {
        round++;
        for (const k of keys) {
          if (stop) break;
          if (deleted.has(k)) continue;
          await all.hset(k, 'first_name', 'm', 'age', String(round)).catch(() => new Promise((r) => setTimeout(r, 50)));
        }
      }
    })();
    onTestFinished(async () => {
      stop = true;
      await load;
    });
    await waitFor('every key written once', () => round >= 2, 60_000);
    const reshard = run('redis-cli', ['--no-auth-warning', '-a', PASSWORD, '--cluster', 'reshard', `127.0.0.1:${src.port}`, '--cluster-from', src.id, '--cluster-to', dst.id, '--cluster-slots', String(count), '--cluster-yes', '--cluster-pipeline', '20'], { maxBuffer: 64 * 1024 * 1024 });
    // Keys of the moving slots deleted while they move, a few at a time.
    const moving = keys.filter((k) => inRanges(slotOf(k), src.slots) && slotOf(k) <= tagSlot + 300);
    for (const k of moving.slice(0, 30)) {
      deleted.add(k);
      await all.del(k);
      await new Promise((r) => setTimeout(r, 100));
    }
    await reshard;
    const movedAt = Date.now();
    // The source's shard tag now lives on the destination.
    expect(inRanges(tagSlot, (await mastersNow()).find((m) => m.id === dst.id)?.slots ?? [])).toBe(true);
    const after = round;
    await waitFor('load goes on after the reshard', () => round >= after + 2, 60_000);
    stop = true;
    await load;
    // Well within the minute after which keys found elsewhere were once left to a reconcile.
    await tableEqualsCluster('the table equals the cluster after the reshard', 40_000);
    for (const k of deleted) expect(await env.row(k.slice(env.prefix.length + 1))).toBeUndefined();
    // Keys handed between shards while the slots moved were once retried for a minute, then
    // logged as errors and left to a reconcile of the whole recipe, once per batch of them.
    await new Promise((r) => setTimeout(r, Math.max(0, movedAt + 65_000 - Date.now())));
    expect(runtimes.flatMap((r) => r.lines.filter((l) => l.includes('after a minute')).slice(0, 3))).toStrictEqual([]);
    const verify = await env.cli(['verify', env.name]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  }, 180_000);

  it('30,000 keys under load while a master is killed with kill -9: its replica is promoted, capture and writes follow, no row regresses, the table equals the cluster', async () => {
    const rt = runtimes[0] as RuntimeProcess;
    const masters = await mastersNow();
    // Not the node the bins were given (they are given one node: it must answer when they start).
    const victim = masters.find((m) => m.port !== cluster.ports[0]) as ClusterMaster;
    // 30,000 keys written by 16 writers at once, each write followed by WAIT 1 100 on its
    // master: what a replica acknowledged survives the failover.
    const keys = Array.from({ length: 30_000 }, (_, i) => `${env.prefix}:f${i}`);
    const confirmed = new Map<string, number>();
    const poller = new RegressionPoller(env, (id) => confirmed.get(id) ?? 0);
    let stop = false;
    let round = 0;
    let writes = 0;
    let failures = 0;
    let lastFailure = '';
    const WRITERS = 16;
    const load = (async () => {
      while (!stop) {
        const r = ++round;
        await Promise.all(Array.from({ length: WRITERS }, async (_, w) => {
          for (let i = w; i < keys.length && !stop; i += WRITERS) {
            const k = keys[i] as string;
            try {
              // WAIT in the same pipeline, so on the key's own master.
              const res = await all.pipeline().hset(k, 'first_name', 'f', 'age', String(r)).call('WAIT', '1', '100').exec();
              writes++;
              if (!res?.[0]?.[0] && Number(res?.[1]?.[1]) >= 1) confirmed.set(k.slice(env.prefix.length + 1), r);
            } catch (err) {
              failures++;
              lastFailure = String(err);
              await new Promise((done) => setTimeout(done, 100));
            }
          }
        }));
      }
    })();
    onTestFinished(async () => {
      stop = true;
      await Promise.all([load, poller.stop()]);
    });
    await waitFor('load under way', () => round >= 2, 60_000);
    const node = cluster.nodes.find((n) => n.port === victim.port);
    await node?.kill9();
    // A runtime started while the master is down (before its replica is promoted) starts once
    // the cluster answers again, and shares the work.
    const late = startRuntime(env.runtimeArgs().map((a) => (a === `rt-${env.id}` ? `rt-late-${env.id}` : a)));
    await waitFor('a replica promoted', async () => {
      const now = await mastersNow().catch(() => []);
      return now.length === 3 && !now.some((m) => m.port === victim.port);
    }, 60_000, 500);
    // The promoted master has no replica: each WAIT there takes its 100 ms, holding the client's
    // one connection to that node (about ten writes a second), so a count, not rounds.
    runtimes.push(await late);
    const after = writes;
    await waitFor('load goes on after the failover', () => writes >= after + 500, 90_000).catch((err: Error) => {
      throw new Error(`${err.message}: ${writes - after} writes since, ${failures} failures in all (last: ${lastFailure})`);
    });
    stop = true;
    await load;
    await tableEqualsCluster('the table equals the cluster after the failover', 120_000);
    await poller.stop();
    expect(poller.regressions).toStrictEqual([]);
    expect(poller.polls).toBeGreaterThan(10);
    await waitFor('the runtime saw the shard move to the promoted replica', () => rt.hasLog((r) => typeof r['msg'] === 'string' && (r['msg'] as string).includes('another master than before')), 20_000);
    const verify = await env.cli(['verify', env.name]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  }, 240_000);

  it('several runtimes: partitions spread over all; all but one killed, the survivor takes every partition over and keeps writing', async () => {
    const survivorId = `rt2-${env.id}`;
    const survivor = await startRuntime(env.runtimeArgs().map((a) => (a === `rt-${env.id}` ? survivorId : a)).concat(['--lease-ttl-ms', '3000']));
    const held = async (): Promise<Record<string, number>> => {
      const report = JSON.parse((await env.cli(['status', '--json'])).stdout) as { runtimes: Array<{ id: string; partitions: Record<string, number[]> }> };
      return Object.fromEntries(report.runtimes.map((r) => [r.id, Object.values(r.partitions).reduce((n, ps) => n + ps.length, 0)]));
    };
    await waitFor('every runtime holds partitions', async () => {
      const h = await held();
      return Object.keys(h).length === runtimes.length + 1 && Object.values(h).every((n) => n > 0);
    }, 60_000, 500);
    for (const rt of runtimes) await rt.kill9();
    runtimes.length = 0;
    runtimes.push(survivor);
    for (let i = 0; i < 200; i++) await all.hset(`${env.prefix}:t${i}`, 'first_name', 'after', 'age', '5');
    await tableEqualsCluster('written by the survivor', 90_000);
    // Every shard's 8 partitions (the reshard and the failover above added shards).
    await waitFor('the survivor holds every partition', async () => {
      const report = JSON.parse((await env.cli(['status', '--json'])).stdout) as { runtimes: Array<{ id: string; partitions: Record<string, number[]> }> };
      const units = Object.values(report.runtimes[0]?.partitions ?? {});
      return report.runtimes.length === 1 && report.runtimes[0]?.id === survivorId && units.length >= 3 && units.every((ps) => ps.length === 8);
    }, 30_000, 500);
    expect((await env.cli(['verify', env.name])).code).toBe(0);
  }, 180_000);

  it('FLUSHALL on the master of the namespace-wide keys: the runtime restores its recipe, keeps the rows, and syncs on', async () => {
    const masters = await mastersNow();
    const home = masters.find((m) => inRanges(slotOf(`{${env.ns}}`), m.slots)) as ClusterMaster;
    const rowsBefore = await env.count();
    const node = new Redis({ host: home.host, port: home.port, password: PASSWORD });
    try {
      await node.flushall();
    } finally {
      node.disconnect();
    }
    await waitFor('the recipe restored', async () => (await all.hexists(`{${env.ns}}:recipes`, env.name)) === 1, 30_000, 250);
    for (let i = 0; i < 50; i++) await all.hset(`${env.prefix}:after-flush${i}`, 'first_name', 'x', 'age', '1');
    // Every one of them: their keys are on every master, and the flushed master's shards come back
    // a moment later than the others.
    await waitFor('rows written after the flush', async () => {
      for (let i = 0; i < 50; i++) if ((await env.row(`after-flush${i}`)) === undefined) return false;
      return true;
    }, 30_000, 250);
    // Rows of keys the flush took are kept (a cluster node's loss proves no flush).
    expect(await env.count()).toBeGreaterThanOrEqual(rowsBefore + 50);
    const status = JSON.parse((await env.cli(['status', '--json'])).stdout) as { recipes: Array<{ name: string; state: string }> };
    expect(status.recipes.find((r) => r.name === env.name)?.state).toBe('loaded');
  }, 90_000);

  it('a shard no record names is found by scanning the masters: a runtime started now records it and leases its partitions', async () => {
    const masters = await mastersNow();
    // A tag that is no master's shard now (as a slot move leaves one), whose record went with its
    // node: only its stream says it exists.
    const tags = new Set(masters.map((m) => tagIn(m.slots)));
    const tag = Array.from({ length: 100 }, (_, i) => `zz${i}`).find((t) => !tags.has(t)) as string;
    await all.xgroup('CREATE', `${env.ns}:{${tag}}:backlog:{${env.name}/0}`, 'writers', '$', 'MKSTREAM');
    expect(await all.sismember(`{${env.ns}}:shards`, tag)).toBe(0);
    const id = `rt-scan-${env.id}`;
    const rt = await startRuntime(env.runtimeArgs().map((a) => (a === `rt-${env.id}` ? id : a)));
    runtimes.push(rt);
    await waitFor('the shard recorded', async () => (await all.sismember(`{${env.ns}}:shards`, tag)) === 1, 30_000, 250);
    expect(rt.hasLog((l) => String(l['msg']).includes('found shard streams no record named'))).toBe(true);
    // Drained like the others: its partitions are leased.
    await waitFor('its partitions leased', async () => {
      const report = JSON.parse((await env.cli(['status', '--json'])).stdout) as { runtimes: Array<{ partitions: Record<string, number[]> }> };
      return report.runtimes.reduce((n, r) => n + (r.partitions[`${env.name}@${tag}`]?.length ?? 0), 0) === 8;
    }, 30_000, 500);
  }, 90_000);

  it('a cluster that does not serve every slot: wb-cli exits 1 saying so', async () => {
    // A master and its replica down: their slots have nobody.
    const masters = await mastersNow();
    const victim = masters.find((m) => m.port !== cluster.ports[0] && m.replicas.length > 0) as ClusterMaster;
    for (const port of [victim.port, ...victim.replicas.map((r) => r.port)]) await cluster.nodes.find((n) => n.port === port)?.kill9();
    const res = await waitFor('the CLI says the cluster is down', async () => {
      const r = await env.cli(['status']);
      return r.stderr.includes('is down (cluster_state:fail') ? r : undefined;
    }, 30_000, 1000);
    expect(res.code).toBe(1);
  }, 60_000);
});
