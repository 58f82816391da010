// npm run bench: wbsync against the machine's own limits, every figure from this one run.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { Redis } from 'ioredis';
import type { Pool, RowDataPacket } from 'mysql2/promise';
import { BENCH_PASSWORD, BENCH_USER, benchUser, count, mysqlPool, NS, percentile, reconciled, redisCpu, REDIS_URL, ROOT, Runtime, sleep, startRedis, steadyWrites, table, unregisterRecipe, until, uploadRecipe, warmUp, writeHashes } from './lib.ts';
import { clusterPhase, type ClusterFigures } from './cluster.ts';
import { cliStartup, type CliStartup } from './cli-startup.ts';
import { referenceLoad } from './reference-loader.ts';
import { severalRuntimes, type SeveralRuntimes } from './runtimes.ts';

const N = Number(process.env['WB_BENCH_N'] ?? 100_000);
const LAG_SECONDS = Number(process.env['WB_BENCH_LAG_SECONDS'] ?? 20);
const CATCHUP = Number(process.env['WB_BENCH_CATCHUP'] ?? 200_000);
const BACKLOG = Number(process.env['WB_BENCH_BACKLOG'] ?? 1_000_000);
const ROUNDS = Number(process.env['WB_BENCH_ROUNDS'] ?? 5);
const MAPPINGS = { first_name: 'first', last_name: 'last', age: 'age' };
const results: Record<string, unknown> = {};
const log = (line: string): void => void process.stdout.write(`${line}\n`);

/** One wbsync run: time from the first HSET until the last row is in MariaDB. */
async function wbsyncRun(redis: Redis, db: Pool, rt: Runtime, round: number): Promise<{ rowsPerSec: number; runtimeCpu: number; redisCpu: number; writerMs: number }> {
  const tableName = `bench_tp${round}`;
  await table(db, tableName);
  await uploadRecipe(`BenchThroughput${round}`, `tp${round}`, tableName, MAPPINGS, process.env['WB_BENCH_RECIPE'] ?? '');
  await reconciled(redis, `BenchThroughput${round}`);
  const cpu0 = rt.cpuSeconds();
  const redisCpu0 = await redisCpu(redis);
  const started = performance.now();
  await writeHashes(redis, `tp${round}`, N);
  const writerMs = performance.now() - started;
  await until('all rows', async () => (await count(db, tableName)) === N, 300_000, 25);
  const rowsPerSec = N / ((performance.now() - started) / 1000);
  return { rowsPerSec, runtimeCpu: rt.cpuSeconds() - cpu0, redisCpu: (await redisCpu(redis)) - redisCpu0, writerMs };
}

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function throughput(redis: Redis, db: Pool, rt: Runtime): Promise<void> {
  // Alternate the reference loader and wbsync, five rounds each, and compare medians: the
  // database's own pace (flushing, checkpoints) and a shared VM's drift more than either program.
  await writeHashes(redis, 'ref', N);
  const refs: number[] = [];
  const runs: Array<Awaited<ReturnType<typeof wbsyncRun>>> = [];
  for (let round = 0; round < ROUNDS; round++) {
    await table(db, 'bench_ref');
    refs.push(await referenceLoad(redis, db, 'ref', N, 'bench_ref'));
    runs.push(await wbsyncRun(redis, db, rt, round));
  }
  const reference = median(refs);
  const wbsync = median(runs.map((r) => r.rowsPerSec));
  const mid = runs.find((r) => r.rowsPerSec === wbsync) as (typeof runs)[number];
  results['throughput'] = {
    rows: N, wbsyncRowsPerSec: Math.round(wbsync), referenceRowsPerSec: Math.round(reference), ratio: +(wbsync / reference).toFixed(2),
    rounds: { wbsync: runs.map((r) => Math.round(r.rowsPerSec)), reference: refs.map(Math.round) },
    writerMs: Math.round(mid.writerMs), runtimeCpuSec: +mid.runtimeCpu.toFixed(2), redisCpuSec: +mid.redisCpu.toFixed(2),
  };
  log(`throughput: wbsync ${Math.round(wbsync)} rows/s, reference loader ${Math.round(reference)} rows/s, ratio ${(wbsync / reference).toFixed(2)} (medians of ${ROUNDS}; wbsync ${runs.map((r) => Math.round(r.rowsPerSec)).join('/')}, reference ${refs.map(Math.round).join('/')}; runtime CPU ${mid.runtimeCpu.toFixed(2)} s, Redis CPU ${mid.redisCpu.toFixed(2)} s, application writes ${Math.round(mid.writerMs)} ms)`);
}

async function lag(redis: Redis, db: Pool, rate: number): Promise<void> {
  const name = `bench_lag_${rate}`;
  await table(db, name, ', sent BIGINT, arrived TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)');
  await uploadRecipe(`BenchLag${rate}`, `lag${rate}`, name, { ...MAPPINGS, sent: 'sent' });
  await reconciled(redis, `BenchLag${rate}`);
  // Warm up (connections, JIT) so the figures describe the steady state.
  const warm = await warmUp(redis, db, `lag${rate}`, name, rate);
  const total = rate * LAG_SECONDS;
  await steadyWrites(redis, `lag${rate}`, rate, total);
  await until('lag rows', async () => (await count(db, name)) === total + warm, 60_000, 50);
  const [rows] = await db.query<RowDataPacket[]>(`SELECT ROUND(UNIX_TIMESTAMP(arrived) * 1000) - sent AS lag FROM ${name} WHERE id NOT LIKE 'warm%'`);
  const lags = rows.map((r) => Number(r['lag'])).sort((a, b) => a - b);
  const figures = { rate, changes: total, p50: percentile(lags, 50), p99: percentile(lags, 99), max: lags[lags.length - 1] };
  results[`lag${rate}`] = figures;
  log(`lag at ${rate}/s: p50 ${figures.p50} ms, p99 ${figures.p99} ms, max ${figures.max} ms`);
}

/** Makes MariaDB unreachable for the runtime: a wrong password, and its live sessions killed. */
async function cutDatabase(redis: Redis, db: Pool): Promise<void> {
  await redis.hset(`${NS}:params`, 'BenchPassword', 'wrong');
  const [procs] = await db.query<RowDataPacket[]>('SELECT id FROM information_schema.PROCESSLIST WHERE user = ?', [BENCH_USER]);
  for (const p of procs) await db.query(`KILL ${Number(p['id'])}`).catch(() => undefined);
}

/** Entries in every partition of a recipe's backlog (8 by default). */
async function backlogOf(redis: Redis, name: string): Promise<number> {
  const lens = await Promise.all(Array.from({ length: 8 }, (_, p) => redis.xlen(`${NS}:backlog:{${name}/${p}}`)));
  return lens.reduce((a, b) => a + b, 0);
}

async function catchUp(redis: Redis, db: Pool, rt: Runtime, n: number, label: string): Promise<void> {
  const name = `BenchCatchup${label}`;
  const tableName = `bench_catchup_${label}`;
  await table(db, tableName);
  await uploadRecipe(name, `cu${label}`, tableName, MAPPINGS);
  await reconciled(redis, name);
  await cutDatabase(redis, db);
  let captureMax = 0;
  const sampler = setInterval(() => (captureMax = Math.max(captureMax, rt.memory().rssMb)), 100);
  await writeHashes(redis, `cu${label}`, n);
  await until('capture done', async () => {
    const before = await backlogOf(redis, name);
    await sleep(500);
    return (await backlogOf(redis, name)) === before && before > 0;
  }, 600_000, 0);
  clearInterval(sampler);
  const queuedMemory = rt.memory();
  await redis.hset(`${NS}:params`, 'BenchPassword', BENCH_PASSWORD);
  let drainMax = 0;
  const drainSampler = setInterval(() => (drainMax = Math.max(drainMax, rt.memory().rssMb)), 100);
  const started = performance.now();
  await until('drained', async () => (await count(db, tableName)) === n, 600_000, 50);
  clearInterval(drainSampler);
  const rate = n / ((performance.now() - started) / 1000);
  const memory = rt.memory();
  results[`catchUp${label}`] = { changes: n, drainRowsPerSec: Math.round(rate), rssWithBacklogMb: queuedMemory.rssMb, maxRssCapturingMb: captureMax, maxRssDrainingMb: drainMax, peakRssMb: memory.peakMb };
  log(`catch-up of ${n}: ${Math.round(rate)} rows/s; runtime RSS ${queuedMemory.rssMb} MB with the backlog queued (max ${captureMax} MB while capturing, ${drainMax} MB while draining, peak ${memory.peakMb} MB)`);
  await db.query(`DROP TABLE ${tableName}`);
}

async function footprint(redis: Redis, db: Pool): Promise<void> {
  // Baseline: the same HSETs with no runtime and notifications off.
  await redis.config('SET', 'notify-keyspace-events', '');
  let cpu = await redisCpu(redis);
  await writeHashes(redis, 'fpbase', N);
  const base = (await redisCpu(redis)) - cpu;
  const rt = await Runtime.start();
  await table(db, 'bench_fp');
  await uploadRecipe('BenchFootprint', 'fp', 'bench_fp', MAPPINGS);
  await reconciled(redis, 'BenchFootprint');
  cpu = await redisCpu(redis);
  await writeHashes(redis, 'fp', N);
  await until('footprint rows', async () => (await count(db, 'bench_fp')) === N, 300_000, 50);
  const synced = (await redisCpu(redis)) - cpu;
  await rt.stop();
  // Otherwise the next runtime would start by reconciling these 100,000 keys during the next phase.
  await unregisterRecipe('BenchFootprint');
  results['footprint'] = { changes: N, baselineCpuSec: +base.toFixed(3), syncedCpuSec: +synced.toFixed(3), ratio: +(synced / base).toFixed(2) };
  log(`Redis footprint: ${synced.toFixed(2)} s CPU synced vs ${base.toFixed(2)} s bare HSETs, ratio ${(synced / base).toFixed(2)}`);
}

/**
 * What /metrics costs: runtimes started alternately with --http on (scraped every second, far
 * more often than Prometheus' usual 15 s) and --http off, each writing its own `METRICS_N`
 * changes; runtime CPU per change, medians of ROUNDS each.
 */
async function metricsCost(redis: Redis, db: Pool): Promise<void> {
  const M = Number(process.env['WB_BENCH_METRICS_N'] ?? 50_000);
  const port = 29_464;
  const perChange: { on: number[]; off: number[] } = { on: [], off: [] };
  await table(db, 'bench_metrics');
  let written = 0;
  for (let round = 0; round < ROUNDS; round++) {
    for (const mode of round % 2 === 0 ? (['on', 'off'] as const) : (['off', 'on'] as const)) {
      const before = await redis.hget(`${NS}:status:BenchMetrics`, 'reconciledAt');
      const rt = await Runtime.start(mode === 'on' ? ['--http', `127.0.0.1:${port}`] : ['--http', 'off']);
      try {
        if (before === null) await uploadRecipe('BenchMetrics', 'mx', 'bench_metrics', MAPPINGS);
        // The start-up reconcile of the keys so far is over before the measure starts.
        await until('start-up reconcile', async () => {
          const [at, busy] = await redis.hmget(`${NS}:status:BenchMetrics`, 'reconciledAt', 'reconciling');
          return at !== null && at !== before && !busy;
        }, 120_000, 20);
        const scraper = mode === 'on' ? setInterval(() => void fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text()).catch(() => undefined), 1000) : undefined;
        const cpu0 = rt.cpuSeconds();
        await writeHashes(redis, 'mx', M, written);
        written += M;
        await until('metrics rows', async () => (await count(db, 'bench_metrics')) === written, 300_000, 25);
        const cpu = rt.cpuSeconds() - cpu0;
        clearInterval(scraper);
        perChange[mode].push((cpu / M) * 1e6);
      } finally {
        await rt.stop();
      }
    }
  }
  const rt = await Runtime.start(['--http', 'off']);
  await unregisterRecipe('BenchMetrics');
  await rt.stop();
  for (let cursor = '0'; ; ) {
    const [next, keys] = await redis.scan(cursor, 'MATCH', 'mx:*', 'COUNT', 1000);
    if (keys.length) await redis.del(...keys);
    cursor = next;
    if (cursor === '0') break;
  }
  const on = median(perChange.on);
  const off = median(perChange.off);
  results['metricsCost'] = { changes: M, rounds: ROUNDS, cpuMicrosPerChangeOn: +on.toFixed(1), cpuMicrosPerChangeOff: +off.toFixed(1), difference: +((on - off) / off).toFixed(3), samples: { on: perChange.on.map((x) => +x.toFixed(1)), off: perChange.off.map((x) => +x.toFixed(1)) } };
  log(`metrics cost: runtime CPU per change ${on.toFixed(1)} µs with --http (scraped every second) vs ${off.toFixed(1)} µs without, ${(((on - off) / off) * 100).toFixed(1)} % (medians of ${ROUNDS}; on ${perChange.on.map((x) => x.toFixed(1)).join('/')}, off ${perChange.off.map((x) => x.toFixed(1)).join('/')})`);
}

interface Verdict {
  readonly measure: string;
  readonly result: string;
  readonly target: string;
  readonly met: boolean;
}

/** The issue's targets against this run's figures (only the phases that ran). */
function targets(): Verdict[] {
  const out: Verdict[] = [];
  const n = (x: number): string => Math.round(x).toLocaleString('en-US');
  const tp = results['throughput'] as { ratio: number; wbsyncRowsPerSec: number; referenceRowsPerSec: number } | undefined;
  if (tp) out.push({ measure: 'throughput ratio (wbsync / reference loader)', result: `${tp.ratio} (${n(tp.wbsyncRowsPerSec)} / ${n(tp.referenceRowsPerSec)} rows/s)`, target: '>= 0.8', met: tp.ratio >= 0.8 });
  for (const [rate, limit] of [[1000, 15], [5000, 30]] as const) {
    const lagAt = results[`lag${rate}`] as { p99: number } | undefined;
    if (lagAt) out.push({ measure: `lag p99 at ${n(rate)} changes/s`, result: `${lagAt.p99} ms`, target: `<= ${limit} ms`, met: lagAt.p99 <= limit });
  }
  const drain = results['catchUpdrain'] as { drainRowsPerSec: number } | undefined;
  if (drain) out.push({ measure: 'catch-up drain', result: `${n(drain.drainRowsPerSec)} rows/s`, target: '>= 50,000 rows/s', met: drain.drainRowsPerSec >= 50_000 });
  const mc = results['metricsCost'] as { difference: number; cpuMicrosPerChangeOn: number; cpuMicrosPerChangeOff: number } | undefined;
  if (mc) out.push({ measure: 'runtime CPU per change, --http on vs off', result: `${(mc.difference * 100).toFixed(1)} % (${mc.cpuMicrosPerChangeOn} / ${mc.cpuMicrosPerChangeOff} µs)`, target: '<= 5 %', met: mc.difference <= 0.05 });
  const fp = results['footprint'] as { ratio: number } | undefined;
  if (fp) out.push({ measure: 'Redis footprint ratio', result: String(fp.ratio), target: '<= 4', met: fp.ratio <= 4 });
  const cl = results['cluster'] as ClusterFigures | undefined;
  if (cl) {
    out.push({ measure: 'Redis CPU per synced change, cluster of 3 masters vs a single server', result: `${cl.ratio}x (${cl.redisCpuPerChangeMicros.cluster} / ${cl.redisCpuPerChangeMicros.standalone} µs)`, target: '<= 1.3x', met: cl.ratio <= 1.3 });
    out.push({ measure: 'lag p99 at 1,000 changes/s, cluster', result: `${cl.lagAt1000.p99} ms`, target: '<= 30 ms', met: cl.lagAt1000.p99 <= 30 });
  }
  const three = results['severalRuntimes'] as SeveralRuntimes | undefined;
  if (three) {
    out.push({ measure: 'Redis CPU per synced change, three runtimes vs one', result: `${three.ratio}x (${three.redisCpuPerChangeMicros.three} / ${three.redisCpuPerChangeMicros.one} µs)`, target: '<= 1.25x', met: three.ratio <= 1.25 });
    out.push({ measure: 'lag p99 at 1,000 changes/s, three runtimes', result: `${three.lagAt1000.p99} ms`, target: '<= 15 ms', met: three.lagAt1000.p99 <= 15 });
  }
  const startup = results['cliStartup'] as CliStartup | undefined;
  if (startup) {
    out.push({ measure: 'wb-cli --help vs node -e 0', result: `${startup.helpRatio}x (${startup.helpMs} / ${startup.nodeMs} ms)`, target: '<= 2.5x', met: startup.helpRatio <= 2.5 });
    out.push({ measure: 'wb-cli params vs node -e 0', result: `${startup.paramsRatio}x (${startup.paramsMs} / ${startup.nodeMs} ms)`, target: '<= 4x', met: startup.paramsRatio <= 4 });
  }
  const million = results['catchUpmillion'] as { rssWithBacklogMb: number; maxRssCapturingMb: number; maxRssDrainingMb: number } | undefined;
  if (million) {
    const peak = Math.max(million.rssWithBacklogMb, million.maxRssCapturingMb, million.maxRssDrainingMb);
    out.push({ measure: 'runtime RSS, 1,000,000-change backlog', result: `${million.rssWithBacklogMb} MB queued, ${peak} MB at most`, target: '<= 200 MB', met: peak <= 200 });
  }
  return out;
}

async function main(): Promise<void> {
  const server = await startRedis();
  const redis = new Redis(REDIS_URL);
  const db = mysqlPool();
  await benchUser(db);
  await redis.hset(`${NS}:params`, 'BenchUser', BENCH_USER, 'BenchPassword', BENCH_PASSWORD);
  results['machine'] = { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGb: Math.round(totalmem() / 2 ** 30), node: process.version, date: new Date().toISOString() };
  const only = process.env['WB_BENCH_ONLY']?.split(',');
  const want = (s: string): boolean => !only || only.includes(s);
  try {
    if (want('cli')) {
      results['cliStartup'] = cliStartup(REDIS_URL);
      log(`CLI start-up: ${JSON.stringify(results['cliStartup'])}`);
    }
    if (want('footprint')) await footprint(redis, db);
    if (want('metrics')) await metricsCost(redis, db);
    if (want('cluster')) {
      const c = await clusterPhase(redis, db, N, LAG_SECONDS);
      results['cluster'] = c;
      log(`cluster of 3 masters: Redis CPU per change ${c.redisCpuPerChangeMicros.cluster} µs vs ${c.redisCpuPerChangeMicros.standalone} µs on a single server (ratio ${c.ratio}); runtime CPU per change ${c.runtimeCpuPerChangeMicros.cluster} µs vs ${c.runtimeCpuPerChangeMicros.standalone} µs; lag at 1,000/s p50 ${c.lagAt1000.p50} ms, p99 ${c.lagAt1000.p99} ms, max ${c.lagAt1000.max} ms`);
    }
    if (want('runtimes')) {
      const three = await severalRuntimes(redis, db, N, LAG_SECONDS);
      results['severalRuntimes'] = three;
      log(`three runtimes: Redis CPU per change ${three.redisCpuPerChangeMicros.three} µs vs ${three.redisCpuPerChangeMicros.one} µs with one (ratio ${three.ratio}; medians of ${three.rounds} alternating rounds, one ${three.redisCpuPerChangeRounds.one.join('/')} µs, three ${three.redisCpuPerChangeRounds.three.join('/')} µs); lag at 1,000/s p50 ${three.lagAt1000.p50} ms, p99 ${three.lagAt1000.p99} ms; per runtime ${three.perRuntime.map((r) => `${r.id}${r.captures ? ' (captures)' : ''}: ${r.rows} rows, ${r.rowsPerSec} rows/s, ${r.cpuMicrosPerRow} µs CPU per row`).join('; ')}`);
    }
    const rt = await Runtime.start();
    try {
      // The runtime's resident memory after each phase: growth that stays would be a leak.
      const rss: Record<string, number> = { start: rt.memory().rssMb };
      if (want('throughput')) await throughput(redis, db, rt);
      rss['afterThroughput'] = rt.memory().rssMb;
      if (want('lag')) {
        await lag(redis, db, 1000);
        await lag(redis, db, 5000);
      }
      rss['afterLag'] = rt.memory().rssMb;
      if (want('catchup')) await catchUp(redis, db, rt, CATCHUP, 'drain');
      rss['afterCatchUp'] = rt.memory().rssMb;
      if (want('backlog')) await catchUp(redis, db, rt, BACKLOG, 'million');
      rss['afterBacklog'] = rt.memory().rssMb;
      results['runtimeRssMb'] = rss;
      log(`runtime RSS by phase (MB): ${JSON.stringify(rss)}`);
    } finally {
      await rt.stop();
    }
  } finally {
    redis.disconnect();
    await db.end();
    server.kill('SIGKILL');
  }
  const verdicts = targets();
  results['targets'] = verdicts;
  mkdirSync(`${ROOT}bench/results`, { recursive: true });
  writeFileSync(`${ROOT}bench/results/latest.json`, `${JSON.stringify(results, null, 2)}\n`);
  log('\nsummary');
  for (const [k, v] of Object.entries(results)) if (k !== 'targets') log(`  ${k.padEnd(18)} ${JSON.stringify(v)}`);
  log('');
  const rows = [['measure', 'result', 'target', 'met'], ...verdicts.map((v) => [v.measure, v.result, v.target, v.met ? 'yes' : 'NO'])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const [i, r] of rows.entries()) {
    log(r.map((c, j) => c.padEnd(widths[j]!)).join('  '));
    if (i === 0) log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
  log(`\nwritten to bench/results/latest.json`);
}

await main();
