// Where light-load latency goes: a steady writer (WB_BENCH_RATE changes/s for WB_BENCH_SECONDS s; 1000 and 10; warmed up by a second of it unless WB_BENCH_COLD)
// against a fresh runtime; each change's delay is split at the moment capture appended it to the
// backlog (the stream entry id's clock). WB_BENCH_RUNTIMES runtimes (1) share the namespace.
// Run: npm run bench:lag-trace
import { Redis } from 'ioredis';
import type { RowDataPacket } from 'mysql2/promise';
import { BENCH_PASSWORD, BENCH_USER, benchUser, count, mysqlPool, NS, percentile, reconciled, redisCpu, REDIS_URL, Runtime, startRedis, steadyWrites, table, until, uploadRecipe, warmUp } from './lib.ts';

const rate = Number(process.env['WB_BENCH_RATE'] ?? 1000);
const secs = Number(process.env['WB_BENCH_SECONDS'] ?? 10);
const server = await startRedis();
const redis = new Redis(REDIS_URL);
const watcher = new Redis(REDIS_URL);
const db = mysqlPool();
await benchUser(db);
await redis.hset(`${NS}:params`, 'BenchUser', BENCH_USER, 'BenchPassword', BENCH_PASSWORD);
// WB_BENCH_RUNTIMES (1) runtimes share the namespace; the first one starts first and captures.
const runtimes = Number(process.env['WB_BENCH_RUNTIMES'] ?? 1);
const http = (i: number): string[] => (process.env['WB_BENCH_METRICS'] ? ['--http', `127.0.0.1:${9480 + i}`] : []);
const rt = await Runtime.start(http(0));
const others: Runtime[] = [];
for (let i = 1; i < runtimes; i++) others.push(await Runtime.start(http(i), `bench-${i}`));
const name = 'bench_lagtrace';
await table(db, name, ', sent BIGINT, arrived TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)');
await uploadRecipe('LagTrace', 'lt', name, { first_name: 'first', sent: 'sent' });
await reconciled(redis, 'LagTrace');
if (runtimes > 1) await new Promise((r) => setTimeout(r, 3000)); // the partitions spread first
const warm = process.env['WB_BENCH_COLD'] ? 0 : await warmUp(redis, db, 'lt', name, rate);
const captured = new Map<string, number>();
let stop = false;
// Every partition of the recipe's backlog (8 by default).
const streams = Array.from({ length: 8 }, (_, p) => `${NS}:backlog:{LagTrace/${p}}`);
const watch = (async () => {
  const last = new Map(streams.map((s) => [s, '$']));
  while (!stop) {
    const res = (await watcher.xread('COUNT', 100, 'BLOCK', 200, 'STREAMS', ...streams, ...streams.map((s) => last.get(s) as string))) as Array<[string, Array<[string, string[]]>]> | null;
    for (const [stream, entries] of res ?? []) {
      for (const [id, fields] of entries) {
        last.set(stream, id);
        const ms = Number(id.split('-')[0]);
        for (let i = 0; i < fields.length; i += 2) captured.set(fields[i] as string, ms);
      }
    }
  }
})();
const total = rate * secs;
const dbStatus = async (): Promise<Map<string, number>> => {
  const [r] = await db.query<RowDataPacket[]>("SHOW GLOBAL STATUS WHERE Variable_name IN ('Questions', 'Com_commit', 'Com_insert', 'Com_rollback', 'Com_begin')");
  return new Map(r.map((x) => [String(x['Variable_name']), Number(x['Value'])]));
};
const db0 = await dbStatus();
await redis.config('RESETSTAT');
await redis.config('SET', 'slowlog-log-slower-than', '5000');
await redis.config('SET', 'latency-monitor-threshold', '10');
await redis.slowlog('RESET');
const cpus0 = [rt, ...others].map((r) => r.cpuSeconds());
const redis0 = await redisCpu(redis);
const started = Date.now();
await steadyWrites(redis, 'lt', rate, total);
await until('rows', async () => (await count(db, name)) === total + warm, 60000, 50);
const cpus = [rt, ...others].map((r, i) => r.cpuSeconds() - (cpus0[i] as number));
console.log(`runtime CPU ${cpus.reduce((a, b) => a + b, 0).toFixed(2)} s (${cpus.map((c) => c.toFixed(2)).join(' + ')}), Redis CPU ${((await redisCpu(redis)) - redis0).toFixed(2)} s for ${total} changes in ${((Date.now() - started) / 1000).toFixed(1)} s`);
stop = true;
await watch;
if (process.env['WB_BENCH_METRICS']) {
  for (let i = 0; i < runtimes; i++) {
    const text = await (await fetch(`http://127.0.0.1:${9480 + i}/metrics`)).text();
    console.log(`runtime ${i}:`, text.split('\n').filter((l) => /^wbsync_(db_write_seconds|sync_lag_seconds|batch_rows)_(bucket|count)/.test(l)).map((l) => l.replace(/\{recipe="LagTrace",?/, '{')).join(' '));
  }
}
const db1 = await dbStatus();
console.log(`MariaDB: ${[...db1].map(([k, v]) => `${k} ${v - (db0.get(k) ?? 0)}`).join(', ')}`);
console.log('slowlog (>= 5 ms):', JSON.stringify(await redis.slowlog('GET', 20)).slice(0, 1500));
console.log('latency:', JSON.stringify(await redis.call('LATENCY', 'LATEST')));
if (process.env['WB_BENCH_CMDSTATS']) console.log((await redis.info('commandstats')).split('\n').filter((l) => l.startsWith('cmdstat')).join('\n'));
const [rows] = await db.query<RowDataPacket[]>(`SELECT id, sent, ROUND(UNIX_TIMESTAMP(arrived) * 1000) AS arrived FROM ${name} WHERE id NOT LIKE 'warm%'`);
const cap: number[] = [], wr: number[] = [], all: number[] = [];
const worst: Array<[number, number, number]> = [];
for (const r of rows) {
  const c = captured.get(`lt:${r['id']}`);
  const s = Number(r['sent']), a = Number(r['arrived']);
  all.push(a - s);
  if (c !== undefined) { cap.push(c - s); wr.push(a - c); worst.push([a - s, c - s, a - c]); }
}
const fmt = (xs: number[]) => { xs.sort((a, b) => a - b); return `p50 ${percentile(xs, 50)} p90 ${percentile(xs, 90)} p99 ${percentile(xs, 99)} max ${xs[xs.length - 1]} (n=${xs.length})`; };
console.log('total  ', fmt(all));
console.log('capture', fmt(cap));
console.log('write  ', fmt(wr));
if (process.env['WB_BENCH_STALLS']) {
  // When the slow ones were sent (ms from the first write), to see whether stalls are periodic;
  // slow is over WB_BENCH_STALLS ms when it is a number above 1, else over 50 ms.
  const over = Number(process.env['WB_BENCH_STALLS']) > 1 ? Number(process.env['WB_BENCH_STALLS']) : 50;
  const t0 = Math.min(...rows.map((r) => Number(r['sent'])));
  const slow = rows.filter((r) => Number(r['arrived']) - Number(r['sent']) > over).map((r) => Number(r['sent']) - t0).sort((a, b) => a - b);
  const bursts: number[] = [];
  for (const t of slow) if (bursts.length === 0 || t - (bursts[bursts.length - 1] as number) > 300) bursts.push(t);
  console.log(`slow (> ${over} ms) changes sent at (ms, first of each burst; ${slow.length} in all):`, bursts.join(' '));
}
worst.sort((a, b) => b[0] - a[0]);
console.log('worst (total, capture, write):', JSON.stringify(worst.slice(0, 15)));
await Promise.all([rt, ...others].map((r) => r.stop()));
redis.disconnect(); watcher.disconnect(); await db.end(); server.kill('SIGKILL');
