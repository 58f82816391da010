import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { createPool, type Pool, type RowDataPacket } from 'mysql2/promise';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const REDIS_PORT = Number(process.env['WB_BENCH_REDIS_PORT'] ?? 6399);
export const REDIS_URL = `redis://127.0.0.1:${REDIS_PORT}`;
export const NS = 'wbbench';
export const MYSQL = { host: '127.0.0.1', port: 3306, user: 'root', password: '', database: 'test' };
export const BENCH_USER = 'wbbench';
export const BENCH_PASSWORD = 'bench-pw-1';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function until(what: string, check: () => Promise<boolean>, timeoutMs: number, everyMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`bench: timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** A redis-server owned by the bench, so its CPU counters measure only the bench. */
export async function startRedis(): Promise<ChildProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'wbbench-'));
  const child = spawn('redis-server', ['--port', String(REDIS_PORT), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  // A server left by a bench that died would answer in its place, with its old state.
  let exited = false;
  child.once('exit', () => (exited = true));
  process.once('exit', () => child.kill('SIGKILL'));
  const probe = new Redis(REDIS_URL, { lazyConnect: true, retryStrategy: () => null });
  probe.on('error', () => undefined);
  await until('redis-server', async () => {
    if (exited) throw new Error(`bench: redis-server could not start on port ${REDIS_PORT} (a server left by an earlier bench? stop it first)`);
    await probe.connect().catch(() => undefined);
    if ((await probe.ping().catch(() => '')) !== 'PONG') return false;
    const pid = Number(/process_id:(\d+)/.exec(await probe.info('server'))?.[1]);
    if (pid !== child.pid) throw new Error(`bench: port ${REDIS_PORT} is held by another redis-server (pid ${pid}, left by an earlier bench?): stop it first`);
    return true;
  }, 10_000, 50);
  probe.disconnect();
  return child;
}

/** Redis server CPU seconds so far (user + sys). */
export async function redisCpu(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const get = (k: string): number => Number(new RegExp(`${k}:([\\d.]+)`).exec(info)?.[1] ?? 0);
  return get('used_cpu_user') + get('used_cpu_sys');
}

/** CPU seconds (user + system) process `pid` has used so far. */
export function processCpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

/** A wb-runtime child process pointed at the bench Redis. */
export class Runtime {
  readonly child: ChildProcess;

  private constructor(child: ChildProcess) {
    this.child = child;
  }

  static async start(extra: readonly string[] = [], id = 'bench'): Promise<Runtime> {
    const args = [`${ROOT}dist/runtime/main.js`, '--url', REDIS_URL, '--namespace', NS, '--id', id, '--retry-max-ms', '200', '--log-level', process.env['WB_BENCH_LOG_LEVEL'] ?? 'warn', ...extra];
    // Plain `node` on the compiled entry, no V8 flags: the runtime's memory bound must hold
    // however a supervisor starts it (WB_BENCH_NODE_FLAGS adds flags for experiments).
    const child = spawn(process.execPath, [...(process.env['WB_BENCH_NODE_FLAGS'] ?? '').split(' ').filter(Boolean), ...(process.env['WB_BENCH_PROF'] ? ['--cpu-prof', '--cpu-prof-dir', `${ROOT}bench/results/prof`] : []), ...args], { cwd: ROOT, stdio: ['ignore', process.env['WB_BENCH_LOG_LEVEL'] ? 'inherit' : 'ignore', 'inherit'] });
    const rt = new Runtime(child);
    process.once('exit', () => child.kill('SIGKILL')); // a bench that dies leaves no runtime behind
    const redis = new Redis(REDIS_URL);
    await until('runtime heartbeat', async () => (await redis.exists(`${NS}:runtime:${id}`)) === 1, 20_000, 50);
    redis.disconnect();
    return rt;
  }

  /** CPU seconds (user + system) the runtime has used so far. */
  cpuSeconds(): number {
    return processCpuSeconds(this.child.pid as number);
  }

  /** Peak and current resident memory in MB (VmHWM / VmRSS). */
  memory(): { peakMb: number; rssMb: number } {
    const status = readFileSync(`/proc/${this.child.pid}/status`, 'utf8');
    const kb = (k: string): number => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
    return { peakMb: Math.round(kb('VmHWM') / 1024), rssMb: Math.round(kb('VmRSS') / 1024) };
  }

  async stop(): Promise<void> {
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGTERM');
    await exited;
  }
}

export function mysqlPool(): Pool {
  return createPool({ ...MYSQL, connectionLimit: 3 });
}

/** The MariaDB user the bench's recipes connect as (its credentials go to the parameter store). */
export async function benchUser(db: Pool): Promise<void> {
  for (const host of ['%', 'localhost']) {
    await db.query(`CREATE USER IF NOT EXISTS '${BENCH_USER}'@'${host}' IDENTIFIED BY '${BENCH_PASSWORD}'`);
    await db.query(`GRANT ALL ON test.* TO '${BENCH_USER}'@'${host}'`);
  }
}

export async function count(db: Pool, table: string): Promise<number> {
  const [rows] = await db.query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM ${table}`);
  return Number(rows[0]?.['n']);
}

/** Writes a recipe for the bench runtime and uploads it with the real CLI. */
export async function uploadRecipe(name: string, prefix: string, table: string, mappings: Record<string, string>, extra = ''): Promise<void> {
  const file = join(mkdtempSync(join(tmpdir(), 'wbbench-recipe-')), `${name}.ts`);
  writeFileSync(file, `import { configGet, MySqlConnection, MySqlConnector, writeBehind } from 'wbsync';
const c = new MySqlConnection(() => configGet('BenchUser'), () => configGet('BenchPassword'), '127.0.0.1:3306/test');
export default writeBehind({ name: '${name}', version: '1', keysPrefix: '${prefix}', mappings: ${JSON.stringify(mappings)}, connector: new MySqlConnector(c, '${table}', 'id'), ${extra} });
`);
  await wbCli(['upload', file], `upload of ${name}`);
}

/**
 * Waits until the runtime has finished the reconcile a new recipe starts with (a SCAN of the whole
 * keyspace for its prefix): the figures then describe the steady state, not that one-off scan.
 */
export async function reconciled(redis: Redis, name: string): Promise<void> {
  await until(`${name} reconciled`, async () => Boolean(await redis.hget(`${NS}:status:${name}`, 'reconciledAt')), 120_000, 20);
}

/** Removes a recipe with the real CLI (its runtime, if any, stops syncing it). */
export async function unregisterRecipe(name: string): Promise<void> {
  await wbCli(['unregister', name], `unregister of ${name}`);
}

/** Runs the real wb-cli against the bench Redis and namespace; throws when it fails. */
async function wbCli(args: readonly string[], what: string): Promise<void> {
  const res = await new Promise<number>((resolve) => {
    const child = spawn(process.execPath, [`${ROOT}bin/wb-cli.js`, ...args, '--url', REDIS_URL, '--namespace', NS], { stdio: ['ignore', 'ignore', 'inherit'] });
    child.on('exit', (code) => resolve(code ?? 1));
  });
  if (res !== 0) throw new Error(`bench: ${what} failed`);
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/** A fresh bench table: the three mapped columns, plus `extra` column definitions. */
export async function table(db: Pool, name: string, extra = ''): Promise<void> {
  await db.query(`DROP TABLE IF EXISTS ${name}`);
  await db.query(`CREATE TABLE ${name} (id VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin PRIMARY KEY, first VARCHAR(64), last VARCHAR(64), age INT${extra})`);
}

/** Pipelined HSETs of `n` distinct keys `{prefix}:{i}`, 1,000 per round trip. */
export async function writeHashes(redis: Redis, prefix: string, n: number, from = 0): Promise<void> {
  for (let start = from; start < from + n; start += 1000) {
    const p = redis.pipeline();
    for (let i = start; i < Math.min(from + n, start + 1000); i++) p.hset(`${prefix}:${i}`, 'first_name', `first${i}`, 'last_name', `last${i}`, 'age', String(i % 100));
    await p.exec();
  }
}

/**
 * A steady writer: `total` changes at `rate` per second to `{prefix}:{i}`, each carrying its send
 * time in the mapped field `sent`, so the table can measure lag against its own clock.
 */
/**
 * Warms a lag measurement up: one second of the same steady load on keys `<prefix>:warm<n>`,
 * all arrived before it returns. Every runtime's writers have then connected and described the
 * table, and its code is compiled, so the figures that follow describe the steady state (a
 * single warm row left the first second's connects and compiles inside the measurement, on
 * every runtime but the one that wrote it). The measurement leaves out ids `warm…`.
 */
export async function warmUp(redis: Redis, db: Pool, prefix: string, tableName: string, rate: number): Promise<number> {
  await steadyWrites(redis, prefix, rate, rate, 'warm');
  await until('warm-up rows', async () => (await count(db, tableName)) === rate, 60_000, 20);
  return rate;
}

export async function steadyWrites(redis: Redis, prefix: string, rate: number, total: number, idPrefix = ''): Promise<void> {
  const started = Date.now();
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((Date.now() - started) / 1000) * rate));
    if (due > sent) {
      const p = redis.pipeline();
      for (; sent < due; sent++) p.hset(`${prefix}:${idPrefix}${sent}`, 'first_name', 'x', 'sent', String(Date.now()));
      await p.exec();
    }
    await sleep(1);
  }
}
