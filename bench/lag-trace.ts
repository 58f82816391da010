// Where light-load latency goes: a steady writer (WB_BENCH_RATE changes/s for WB_BENCH_SECONDS s; 1000 and 10)
// against a fresh runtime; each change's delay is split at the moment capture appended it to the
// backlog (the stream entry id's clock). Run: node --import tsx bench/lag-trace.ts
import { Redis } from 'ioredis';
import type { RowDataPacket } from 'mysql2/promise';
import { BENCH_PASSWORD, BENCH_USER, count, mysqlPool, NS, percentile, reconciled, redisCpu, REDIS_URL, Runtime, startRedis, steadyWrites, table, until, uploadRecipe } from './lib.ts';

const rate = Number(process.env['WB_BENCH_RATE'] ?? 1000);
const secs = Number(process.env['WB_BENCH_SECONDS'] ?? 10);
const server = await startRedis();
const redis = new Redis(REDIS_URL);
const watcher = new Redis(REDIS_URL);
const db = mysqlPool();
await redis.hset(`${NS}:params`, 'BenchUser', BENCH_USER, 'BenchPassword', BENCH_PASSWORD);
const rt = await Runtime.start();
const name = 'bench_lagtrace';
await table(db, name, ', sent BIGINT, arrived TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)');
await uploadRecipe('LagTrace', 'lt', name, { first_name: 'first', sent: 'sent' });
await reconciled(redis, 'LagTrace');
await redis.hset('lt:warm', 'first_name', 'w', 'sent', String(Date.now()));
await until('warm', async () => (await count(db, name)) === 1, 30000, 20);
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
await redis.config('RESETSTAT');
const cpu0 = rt.cpuSeconds();
const redis0 = await redisCpu(redis);
const started = Date.now();
await steadyWrites(redis, 'lt', rate, total);
await until('rows', async () => (await count(db, name)) === total + 1, 60000, 50);
console.log(`runtime CPU ${(rt.cpuSeconds() - cpu0).toFixed(2)} s, Redis CPU ${((await redisCpu(redis)) - redis0).toFixed(2)} s for ${total} changes in ${((Date.now() - started) / 1000).toFixed(1)} s`);
stop = true;
await watch;
if (process.env['WB_BENCH_CMDSTATS']) console.log((await redis.info('commandstats')).split('\n').filter((l) => l.startsWith('cmdstat')).join('\n'));
const [rows] = await db.query<RowDataPacket[]>(`SELECT id, sent, ROUND(UNIX_TIMESTAMP(arrived) * 1000) AS arrived FROM ${name} WHERE id <> 'warm'`);
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
worst.sort((a, b) => b[0] - a[0]);
console.log('worst (total, capture, write):', JSON.stringify(worst.slice(0, 15)));
await rt.stop();
redis.disconnect(); watcher.disconnect(); await db.end(); server.kill('SIGKILL');
