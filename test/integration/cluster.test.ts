// Redis Cluster, the parts below the runtime (the bins on a cluster: cluster-runtime.test.ts).
// Tested here on a real cluster: the capture scripts run on a master
// with their declared keys in one slot of it (a shard's hash tag), read the changed keys of any
// slot of that master, and report, never delete, a key that lives on another master (or that
// MIGRATE moved away: the `del` a resharding publishes on the source); the listener subscribes
// on every master and follows a failover; and ClusterCapture puts every change in its master's
// shard streams, through a reconcile at start, a kill -9 failover and a slot moved by hand.
import { Cluster, Redis } from 'ioredis';
import { createPool, type RowDataPacket } from 'mysql2/promise';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MySqlConnection, MySqlConnector } from '../../recipes/connectors/mysql.ts';
import { compileWriteBehind, type Registration } from '../../recipes/options.ts';
import { decodeEntry } from '../../runtime/backlog/entry.ts';
import { runPerKey } from '../../runtime/capture/capture-queue.ts';
import { ClusterCapture } from '../../runtime/capture/cluster-capture.ts';
import { capturePattern, captureTarget } from '../../runtime/capture/targets.ts';
import { Keys } from '../../runtime/keys.ts';
import { RecipeWorker } from '../../runtime/recipe-worker.ts';
import { mergeFlags } from '../../runtime/capture/keyspace-config.ts';
import { MasterSubscriptions } from '../../runtime/capture/master-subscriptions.ts';
import { clusterMasters, inRanges, slotOf, tagIn, type ClusterMaster } from '../../runtime/redis/cluster.ts';
import { cli } from '../helpers/processes.ts';
import { TestCluster } from '../helpers/redis-cluster.ts';
import { freePort, TestRedis } from '../helpers/redis-server.ts';
import { uid, waitFor } from '../helpers/wait.ts';
import { MYSQL } from '../helpers/env.ts';


/** The parts of a registration the capture scripts use. */
function registration(kind: 'writeBehind' | 'writeThrough', name: string, partitions: number, keysPrefix: string): Registration {
  return { kind, name, partitions, maxBacklog: 0, onExpire: 'keep', keysPrefix, stagingPrefix: '__' } as unknown as Registration;
}

describe('Redis Cluster', () => {
  const cluster = new TestCluster(3, 1);

  beforeAll(async () => {
    await cluster.start();
  }, 60_000);

  afterAll(async () => {
    await cluster.stop();
  });

  it('wb-cli given any node, a replica too, detects the cluster and works there (no MOVED)', async () => {
    for (const port of [cluster.ports[0], cluster.ports[4]]) {
      const res = await cli(['tune', 'param', `User${port}`, 'root', '--port', String(port), '--namespace', 'wbcluster']);
      expect(res.code, res.stderr).toBe(0);
      expect(res.stderr).not.toMatch(/MOVED|unexpected error/);
    }
    const list = await cli(['params', '--port', String(cluster.ports[2]), '--namespace', 'wbcluster']);
    expect(list.code, list.stderr).toBe(0);
    for (const port of [cluster.ports[0], cluster.ports[4]]) expect(list.stdout).toContain(`User${port}`);
  }, 60_000);

  it('wb-cli given a cluster node that is in no cluster (removed with del-node, or never joined) says so and exits 1', async () => {
    const lone = new TestRedis(freePort(), ['--cluster-enabled', 'yes']);
    await lone.start();
    try {
      const res = await cli(['status', '--port', String(lone.port), '--namespace', 'wbcluster']);
      expect(res.code).toBe(1);
      expect(res.stderr).toContain(`127.0.0.1:${lone.port} is a Redis Cluster node that is in no cluster`);
    } finally {
      await lone.stop();
    }
  });

  it('subscribes on every master, sets keyspace events on every node, and follows a failover to the promoted replica', async () => {
    const open = (host: string, port: number): Redis => new Redis({ host, port, maxRetriesPerRequest: null });
    for (const port of cluster.ports) {
      const r = open('127.0.0.1', port);
      await r.config('SET', 'notify-keyspace-events', '');
      r.disconnect();
    }
    const events: Array<{ master: string; key: string }> = [];
    const listening: Array<{ master: ClusterMaster; why: string }> = [];
    const subs = new MasterSubscriptions({
      seeds: [{ host: '127.0.0.1', port: cluster.ports[4] as number }], // a replica will do
      open, log: pino({ level: 'silent' }), refreshMs: 500,
      onEvent: (master, _pattern, channel) => events.push({ master: master.id, key: channel.toString().slice('__keyspace@0__:'.length) }),
      onListening: (master, why) => listening.push({ master, why }),
    });
    const all = new Cluster([{ host: '127.0.0.1', port: cluster.ports[0] as number }]);
    try {
      await subs.start();
      await subs.psubscribe('__keyspace@0__:m:*');
      expect(subs.masters).toHaveLength(3);
      expect(listening.map((l) => l.why)).toStrictEqual(['new', 'new', 'new']);
      expect(subs.problems).toStrictEqual([]);
      // Every node, replicas included, publishes what capture needs (a replica the cluster lists
      // only once it has synced is set at the next reading of the topology).
      for (const port of cluster.ports) {
        const r = open('127.0.0.1', port);
        try {
          await waitFor(`notify-keyspace-events on ${port}`, async () => mergeFlags(((await r.config('GET', 'notify-keyspace-events')) as string[])[1] ?? '') === undefined, 10_000);
        } finally {
          r.disconnect();
        }
      }
      const keys = Array.from({ length: 300 }, (_, i) => `m:${i}`);
      for (const k of keys) await all.hset(k, 'v', '1');
      await waitFor('an event of every key', () => new Set(events.map((e) => e.key)).size === keys.length);
      // Each from the master that owns its slot, so from all three.
      const owner = (key: string): string | undefined => subs.masters.find((m) => inRanges(slotOf(key), m.slots))?.id;
      expect(events.every((e) => e.master === owner(e.key))).toBe(true);
      expect(new Set(events.map((e) => e.master)).size).toBe(3);

      // kill -9 the master of m:0: its replica is promoted and listened to, and its keys' events come from it.
      const dead = subs.masters.find((m) => inRanges(slotOf('m:0'), m.slots)) as ClusterMaster;
      await (cluster.nodes.find((n) => n.port === dead.port) as TestRedis).kill9();
      const promoted = await waitFor('the promoted replica listened to', () => listening.find((l) => l.why === 'new' && l.master.id !== dead.id && JSON.stringify(l.master.slots) === JSON.stringify(dead.slots))?.master, 30_000);
      expect(dead.replicas.map((r) => r.id)).toContain(promoted.id);
      expect(subs.masters.map((m) => m.id)).not.toContain(dead.id);
      events.length = 0;
      await waitFor('a write to the failed-over slots', async () => (await all.hset('m:0', 'v', '2').then(() => true, () => false)), 30_000);
      await waitFor('its event from the promoted master', () => events.some((e) => e.key === 'm:0' && e.master === promoted.id));
    } finally {
      subs.stop();
      all.disconnect();
    }
  }, 90_000);
});

describe('capture on a master of a cluster', () => {
  const cluster = new TestCluster(3, 0);
  let masters: ClusterMaster[];
  let all: Cluster;
  let node: Redis;

  beforeAll(async () => {
    await cluster.start();
    const first = new Redis({ port: cluster.ports[0], host: '127.0.0.1' });
    masters = await clusterMasters(first);
    first.disconnect();
    all = new Cluster([{ host: '127.0.0.1', port: cluster.ports[0] as number }]);
    const a = masters[0] as ClusterMaster;
    node = new Redis({ host: a.host, port: a.port });
  }, 60_000);

  afterAll(async () => {
    node.disconnect();
    all.disconnect();
    await cluster.stop();
  });

  /** `n` keys `<prefix>:<i>` whose slots `mine` says yes to. */
  function keysWhere(prefix: string, n: number, mine: (slot: number) => boolean): string[] {
    const out: string[] = [];
    for (let i = 0; out.length < n; i++) if (mine(slotOf(`${prefix}:${i}`))) out.push(`${prefix}:${i}`);
    return out;
  }

  /** Every record the backlog streams hold, decoded. */
  async function records(streams: readonly string[]): Promise<Array<{ key: string; op: string }>> {
    const out: Array<{ key: string; op: string }> = [];
    for (const [p, s] of streams.entries()) {
      for (const e of (await node.xrange(s, '-', '+')) as Array<[string, string[]]>) out.push(...decodeEntry(e, p).records.map((r) => ({ key: r.key, op: r.op })));
    }
    return out;
  }

  it('lists the masters with their slots and picks a shard tag in each', async () => {
    expect(masters).toHaveLength(3);
    expect(masters.flatMap((m) => m.slots).reduce((n, [from, to]) => n + to - from + 1, 0)).toBe(16384);
    const tags = masters.map((m) => tagIn(m.slots));
    expect(new Set(tags).size).toBe(3);
    for (const [i, m] of masters.entries()) {
      expect(inRanges(slotOf(`{${tags[i]}}`), m.slots)).toBe(true);
      // Redis agrees with our slot of the tag.
      expect(await all.call('CLUSTER', 'KEYSLOT', `wb:{${tags[i]}}:backlog:{R/0}`)).toBe(slotOf(`{${tags[i]}}`));
    }
  });

  it('snapshots keys of any slot of its master into the shard\'s streams, and reports a key of another master instead of deleting it', async () => {
    const a = masters[0] as ClusterMaster;
    const tag = tagIn(a.slots);
    const keys = new Keys('wb', { cluster: true }).shard(tag);
    const reg = registration('writeBehind', 'R', 4, 'c');
    const target = captureTarget(reg, keys);
    // Every declared key in the tag's slot, on this master.
    expect(new Set(target.keys.map(slotOf))).toStrictEqual(new Set([slotOf(`{${tag}}`)]));
    const local = keysWhere('c', 3, (slot) => inRanges(slot, a.slots) && slot !== slotOf(`{${tag}}`));
    const [remote] = keysWhere('c', 1, (slot) => !inRanges(slot, a.slots));
    const gone = keysWhere('gone', 1, (slot) => inRanges(slot, a.slots))[0] as string;
    for (const k of [...local, remote as string]) await all.hset(k, 'name', k);
    const changed = [...local, gone, remote as string];
    const res = await runPerKey(node, target, changed, changed.map(() => 'c1'));
    expect(res.error).toBeUndefined();
    expect(res.elsewhere).toStrictEqual([remote]);
    expect(res.added).toBe(4);
    const got = await records(keys.backlogs('R', 4));
    expect(got.sort((x, y) => x.key.localeCompare(y.key))).toStrictEqual([...local.map((k) => ({ key: k, op: 'u' })), { key: gone, op: 'd' }].sort((x, y) => x.key.localeCompare(y.key)));
    expect(await node.hget(keys.counters('R'), 'queued')).toBe('4');
  });

  it("never takes a key MIGRATE moved away for a delete: the source reports it, its new master captures it", async () => {
    const [a, b] = masters as [ClusterMaster, ClusterMaster];
    const onA = new Keys('wbm', { cluster: true }).shard(tagIn(a.slots));
    const reg = registration('writeBehind', 'M', 2, 'mv');
    // Two keys of one slot of A (a hash tag in the id): one moves first, the other not yet.
    const [tagged] = keysWhere('mv', 1, (slot) => inRanges(slot, a.slots) && slot !== slotOf(`{${tagIn(a.slots)}}`));
    const moved = `mv:{${tagged}}1`;
    const stays = `mv:{${tagged}}2`;
    const slot = slotOf(moved);
    expect(slotOf(stays)).toBe(slot);
    await all.hset(moved, 'name', 'moved');
    await all.hset(stays, 'name', 'stays');
    const toB = new Redis({ host: b.host, port: b.port });
    try {
      // A slot move by hand, as redis-cli --cluster reshard does it: importing, migrating, MIGRATE (the source publishes `del`).
      await toB.call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', a.id);
      await node.call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', b.id);
      await node.call('MIGRATE', b.host, b.port, '', 0, 5000, 'KEYS', moved);
      const target = captureTarget(reg, onA);
      // Mid-move: the migrated key answers ASK on the source, the other is still there.
      let res = await runPerKey(node, target, [moved, stays], ['c1', 'c1']);
      expect(res.error).toBeUndefined();
      expect(res.elsewhere).toStrictEqual([moved]);
      expect(await records(onA.backlogs('M', 2))).toStrictEqual([{ key: stays, op: 'u' }]);
      await node.call('MIGRATE', b.host, b.port, '', 0, 5000, 'KEYS', stays);
      for (const n of [toB, node]) await n.call('CLUSTER', 'SETSLOT', slot, 'NODE', b.id);
      // Moved: both answer MOVED on the source; neither is a delete there.
      res = await runPerKey(node, target, [moved, stays], ['c1', 'c1']);
      expect(res.elsewhere).toStrictEqual([moved, stays]);
      expect(res.added).toBe(0);
      // On the new master, under its own shard tag, they are captured as they are.
      const onB = new Keys('wbm', { cluster: true }).shard(tagIn(b.slots));
      res = await runPerKey(toB, captureTarget(reg, onB), [moved, stays], ['c1', 'c1']);
      expect(res.elsewhere).toBeUndefined();
      const got: Array<{ key: string; op: string }> = [];
      for (const [p, st] of onB.backlogs('M', 2).entries()) {
        for (const e of (await toB.xrange(st, '-', '+')) as Array<[string, string[]]>) got.push(...decodeEntry(e, p).records.map((r) => ({ key: r.key, op: r.op })));
      }
      expect(got.sort((x, y) => x.key.localeCompare(y.key))).toStrictEqual([{ key: moved, op: 'u' }, { key: stays, op: 'u' }].sort((x, y) => x.key.localeCompare(y.key)));
    } finally {
      toB.disconnect();
    }
  });

  it("writes each master's changes to MariaDB through a recipe worker of its shard: rows equal Redis key by key, a delete included", async () => {
    const db = createPool({ ...MYSQL, connectionLimit: 2 });
    const table = `t_cluster_${uid()}`;
    await db.query(`CREATE TABLE ${table} (id VARCHAR(64) COLLATE utf8mb4_nopad_bin PRIMARY KEY, name VARCHAR(64))`);
    const reg = compileWriteBehind({ name: 'W', version: '1', keysPrefix: 'wk', mappings: { name: 'name' }, connector: new MySqlConnector(new MySqlConnection('root', '', '127.0.0.1:3306/test'), table, 'id') });
    const log = pino({ level: 'silent' });
    // One worker per master's shard, over the cluster client (routed by the shard's slot).
    const workers = masters.map((m) => ({ m, worker: new RecipeWorker(reg, all as unknown as Redis, new Keys('wbw', { cluster: true }).shard(tagIn(m.slots)), log, { consumer: 'w1', retry: { minMs: 10, maxMs: 200 }, claimIdleMs: 5000 }) }));
    const workerOf = (key: string): RecipeWorker => (workers.find(({ m }) => inRanges(slotOf(key), m.slots)) as { worker: RecipeWorker }).worker;
    try {
      for (const { worker } of workers) await worker.start();
      const keys = masters.flatMap((m) => keysWhere('wk', 20, (slot) => inRanges(slot, m.slots)).filter((k) => inRanges(slotOf(k), m.slots)));
      for (const k of keys) {
        await all.hset(k, 'name', `n-${k}`);
        workerOf(k).onChange(k, 'c');
      }
      const gone = keys[0] as string;
      await all.del(gone);
      workerOf(gone).onChange(gone, 'c');
      const rows = async (): Promise<Map<string, string>> => new Map(((await db.query<RowDataPacket[]>(`SELECT id, name FROM ${table}`))[0]).map((r) => [`wk:${r['id']}`, String(r['name'])]));
      const got = await waitFor('every row', async () => {
        const r = await rows();
        return r.size === keys.length - 1 && !r.has(gone) ? r : undefined;
      });
      // Key by key, against the cluster itself.
      for (const k of keys.slice(1)) expect(got.get(k), k).toBe(await all.hget(k, 'name'));
      // Each shard counted its own.
      for (const { m } of workers) {
        const counters = await all.hgetall(new Keys('wbw', { cluster: true }).shard(tagIn(m.slots)).counters('W'));
        expect(Number(counters['synced']), m.id).toBe(keys.filter((k) => inRanges(slotOf(k), m.slots)).length + (inRanges(slotOf(gone), m.slots) ? 1 : 0));
        expect(counters['queued']).toBe('0');
      }
    } finally {
      for (const { worker } of workers) await worker.stop();
      await db.query(`DROP TABLE IF EXISTS ${table}`);
      await db.end();
    }
  });

  it('takes write-through staging keys of its master, and reports one of another master untouched', async () => {
    const a = masters[0] as ClusterMaster;
    const tag = tagIn(a.slots);
    const keys = new Keys('wbt', { cluster: true }).shard(tag);
    const reg = registration('writeThrough', 'T', 2, 'w');
    const target = captureTarget(reg, keys);
    expect(new Set(target.keys.map(slotOf))).toStrictEqual(new Set([slotOf(`{${tag}}`)]));
    const [local] = keysWhere('w', 1, (slot) => inRanges(slot, a.slots) && slot !== slotOf(`{${tag}}`));
    const [remote] = keysWhere('w', 1, (slot) => !inRanges(slot, a.slots));
    const staging = (k: string): string => `__{${k}}`;
    await all.hset(staging(local as string), 'name', 'L');
    await all.hset(staging(remote as string), 'name', 'R');
    const changed = [staging(local as string), staging(remote as string)];
    const res = await runPerKey(node, target, changed, changed.map(() => 'c1'));
    expect(res.error).toBeUndefined();
    expect(res.elsewhere).toStrictEqual([staging(remote as string)]);
    expect(res.added).toBe(1);
    expect(await records(keys.backlogs('T', 2))).toStrictEqual([{ key: local, op: 'w' }]);
    expect(await all.exists(staging(local as string))).toBe(0); // taken
    expect(await all.hget(staging(remote as string), 'name')).toBe('R'); // untouched
  });
});

describe('ClusterCapture: capture on every master of a cluster', () => {
  const cluster = new TestCluster(3, 1);
  const ns = 'wbcc';
  const reg = registration('writeBehind', 'C', 2, 'cc');
  let all: Cluster;
  let capture: ClusterCapture;

  beforeAll(async () => {
    await cluster.start();
    all = new Cluster([{ host: '127.0.0.1', port: cluster.ports[0] as number }]);
  }, 60_000);

  afterAll(async () => {
    capture?.stop();
    all?.disconnect();
    await cluster.stop();
  });

  const open = (host: string, port: number): Redis => new Redis({ host, port, maxRetriesPerRequest: null });

  /** Every record in every backlog stream of the namespace, found by scanning every master: key -> ops in stream order, and where. */
  async function backlog(): Promise<Map<string, Array<{ op: string; master: string }>>> {
    const out = new Map<string, Array<{ op: string; master: string }>>();
    // From the first node that answers (one may have been killed).
    let masters: ClusterMaster[] | undefined;
    for (const port of cluster.ports) {
      const seed = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
      seed.on('error', () => undefined);
      masters = await seed.connect().then(() => clusterMasters(seed), () => undefined).finally(() => seed.disconnect());
      if (masters) break;
    }
    if (!masters) throw new Error('no node of the cluster answered');
    for (const m of masters) {
      const conn = open(m.host, m.port);
      try {
        const streams: string[] = [];
        let cursor = '0';
        do {
          const [next, found] = await conn.scan(cursor, 'MATCH', `${ns}:{*}:backlog:*`, 'COUNT', 1000);
          cursor = next;
          streams.push(...found);
        } while (cursor !== '0');
        for (const s of streams) {
          for (const e of (await conn.xrange(s, '-', '+')) as Array<[string, string[]]>) {
            for (const r of decodeEntry(e).records) out.set(r.key, [...(out.get(r.key) ?? []), { op: r.op, master: m.id }]);
          }
        }
      } finally {
        conn.disconnect();
      }
    }
    return out;
  }

  it('reconciles every master at start, captures every change on the master that owns it, follows a failover and a slot move', async () => {
    const before = Array.from({ length: 100 }, (_, i) => `cc:old${i}`);
    for (const k of before) await all.hset(k, 'v', '0');
    capture = new ClusterCapture({
      seeds: [{ host: '127.0.0.1', port: cluster.ports[2] as number }], open, keys: new Keys(ns, { cluster: true }), log: pino({ level: 'silent' }), refreshMs: 500,
      recipes: [{ name: 'C', pattern: capturePattern(reg), target: (shard) => captureTarget(reg, shard) }],
    });
    await capture.start();
    await capture.flushed();
    const after = Array.from({ length: 300 }, (_, i) => `cc:new${i}`);
    for (const k of after) await all.hset(k, 'v', '1');
    let seen = await waitFor('every key captured', async () => {
      const b = await backlog();
      return [...before, ...after].every((k) => b.has(k)) ? b : undefined;
    });
    // On the master that owns the key's slot, as upserts; from all three masters.
    const owners = capture.shards;
    expect(owners).toHaveLength(3);
    const ownerOf = (key: string): string | undefined => owners.find((o) => inRanges(slotOf(key), o.master.slots))?.master.id;
    for (const k of [...before, ...after]) expect(seen.get(k)?.every((r) => r.op === 'u' && r.master === ownerOf(k)), k).toBe(true);
    expect(new Set([...seen.values()].flat().map((r) => r.master)).size).toBe(3);

    // kill -9 a master: its promoted replica is listened to, reconciled, and captures its keys' changes.
    const c = owners[2]?.master as ClusterMaster;
    await (cluster.nodes.find((n) => n.port === c.port) as TestRedis).kill9();
    const promoted = await waitFor('the promoted replica captured for', () => capture.shards.find((o) => o.master.id !== c.id && JSON.stringify(o.master.slots) === JSON.stringify(c.slots))?.master, 30_000);
    const onC = after.find((k) => inRanges(slotOf(k), c.slots)) as string;
    await waitFor('a write to the failed-over slots', async () => (await all.hset(onC, 'v', '3').then(() => true, () => false)), 30_000);
    await waitFor('captured on the promoted master', async () => (await backlog()).get(onC)?.some((r) => r.master === promoted.id), 20_000);

    // A slot moved from A to B by hand: the source's `del` is no delete; the key's next change is captured on B.
    const [a, b] = capture.shards.map((o) => o.master).filter((m) => m.id !== c.id && m.id !== promoted.id) as [ClusterMaster, ClusterMaster];
    const moved = after.find((k) => inRanges(slotOf(k), a.slots) && slotOf(k) !== slotOf(`{${tagIn(a.slots)}}`)) as string;
    const slot = slotOf(moved);
    const src = open(a.host, a.port);
    const dst = open(b.host, b.port);
    try {
      const inSlot = (await src.call('CLUSTER', 'GETKEYSINSLOT', slot, 1000)) as string[];
      await dst.call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', a.id);
      await src.call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', b.id);
      await src.call('MIGRATE', b.host, b.port, '', 0, 5000, 'KEYS', ...inSlot);
      for (const n of [dst, src]) await n.call('CLUSTER', 'SETSLOT', slot, 'NODE', b.id);
      await waitFor('the move captured on the new master', async () => {
        const got = await backlog();
        return got.get(moved)?.some((r) => r.master === b.id);
      }, 20_000);
      await all.hset(moved, 'v', '2');
      seen = await waitFor('its next change captured on the new master', async () => {
        const got = await backlog();
        return (got.get(moved)?.filter((r) => r.master === b.id).length ?? 0) >= 2 ? got : undefined;
      }, 20_000);
      // Never a delete, anywhere, for any key that only moved.
      for (const k of inSlot) expect(seen.get(k)?.some((r) => r.op === 'd'), k).toBe(false);
    } finally {
      src.disconnect();
      dst.disconnect();
    }
  }, 120_000);
});
