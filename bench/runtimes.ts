// The several-runtimes phase of `npm run bench`: the same load synced by one runtime and then by
// three sharing the namespace, in one run. Redis CPU per synced change (what capture once and
// the partition leases cost Redis), lag at 1,000 changes/s, and rows/s and CPU per change of each
// runtime (from its own /metrics).
import type { Redis } from 'ioredis';
import type { Pool, RowDataPacket } from 'mysql2/promise';
import { count, NS, percentile, reconciled, redisCpu, Runtime, sleep, steadyWrites, table, unregisterRecipe, until, uploadRecipe, warmUp, writeHashes } from './lib.ts';

const MAPPINGS = { first_name: 'first', last_name: 'last', age: 'age' };

export interface SeveralRuntimes {
  readonly changes: number;
  readonly redisCpuPerChangeMicros: { readonly one: number; readonly three: number };
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
  const cpu0 = await redisCpu(redis);
  const started = performance.now();
  await writeHashes(redis, prefix, n);
  await until(`${prefix} rows`, async () => (await count(db, tableName)) === n, 300_000, 50);
  return { cpu: (await redisCpu(redis)) - cpu0, seconds: (performance.now() - started) / 1000 };
}

export async function severalRuntimes(redis: Redis, db: Pool, n: number, lagSeconds: number): Promise<SeveralRuntimes> {
  const ports = [9471, 9472, 9473];
  const ids = ['bench-a', 'bench-b', 'bench-c'];
  const first = await Runtime.start(['--http', `127.0.0.1:${ports[0]}`], ids[0]);
  const others: Runtime[] = [];
  try {
    // One runtime.
    await table(db, 'bench_one');
    await uploadRecipe('BenchOne', 'one', 'bench_one', MAPPINGS);
    await reconciled(redis, 'BenchOne');
    const one = await syncedCpu(redis, db, 'one', 'bench_one', n);
    await unregisterRecipe('BenchOne');
    // Three: two more join; the recipe is uploaded once all three hold partitions of the namespace.
    others.push(await Runtime.start(['--http', `127.0.0.1:${ports[1]}`], ids[1]));
    others.push(await Runtime.start(['--http', `127.0.0.1:${ports[2]}`], ids[2]));
    await table(db, 'bench_three');
    await uploadRecipe('BenchThree', 'three', 'bench_three', MAPPINGS);
    await reconciled(redis, 'BenchThree');
    await until('partitions spread over three', async () => {
      const beats = (await redis.mget(ids.map((id) => `${NS}:runtime:${id}`))).map((v) => (v ? (JSON.parse(v) as { partitions?: Record<string, number[]> }) : undefined));
      return beats.every((b) => (b?.partitions?.['BenchThree']?.length ?? 0) >= 2);
    }, 30_000, 100);
    const all = [first, ...others];
    const rows0 = await Promise.all(ports.map(rowsWritten));
    const cpu0 = all.map((r) => r.cpuSeconds());
    const three = await syncedCpu(redis, db, 'three', 'bench_three', n);
    const rows1 = await Promise.all(ports.map(rowsWritten));
    const beats = (await redis.mget(ids.map((id) => `${NS}:runtime:${id}`))).map((v) => (v ? (JSON.parse(v) as { capture?: boolean }) : {}));
    const perRuntime = ids.map((id, i) => {
      const rows = (rows1[i] as number) - (rows0[i] as number);
      const cpu = (all[i] as Runtime).cpuSeconds() - (cpu0[i] as number);
      return { id, rows, rowsPerSec: Math.round(rows / three.seconds), cpuMicrosPerRow: rows ? Math.round((cpu * 1e6) / rows) : 0, captures: beats[i]?.capture === true };
    });
    await unregisterRecipe('BenchThree');
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
      redisCpuPerChangeMicros: { one: micros(one.cpu), three: micros(three.cpu) },
      ratio: +(three.cpu / one.cpu).toFixed(2),
      lagAt1000: { p50: percentile(lags, 50), p99: percentile(lags, 99), max: lags[lags.length - 1] as number },
      perRuntime,
    };
  } finally {
    await Promise.all([first, ...others].map((r) => r.stop()));
    for (const t of ['bench_one', 'bench_three', 'bench_lag_three']) await db.query(`DROP TABLE IF EXISTS ${t}`);
  }
}
