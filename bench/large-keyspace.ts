// What a start costs on a large Redis: a recipe with 1,000 keys on a Redis that also holds
// 1,000,000 unrelated keys. The start's reconcile SCANs the whole keyspace (MATCH only filters
// what each call returns), so this times that reconcile and, meanwhile, the latency an
// application sees: one connection sending an HMGET every millisecond or so. Run:
// node --import tsx bench/large-keyspace.ts (WB_BENCH_UNRELATED=<n> changes the 1,000,000).
import { Redis } from 'ioredis';
import { BENCH_PASSWORD, BENCH_USER, benchUser, count, mysqlPool, NS, percentile, REDIS_URL, Runtime, sleep, startRedis, table, until, uploadRecipe, writeHashes } from './lib.ts';

const UNRELATED = Number(process.env['WB_BENCH_UNRELATED'] ?? 1_000_000);
const RECIPE_KEYS = 1000;
const server = await startRedis();
const redis = new Redis(REDIS_URL);
const app = new Redis(REDIS_URL);
const db = mysqlPool();
try {
  // Unrelated keys, 1,000 per MSET; the recipe's keys are written among them.
  for (let start = 0; start < UNRELATED; start += 100_000) {
    const p = redis.pipeline();
    for (let i = start; i < Math.min(UNRELATED, start + 100_000); i += 1000) {
      const args: string[] = [];
      for (let j = i; j < Math.min(UNRELATED, i + 1000); j++) args.push(`other:${j}`, 'x');
      p.mset(...args);
    }
    await p.exec();
  }
  await writeHashes(redis, 'lk', RECIPE_KEYS);
  console.log('keys in Redis', await redis.dbsize());
  await benchUser(db);
  await redis.hset(`${NS}:params`, 'BenchUser', BENCH_USER, 'BenchPassword', BENCH_PASSWORD);
  await table(db, 'bench_lk');
  const rt = await Runtime.start();
  const status = `${NS}:status:Lk`;

  // The application: an HMGET about every millisecond on its own connection, each timed.
  const sample = async (ms: number, stopWhen: (fields: (string | null)[]) => boolean = () => false): Promise<{ lat: number[]; fields: (string | null)[][] }> => {
    const lat: number[] = [];
    const fields: (string | null)[][] = [];
    const end = performance.now() + ms;
    while (performance.now() < end) {
      const t = performance.now();
      const f = await app.hmget(status, 'reconciling', 'reconciledAt');
      lat.push(performance.now() - t);
      fields.push(f);
      if (stopWhen(f)) break;
      await sleep(1);
    }
    return { lat, fields };
  };
  const summary = (lat: number[]): string => {
    const s = [...lat].sort((a, b) => a - b);
    return `${s.length} commands, p50 ${percentile(s, 50).toFixed(2)} ms, p99 ${percentile(s, 99).toFixed(2)} ms, max ${(s[s.length - 1] ?? 0).toFixed(2)} ms`;
  };
  console.log('idle:', summary((await sample(2000)).lat));

  const upload = uploadRecipe('Lk', 'lk', 'bench_lk', { first_name: 'first', last_name: 'last', age: 'age' });
  // From the upload until the status says the reconcile is over.
  const t0 = performance.now();
  let began = Number.NaN;
  const during = await sample(300_000, (f) => {
    if (Number.isNaN(began) && f[0]) began = performance.now();
    return Boolean(f[1]);
  });
  const ended = performance.now();
  await upload;
  // Only the samples taken while `reconciling` was set: the reconcile's own SCAN.
  const lat = during.lat.filter((_, i) => Boolean(during.fields[i]?.[0]));
  console.log(`reconcile: ${Math.round(ended - began)} ms (upload to reconciledAt ${Math.round(ended - t0)} ms), reconciledKeys ${await redis.hget(status, 'reconciledKeys')}`);
  console.log('during the reconcile:', summary(lat));
  await until('rows', async () => (await count(db, 'bench_lk')) === RECIPE_KEYS, 60_000, 50);
  console.log('rows', await count(db, 'bench_lk'));
  await rt.stop();
} finally {
  redis.disconnect();
  app.disconnect();
  await db.end();
  server.kill('SIGKILL');
  await sleep(100);
}
