import { hostname } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { Command, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_DB_TIMEOUTS } from './connectors/timeouts.ts';
import { createLogger } from './log.ts';
import { packageVersion } from './package-version.ts';
import { addRedisFlags, FlagError, redisTarget, type RedisFlags } from './redis/flags.ts';
import { detectShape, type RedisShape } from './redis/cluster-client.ts';
import { redisUnavailable } from './redis/nodes.ts';
import { parseHttp, type HttpAddress } from './http/server.ts';
import { Runtime } from './runtime.ts';
import { addSandboxFlags } from './sandbox/limits.ts';

interface RuntimeFlags extends RedisFlags {
  readonly id: string;
  readonly logLevel: string;
  readonly retryMaxMs: number;
  readonly claimIdleMs: number;
  readonly stopTimeoutMs: number;
  readonly dbConnectTimeoutMs: number;
  readonly dbQueryTimeoutMs: number;
  readonly allowEviction?: boolean;
  readonly evalTimeoutMs: number;
  readonly http: string;
  readonly historyEveryMs: number;
  readonly credentialTimeoutMs: number;
  readonly leaseTtlMs: number;
  readonly leaseMarginMs?: number;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

const program = addSandboxFlags(addRedisFlags(new Command('wb-runtime')))
  .description('The long-running wbsync process: loads every uploaded recipe and syncs its keys to its database.')
  .version(packageVersion(), '-V, --version', 'print the wbsync version')
  .option('--id <id>', 'runtime id (also its consumer name in each backlog)', hostname())
  .addOption(new Option('--log-level <level>', 'log level').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'))
  .option('--stop-timeout-ms <ms>', 'on SIGINT/SIGTERM, exit anyway after this long (pending entries stay in the backlog)', positiveInt, 30_000)
  .option('--retry-max-ms <ms>', 'longest wait between database retries', positiveInt, 5000)
  .option('--claim-idle-ms <ms>', 'take over entries another runtime left pending this long', positiveInt, 30_000)
  // A database that stops answering without closing the connection (a hung host, a stalled
  // network path) raises no error: without a limit a batch would wait for ever, unreported.
  // Defaults and why: DEFAULT_DB_TIMEOUTS and docs/runtime.md.
  .option('--db-connect-timeout-ms <ms>', 'give up on a database connect (TCP, TLS, login) after this long, and retry', positiveInt, DEFAULT_DB_TIMEOUTS.connectTimeoutMs)
  .option('--db-query-timeout-ms <ms>', 'give up on a database call (a whole batch, a read) after this long: the session is dropped and the batch retried', positiveInt, DEFAULT_DB_TIMEOUTS.queryTimeoutMs)
  .option('--http <[host:]port>', "serve /metrics (Prometheus), /healthz and /readyz there; 'off' to serve nothing", '127.0.0.1:9464')
  .option('--history-every-ms <ms>', "with --http: how often each recipe's sample (backlog, rows/s, lag) is added to the status page's hour of history", positiveInt, 10_000)
  .option('--lease-ttl-ms <ms>', 'how long a partition or capture lease (and the heartbeat) lasts unrenewed: a runtime that dies loses its partitions this long after its last renewal', positiveInt, 10_000)
  .option('--lease-margin-ms <ms>', 'stop committing a partition this long before its lease could expire (covers the database statement timeout and clock drift); default: half the TTL', positiveInt)
  .option('--allow-eviction', "run even under an allkeys-* maxmemory-policy, which can evict wbsync's own keys (backlog, recipes, parameters)")
  .addHelpText('after', '\nEnvironment: WB_REDIS_URL, WB_REDIS_PASSWORD (fallbacks for --url and --password).')
  .showHelpAfterError()
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));

// Memory, however the process was started (a bin, `node dist/runtime/main.js`, a supervisor):
// collect the old generation once it doubles instead of letting it grow about fourfold (live
// data is ~20 MB), and keep the young generation at its first size. Both flags are read by V8
// whenever it sizes a space, so setting them here works without command-line flags or a
// re-exec; `npm run bench` measures the resident set through a 1,000,000-change backlog.
setFlagsFromString('--heap-growing-percent=100');
setFlagsFromString('--semi-space-growth-factor=1');

program.parse();
const flags = program.opts<RuntimeFlags>();
const log = createLogger(flags.logLevel);

function httpOption(value: string): { http?: HttpAddress } {
  try {
    const http = parseHttp(value);
    return http ? { http } : {};
  } catch (err) {
    throw new FlagError((err as Error).message);
  }
}

/**
 * A single server (or Sentinel's master), or a node of a Redis Cluster? Asked before the runtime
 * is made; while Redis does not answer, asked again every second (a runtime started before its
 * Redis waits for it), saying why once per reason.
 */
async function shapeOf(): Promise<RedisShape> {
  let said = '';
  for (;;) {
    try {
      return await detectShape(flags);
    } catch (err) {
      if (err instanceof FlagError) throw err;
      const why = err instanceof Error ? err.message : String(err);
      const refused = /WRONGPASS|NOAUTH|invalid username-password|NOPERM/.test(why);
      // The same message as a connection's error once running (operators grep for it).
      if (why !== said) log.warn({ conn: 'start', redis: redisTarget(flags).describe, err: why, next: refused ? 'Redis refuses these credentials (check --user, --password, WB_REDIS_PASSWORD); trying again every second' : 'trying again every second' }, 'redis connection error');
      said = why;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

let runtime: Runtime | undefined;
function makeRuntime(shape: RedisShape): Runtime {
  if (shape.cluster) log.info({ seeds: shape.seeds }, 'Redis is a cluster: capturing on every master');
  return new Runtime({
    flags, shape, id: flags.id, retry: { minMs: 200, maxMs: flags.retryMaxMs }, claimIdleMs: flags.claimIdleMs, pollMs: 5000, allowEviction: flags.allowEviction === true,
    db: { connectTimeoutMs: flags.dbConnectTimeoutMs, queryTimeoutMs: flags.dbQueryTimeoutMs },
    sandbox: { evalTimeoutMs: flags.evalTimeoutMs, credentialTimeoutMs: flags.credentialTimeoutMs },
    ...httpOption(flags.http),
    httpIsDefault: program.getOptionValueSource('http') === 'default',
    historyEveryMs: flags.historyEveryMs,
    leaseTtlMs: flags.leaseTtlMs,
    ...(flags.leaseMarginMs === undefined ? {} : { leaseMarginMs: flags.leaseMarginMs }),
  }, log);
}

// Signals are handled here and only here: the first one drains, a second one exits at once.
let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) process.exit(130);
    stopping = true;
    if (runtime === undefined) {
      log.info({ signal }, 'runtime stopped before it was running');
      process.exit(0);
    }
    log.info({ signal }, 'stopping: finishing in-flight batches');
    // A stop waits for Redis and the database; if they do not answer, nothing is lost by leaving:
    // unacknowledged entries stay pending and the next start takes them up.
    setTimeout(() => {
      log.error({ afterMs: flags.stopTimeoutMs }, 'stop timed out; exiting with work left pending in the backlog');
      process.exit(1);
    }, flags.stopTimeoutMs).unref();
    runtime.stop().then(() => process.exit(0), (err) => {
      log.error({ err: String(err) }, 'stop failed');
      process.exit(1);
    });
  });
}

function usage(err: unknown): never {
  if (err instanceof FlagError) {
    process.stderr.write(`wb-runtime: ${err.message}\n`);
    process.exit(2);
  }
  throw err;
}

// Usage errors before anything connects: the same checks a runtime makes (it throws FlagError).
try {
  redisTarget(flags);
} catch (err) {
  usage(err);
}

/**
 * Makes and starts the runtime. On a cluster whose failover is under way at this moment (a
 * master down, its replica not promoted yet), a start fails on the dead master: it is made and
 * started again every second until the cluster answers, as a start waits for a single server.
 */
async function start(shape: RedisShape): Promise<void> {
  let said = '';
  for (;;) {
    try {
      runtime = makeRuntime(shape);
    } catch (err) {
      usage(err);
    }
    try {
      await runtime.start();
      return;
    } catch (err) {
      if (stopping || !shape.cluster || !redisUnavailable(err)) throw err;
      const why = err instanceof Error ? err.message : String(err);
      if (why !== said) log.warn({ err: why }, 'the cluster does not answer for all its slots yet (a failover under way, or the node given is in no cluster yet?); starting again every second');
      said = why;
      const failed = runtime;
      runtime = undefined;
      await failed.stop().catch(() => undefined);
      await new Promise((r) => setTimeout(r, 1000));
      if (stopping) return;
    }
  }
}

shapeOf().then((shape) => {
  if (stopping) return;
  return start(shape);
}).catch((err: unknown) => {
  if (stopping) return; // a signal during the start ends it; the stop exits
  log.fatal({ err: err instanceof Error ? err.message : String(err) }, 'runtime failed to start');
  process.exit(1);
});
