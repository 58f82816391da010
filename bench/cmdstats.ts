// Where the CPU goes while wbsync syncs 100,000 hashes: Redis INFO commandstats after one round
// against a fresh runtime, and the CPU of Redis, the runtime, MariaDB and this writer. Run:
// node --import tsx bench/cmdstats.ts (WB_BENCH_QUIET=1 skips the command table).
import { execSync } from 'node:child_process';
import { Redis } from 'ioredis';
import { BENCH_PASSWORD, BENCH_USER, benchUser, count, mysqlPool, NS, processCpuSeconds, reconciled, redisCpu, REDIS_URL, Runtime, startRedis, table, until, uploadRecipe, writeHashes } from './lib.ts';
const server = await startRedis();
const redis = new Redis(REDIS_URL);
const db = mysqlPool();
await benchUser(db);
await redis.hset(`${NS}:params`, 'BenchUser', BENCH_USER, 'BenchPassword', BENCH_PASSWORD);
const rt = await Runtime.start();
await table(db, 'bench_cs');
await uploadRecipe('Cs', 'cs', 'bench_cs', { first_name: 'first', last_name: 'last', age: 'age' });
await reconciled(redis, 'Cs');
await redis.config('RESETSTAT');
const mariadb = Number(execSync('pidof mariadbd || pidof mysqld').toString().trim().split(' ')[0]);
const inserts = async (): Promise<number> => {
  const [rows] = await db.query("SHOW GLOBAL STATUS LIKE 'Com_insert'");
  return Number((rows as Array<{ Value: string }>)[0]?.Value);
};
const i0 = await inserts();
const m0 = processCpuSeconds(mariadb);
const b0 = process.cpuUsage();
const c0 = await redisCpu(redis);
const r0 = rt.cpuSeconds();
const t = performance.now();
await writeHashes(redis, 'cs', 100_000);
const w = performance.now() - t;
await until('rows', async () => (await count(db, 'bench_cs')) === 100000, 120000, 25);
console.log('writer', Math.round(w), 'ms; total', Math.round(performance.now() - t), 'ms; redis cpu', ((await redisCpu(redis)) - c0).toFixed(2), '; runtime cpu', (rt.cpuSeconds() - r0).toFixed(2), '; mariadb cpu', (processCpuSeconds(mariadb) - m0).toFixed(2), '; this process', ((process.cpuUsage(b0).user + process.cpuUsage(b0).system) / 1e6).toFixed(2), '; INSERT statements', (await inserts()) - i0);
if (!process.env['WB_BENCH_QUIET']) console.log((await redis.info('commandstats')).split('\n').filter((l) => l.startsWith('cmdstat')).join('\n'));
await rt.stop(); redis.disconnect(); await db.end(); server.kill('SIGKILL');
