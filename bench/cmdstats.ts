// Where the CPU goes while wbsync syncs 100,000 hashes: Redis INFO commandstats after one round
// against a fresh runtime, and the CPU of Redis, the runtime, MariaDB and this writer. Run:
// node --import tsx bench/cmdstats.ts (WB_BENCH_QUIET=1 skips the command table).
import { execSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
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
const mariadb = execSync('pidof mariadbd || pidof mysqld').toString().trim().split(' ')[0];
const procCpu = (pid: string): number => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(f[11]) + Number(f[12])) / 100;
};
const inserts = async (): Promise<number> => {
  const [rows] = await db.query("SHOW GLOBAL STATUS LIKE 'Com_insert'");
  return Number((rows as Array<{ Value: string }>)[0]?.Value);
};
const i0 = await inserts();
const m0 = procCpu(mariadb as string);
const b0 = process.cpuUsage();
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
console.log('writer', Math.round(w), 'ms; total', Math.round(performance.now() - t), 'ms; redis cpu', ((await redisCpu(redis)) - c0).toFixed(2), '; runtime cpu', (rt.cpuSeconds() - r0).toFixed(2), '; mariadb cpu', (procCpu(mariadb as string) - m0).toFixed(2), '; this process', ((process.cpuUsage(b0).user + process.cpuUsage(b0).system) / 1e6).toFixed(2), '; INSERT statements', (await inserts()) - i0);
if (!process.env['WB_BENCH_QUIET']) console.log((await redis.info('commandstats')).split('\n').filter((l) => l.startsWith('cmdstat')).join('\n'));
await rt.stop(); redis.disconnect(); await db.end(); server.kill('SIGKILL');
