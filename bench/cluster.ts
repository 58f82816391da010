// The cluster phase of `npm run bench`: the same changes synced by one runtime from a single
// Redis server and from a Redis Cluster of three masters (no replicas) on this machine, in one
// run. Redis CPU per synced change (the cluster's masters summed against the single server's),
// and lag at 1,000 changes/s on the cluster.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Cluster, Redis } from 'ioredis';
import type { Pool, RowDataPacket } from 'mysql2/promise';
import { BENCH_PASSWORD, BENCH_USER, count, NS, percentile, processCpuSeconds, reconciled, redisCpu, ROOT, Runtime, sleep, table, unregisterRecipe, until, uploadRecipe, writeHashes } from './lib.ts';

const run = promisify(execFile);
const MAPPINGS = { first_name: 'first', last_name: 'last', age: 'age' };
/** The masters' ports (their cluster bus ports are 10,000 above). */
const PORTS = (process.env['WB_BENCH_CLUSTER_PORTS'] ?? '6411,6412,6413').split(',').map(Number);

export interface ClusterFigures {
  readonly changes: number;
  readonly redisCpuPerChangeMicros: { readonly standalone: number; readonly cluster: number };
  readonly ratio: number;
  readonly lagAt1000: { readonly p50: number; readonly p99: number; readonly max: number };
  readonly runtimeCpuPerChangeMicros: { readonly standalone: number; readonly cluster: number };
}

/** Three masters, no replicas, created with redis-cli; killed when the bench ends. */
async function startCluster(): Promise<ChildProcess[]> {
  const dir = mkdtempSync(join(tmpdir(), 'wbbench-cluster-'));
  const nodes = PORTS.map((port) => spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir,
    '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', '5000'], { stdio: 'ignore' }));
  process.once('exit', () => nodes.forEach((n) => n.kill('SIGKILL')));
  for (const port of PORTS) {
    const probe = new Redis({ port, lazyConnect: true, retryStrategy: () => null });
    probe.on('error', () => undefined);
    await until(`redis-server ${port}`, async () => {
      await probe.connect().catch(() => undefined);
      return (await probe.ping().catch(() => '')) === 'PONG';
    }, 10_000, 50);
    probe.disconnect();
  }
  await run('redis-cli', ['--cluster', 'create', ...PORTS.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes']);
  for (const port of PORTS) {
    const r = new Redis({ port });
    await until(`cluster_state:ok on ${port}`, async () => ((await r.call('CLUSTER', 'INFO')) as string).includes('cluster_state:ok'), 30_000, 100);
    r.disconnect();
  }
  return nodes;
}

/** The masters' CPU seconds, summed. */
async function clusterCpu(): Promise<number> {
  let total = 0;
  for (const port of PORTS) {
    const r = new Redis({ port });
    total += await redisCpu(r);
    r.disconnect();
  }
  return total;
}

/** The real wb-cli against the cluster (given its first node). */
async function clusterCli(args: readonly string[]): Promise<void> {
  const code = await new Promise<number>((resolve) => {
    const child = spawn(process.execPath, [`${ROOT}bin/wb-cli.js`, ...args, '--port', String(PORTS[0]), '--namespace', NS], { stdio: ['ignore', 'ignore', 'inherit'] });
    child.on('exit', (c) => resolve(c ?? 1));
  });
  if (code !== 0) throw new Error(`bench: wb-cli ${args[0]} on the cluster failed`);
}

async function clusterUpload(name: string, prefix: string, tableName: string, mappings: Record<string, string>): Promise<void> {
  const file = join(mkdtempSync(join(tmpdir(), 'wbbench-recipe-')), `${name}.ts`);
  writeFileSync(file, `import { configGet, MySqlConnection, MySqlConnector, writeBehind } from 'wbsync';
const c = new MySqlConnection(() => configGet('BenchUser'), () => configGet('BenchPassword'), '127.0.0.1:3306/test');
export default writeBehind({ name: '${name}', version: '1', keysPrefix: '${prefix}', mappings: ${JSON.stringify(mappings)}, connector: new MySqlConnector(c, '${tableName}', 'id') });
`);
  await clusterCli(['upload', file]);
}

/** Pipelined (auto-pipelined per node) HSETs of `n` keys `{prefix}:{i}`, 1,000 in flight at a time. */
async function clusterWrites(all: Cluster, prefix: string, n: number): Promise<void> {
  for (let start = 0; start < n; start += 1000) {
    const batch: Array<Promise<unknown>> = [];
    for (let i = start; i < Math.min(n, start + 1000); i++) batch.push(all.hset(`${prefix}:${i}`, 'first_name', `first${i}`, 'last_name', `last${i}`, 'age', String(i % 100)));
    await Promise.all(batch);
  }
}

/** `total` changes at `rate` per second, each with its send time in `sent` (see lib.ts steadyWrites). */
async function clusterSteady(all: Cluster, prefix: string, rate: number, total: number, idPrefix = ''): Promise<void> {
  const started = Date.now();
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((Date.now() - started) / 1000) * rate));
    const batch: Array<Promise<unknown>> = [];
    for (; sent < due; sent++) batch.push(all.hset(`${prefix}:${idPrefix}${sent}`, 'first_name', 'x', 'sent', String(Date.now())));
    await Promise.all(batch);
    await sleep(1);
  }
}

export async function clusterPhase(redis: Redis, db: Pool, n: number, lagSeconds: number): Promise<ClusterFigures> {
  // The single server: the bench's own Redis, one runtime.
  const single = await Runtime.start(['--http', 'off'], 'bench-single');
  let standalone: { cpu: number; runtimeCpu: number };
  try {
    await table(db, 'bench_single');
    await uploadRecipe('BenchSingle', 'single', 'bench_single', MAPPINGS);
    await reconciled(redis, 'BenchSingle');
    const cpu0 = await redisCpu(redis);
    const rt0 = single.cpuSeconds();
    await writeHashes(redis, 'single', n);
    await until('single rows', async () => (await count(db, 'bench_single')) === n, 300_000, 50);
    standalone = { cpu: (await redisCpu(redis)) - cpu0, runtimeCpu: single.cpuSeconds() - rt0 };
    await unregisterRecipe('BenchSingle');
  } finally {
    await single.stop();
  }

  const nodes = await startCluster();
  const all = new Cluster(PORTS.map((port) => ({ host: '127.0.0.1', port })), { enableAutoPipelining: true, redisOptions: { maxRetriesPerRequest: null } });
  let rt: ChildProcess | undefined;
  try {
    await all.hset(`{${NS}}:params`, 'BenchUser', BENCH_USER, 'BenchPassword', BENCH_PASSWORD);
    rt = spawn(process.execPath, [`${ROOT}dist/runtime/main.js`, '--port', String(PORTS[0]), '--namespace', NS, '--id', 'bench-cluster', '--http', 'off', '--retry-max-ms', '200', '--log-level', process.env['WB_BENCH_LOG_LEVEL'] ?? 'warn'], { cwd: ROOT, stdio: ['ignore', process.env['WB_BENCH_LOG_LEVEL'] ? 'inherit' : 'ignore', 'inherit'] });
    process.once('exit', () => rt?.kill('SIGKILL'));
    await until('cluster runtime heartbeat', async () => (await all.exists(`{${NS}}:runtime:bench-cluster`)) === 1, 20_000, 50);
    const reconciledOn = async (name: string): Promise<void> => until(`${name} reconciled`, async () => Boolean(await all.hget(`{${NS}}:status:${name}`, 'reconciledAt')), 120_000, 20);

    await table(db, 'bench_cluster');
    await clusterUpload('BenchCluster', 'cl', 'bench_cluster', MAPPINGS);
    await reconciledOn('BenchCluster');
    const cpu0 = await clusterCpu();
    const rt0 = processCpuSeconds(rt.pid as number);
    await clusterWrites(all, 'cl', n);
    await until('cluster rows', async () => (await count(db, 'bench_cluster')) === n, 300_000, 50);
    const clusterCpuSec = (await clusterCpu()) - cpu0;
    const clusterRtCpu = processCpuSeconds(rt.pid as number) - rt0;
    await clusterCli(['unregister', 'BenchCluster']);

    const lagTable = 'bench_cluster_lag';
    await table(db, lagTable, ', sent BIGINT, arrived TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)');
    await clusterUpload('BenchClusterLag', 'cllag', lagTable, { ...MAPPINGS, sent: 'sent' });
    await reconciledOn('BenchClusterLag');
    // Warmed up as the single server's lag phase is (connections, compiled code).
    await clusterSteady(all, 'cllag', 1000, 1000, 'warm');
    await until('warm-up rows', async () => (await count(db, lagTable)) === 1000, 60_000, 20);
    const total = 1000 * lagSeconds;
    await clusterSteady(all, 'cllag', 1000, total);
    await until('cluster lag rows', async () => (await count(db, lagTable)) === total + 1000, 60_000, 50);
    const [rows] = await db.query<RowDataPacket[]>(`SELECT ROUND(UNIX_TIMESTAMP(arrived) * 1000) - sent AS lag FROM ${lagTable} WHERE id NOT LIKE 'warm%'`);
    const lags = rows.map((r) => Number(r['lag'])).sort((a, b) => a - b);
    await clusterCli(['unregister', 'BenchClusterLag']);
    const micros = (sec: number): number => +((sec * 1e6) / n).toFixed(1);
    return {
      changes: n,
      redisCpuPerChangeMicros: { standalone: micros(standalone.cpu), cluster: micros(clusterCpuSec) },
      ratio: +(clusterCpuSec / standalone.cpu).toFixed(2),
      lagAt1000: { p50: percentile(lags, 50), p99: percentile(lags, 99), max: lags[lags.length - 1] as number },
      runtimeCpuPerChangeMicros: { standalone: micros(standalone.runtimeCpu), cluster: micros(clusterRtCpu) },
    };
  } finally {
    if (rt) {
      const exited = new Promise((r) => rt?.once('exit', r));
      rt.kill('SIGTERM');
      await exited;
    }
    all.disconnect();
    nodes.forEach((node) => node.kill('SIGKILL'));
    for (const t of ['bench_single', 'bench_cluster', 'bench_cluster_lag']) await db.query(`DROP TABLE IF EXISTS ${t}`);
  }
}
