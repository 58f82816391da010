// Where Redis spends its time while wbsync syncs 100,000 hashes: INFO commandstats after one
// throughput round against a fresh runtime. Run: node --import tsx bench/cmdstats.ts
import { Redis } from 'ioredis';
import { BENCH_PASSWORD, BENCH_USER, count, mysqlPool, NS, redisCpu, REDIS_URL, Runtime, sleep, startRedis, until, uploadRecipe } from './lib.ts';
const server = await startRedis();
const redis = new Redis(REDIS_URL);
const db = mysqlPool();
await redis.hset(`${NS}:params`, 'BenchUser', BENCH_USER, 'BenchPassword', BENCH_PASSWORD);
const rt = await Runtime.start();
await db.query('DROP TABLE IF EXISTS bench_cs');
await db.query('CREATE TABLE bench_cs (id VARCHAR(64) PRIMARY KEY, first VARCHAR(64), last VARCHAR(64), age INT)');
await uploadRecipe('Cs', 'cs', 'bench_cs', { first_name: 'first', last_name: 'last', age: 'age' });
await sleep(300);
await redis.config('RESETSTAT');
const c0 = await redisCpu(redis);
const r0 = rt.cpuSeconds();
const t = performance.now();
for (let start = 0; start < 100000; start += 1000) {
  const p = redis.pipeline();
  for (let i = start; i < start + 1000; i++) p.hset(`cs:${i}`, 'first_name', `first${i}`, 'last_name', `last${i}`, 'age', String(i % 100));
  await p.exec();
}
const w = performance.now() - t;
await until('rows', async () => (await count(db, 'bench_cs')) === 100000, 120000, 25);
console.log('writer', Math.round(w), 'ms; total', Math.round(performance.now() - t), 'ms; redis cpu', ((await redisCpu(redis)) - c0).toFixed(2), '; runtime cpu', (rt.cpuSeconds() - r0).toFixed(2));
if (!process.env['WB_BENCH_QUIET']) console.log((await redis.info('commandstats')).split('\n').filter((l) => l.startsWith('cmdstat')).join('\n'));
await rt.stop(); redis.disconnect(); await db.end(); server.kill('SIGKILL');
