// The several-runtimes phase of `npm run bench`: the same load synced by one runtime and then by
// three sharing the namespace, in alternating rounds of one run (medians). Redis CPU per synced change (what capture once and
// the partition leases cost Redis), lag at 1,000 changes/s, and rows/s and CPU per change of each
// runtime (from its own /metrics).
import type { Redis } from 'ioredis';
import type { Pool, RowDataPacket } from 'mysql2/promise';
import { count, NS, percentile, reconciled, redisCpu, Runtime, sleep, steadyWrites, table, unregisterRecipe, until, uploadRecipe, warmUp, writeHashes } from './lib.ts';

const MAPPINGS = { first_name: 'first', last_name: 'last', age: 'age' };

export interface SeveralRuntimes {
  readonly changes: number;
  readonly rounds: number;
  /** Medians of the rounds. */
  readonly redisCpuPerChangeMicros: { readonly one: number; readonly three: number };
  readonly redisCpuPerChangeRounds: { readonly one: readonly number[]; readonly three: readonly number[] };
  readonly ratio: number;
  readonly lagAt1000: { readonly p50: number; readonly p99: number; readonly max: number };
  readonly perRuntime: ReadonlyArray<{ readonly id: string; readonly rows: number; readonly rowsPerSec: number; readonly cpuMicrosPerRow: number; readonly captures: boolean }>;
}

/** Rows a runtime wrote, from its /metrics (`wbsync_rows_written_total`, summed). */
async function rowsWritten(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  let n = 0;
  for (const line of text.split('\n')) if (line.startsWith('wbsync_rows_written_total{')) n += Number(line.split(' ').pop());
  return n;
}

/** Redis CPU for `n` changes synced by whatever runtimes run now (until every row is in). */
async function syncedCpu(redis: Redis, db: Pool, prefix: string, tableName: string, n: number): Promise<{ cpu: number; seconds: number }> {
  const stats0 = process.env['WB_BENCH_CMDSTATS'] === '1' ? await commandStats(redis) : undefined;
  const cpu0 = await redisCpu(redis);
  const started = performance.now();
  await writeHashes(redis, prefix, n);
  await until(`${prefix} rows`, async () => (await count(db, tableName)) === n, 300_000, 50);
  const out = { cpu: (await redisCpu(redis)) - cpu0, seconds: (performance.now() - started) / 1000 };
  if (stats0) {
    // WB_BENCH_CMDSTATS=1: where Redis's time went (INFO commandstats), the costliest first.
    const stats1 = await commandStats(redis);
    const rows = [...stats1].map(([cmd, s]) => ({ cmd, calls: s.calls - (stats0.get(cmd)?.calls ?? 0), usec: s.usec - (stats0.get(cmd)?.usec ?? 0) })).filter((r) => r.calls > 0).sort((a, b) => b.usec - a.usec).slice(0, 12);
    console.log(`${prefix}: Redis CPU ${out.cpu.toFixed(3)} s; ${rows.map((r) => `${r.cmd} ${r.calls} calls ${(r.usec / 1000).toFixed(0)} ms`).join(', ')}`);
  }
  return out;
}

/** INFO commandstats: per command, its calls and microseconds. */
async function commandStats(redis: Redis): Promise<Map<string, { calls: number; usec: number }>> {
  const out = new Map<string, { calls: number; usec: number }>();
  for (const line of (await redis.info('commandstats')).split('\n')) {
    const m = /^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/.exec(line);
    if (m) out.set(m[1] as string, { calls: Number(m[2]), usec: Number(m[3]) });
  }
  return out;
}

/** Alternating rounds of one runtime and of three: single rounds of Redis CPU vary by 10-20 % here. */
const ROUNDS = 3;

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

export async function severalRuntimes(redis: Redis, db: Pool, n: number, lagSeconds: number): Promise<SeveralRuntimes> {
  const ports = [9471, 9472, 9473];
  const ids = ['bench-a', 'bench-b', 'bench-c'];
  const first = await Runtime.start(['--http', `127.0.0.1:${ports[0]}`], ids[0]);
  const others: Runtime[] = [];
  const tables: string[] = ['bench_lag_three'];
  try {
    const oneCpu: number[] = [];
    const threeCpu: number[] = [];
    let perRuntime: SeveralRuntimes['perRuntime'] = [];
    for (let round = 0; round < ROUNDS; round++) {
      // One runtime.
      const oneTable = `bench_one_${round}`;
      tables.push(oneTable);
      await table(db, oneTable);
      await uploadRecipe(`BenchOne${round}`, `one${round}`, oneTable, MAPPINGS);
      await reconciled(redis, `BenchOne${round}`);
      oneCpu.push((await syncedCpu(redis, db, `one${round}`, oneTable, n)).cpu);
      await unregisterRecipe(`BenchOne${round}`);
      // Three: two more join; the recipe is uploaded once all three hold partitions of the namespace.
      others.push(await Runtime.start(['--http', `127.0.0.1:${ports[1]}`], ids[1]));
      others.push(await Runtime.start(['--http', `127.0.0.1:${ports[2]}`], ids[2]));
      const threeTable = `bench_three_${round}`;
      const recipe = `BenchThree${round}`;
      tables.push(threeTable);
      await table(db, threeTable);
      await uploadRecipe(recipe, `three${round}`, threeTable, MAPPINGS);
      await reconciled(redis, recipe);
      await until('partitions spread over three', async () => {
        const beats = (await redis.mget(ids.map((id) => `${NS}:runtime:${id}`))).map((v) => (v ? (JSON.parse(v) as { partitions?: Record<string, number[]> }) : undefined));
        return beats.every((b) => (b?.partitions?.[recipe]?.length ?? 0) >= 2);
      }, 30_000, 100);
      const all = [first, ...others];
      const rows0 = await Promise.all(ports.map(rowsWritten));
      const cpu0 = all.map((r) => r.cpuSeconds());
      const three = await syncedCpu(redis, db, `three${round}`, threeTable, n);
      threeCpu.push(three.cpu);
      const rows1 = await Promise.all(ports.map(rowsWritten));
      const beats = (await redis.mget(ids.map((id) => `${NS}:runtime:${id}`))).map((v) => (v ? (JSON.parse(v) as { capture?: boolean }) : {}));
      perRuntime = ids.map((id, i) => {
        const rows = (rows1[i] as number) - (rows0[i] as number);
        const cpu = (all[i] as Runtime).cpuSeconds() - (cpu0[i] as number);
        return { id, rows, rowsPerSec: Math.round(rows / three.seconds), cpuMicrosPerRow: rows ? Math.round((cpu * 1e6) / rows) : 0, captures: beats[i]?.capture === true };
      });
      await unregisterRecipe(recipe);
      // The last round's three stay for the lag.
      if (round < ROUNDS - 1) await Promise.all(others.splice(0).map((r) => r.stop()));
    }
    // Lag at 1,000 changes/s with the three.
    const name = 'bench_lag_three';
    await table(db, name, ', sent BIGINT, arrived TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)');
    await uploadRecipe('BenchLagThree', 'lagthree', name, { ...MAPPINGS, sent: 'sent' });
    await reconciled(redis, 'BenchLagThree');
    await sleep(3000); // the partitions of the new recipe spread first
    // Warmed up as the single runtime's lag phase is: each runtime's writers connect at its first rows.
    const warm = await warmUp(redis, db, 'lagthree', name, 1000);
    const total = 1000 * lagSeconds;
    await steadyWrites(redis, 'lagthree', 1000, total);
    await until('lag rows', async () => (await count(db, name)) === total + warm, 60_000, 50);
    const [lagRows] = await db.query<RowDataPacket[]>(`SELECT ROUND(UNIX_TIMESTAMP(arrived) * 1000) - sent AS lag FROM ${name} WHERE id NOT LIKE 'warm%'`);
    const lags = lagRows.map((r) => Number(r['lag'])).sort((a, b) => a - b);
    await unregisterRecipe('BenchLagThree');
    const micros = (cpu: number): number => +((cpu * 1e6) / n).toFixed(1);
    return {
      changes: n,
      rounds: ROUNDS,
      redisCpuPerChangeMicros: { one: micros(median(oneCpu)), three: micros(median(threeCpu)) },
      redisCpuPerChangeRounds: { one: oneCpu.map(micros), three: threeCpu.map(micros) },
      ratio: +(median(threeCpu) / median(oneCpu)).toFixed(2),
      lagAt1000: { p50: percentile(lags, 50), p99: percentile(lags, 99), max: lags[lags.length - 1] as number },
      perRuntime,
    };
  } finally {
    await Promise.all([first, ...others].map((r) => r.stop()));
    for (const t of tables) await db.query(`DROP TABLE IF EXISTS ${t}`);
  }
}
