import { Command, InvalidArgumentError } from 'commander';
import type { Redis } from 'ioredis';
import { liveRuntimes } from '../../runtime/heartbeat.ts';
import type { Keys } from '../../runtime/keys.ts';
import { describeOverlap, findOverlaps, type PrefixClaim } from '../../runtime/registry/overlap.ts';
import { backlogTotals, partitionCounts, shardTags } from '../../runtime/backlog/streams.ts';
import { clusterMasters, tagIn } from '../../runtime/redis/cluster.ts';
import { RecipeStore, type RecipeMeta } from '../../runtime/registry/store.ts';
import { deleteGoneRowsCommand } from '../../runtime/verify/gone-rows.ts';
import { redisTarget } from '../../runtime/redis/flags.ts';
import { serverIdentity } from '../../runtime/redis/topology.ts';
import { withRedis } from '../context.ts';
import { CliError, printTable } from '../output.ts';
import { registeredClaims } from '../recipe-loader.ts';

/**
 * Age in ms of the oldest entry still in any partition of a recipe's backlog, or null when
 * empty: its id carries its time on Redis's clock, so the age is taken against Redis's TIME, not
 * this host's clock.
 */
async function oldestAgeMs(redis: Redis, first: number | undefined): Promise<number | null> {
  const [sec, micros] = await redis.time();
  return first === undefined ? null : Math.max(0, Number(sec) * 1000 + Math.floor(Number(micros) / 1000) - first);
}

/** The Redis server this status was read from: its address, role and run_id (a failover changes them). */
async function serverStatus(redis: Redis, keys: Keys, target: string): Promise<{ target: string; address: string; role: string; runId: string; masters?: Array<{ address: string; slots: string; shard: string; replicas: string[]; capturedBy?: string | null }> }> {
  if (keys.cluster) {
    // A cluster: its masters, each with its slots and the shard its changes are captured into.
    const masters = await clusterMasters(redis);
    return {
      target, address: target, role: `cluster of ${masters.length} masters`, runId: '',
      masters: masters.map((m) => ({ address: `${m.host}:${m.port}`, slots: m.slots.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(','), shard: tagIn(m.slots), replicas: m.replicas.map((r) => `${r.host}:${r.port}`) })),
    };
  }
  const { runId, role } = await serverIdentity(redis);
  const socket = (redis as unknown as { stream?: { remoteAddress?: string; remotePort?: number } }).stream;
  return { target, address: socket?.remoteAddress ? `${socket.remoteAddress}:${socket.remotePort}` : target, role, runId };
}

async function recipeStatus(redis: Redis, keys: Keys, m: RecipeMeta, claims: readonly PrefixClaim[]) {
  const own = claims.find((c) => c.name === m.name);
  const overlaps = own ? findOverlaps([own], claims) : [];
  const [partitions = 1] = await partitionCounts(redis, keys, [m.name]);
  // The counters live with the backlog: per shard on a cluster, summed here.
  const [s0, totals] = await Promise.all([redis.hgetall(keys.status(m.name)), backlogTotals(redis, keys, m.name, partitions, await shardTags(redis, keys))]);
  const s: Record<string, string> = { ...s0, queued: String(totals.queued), synced: String(totals.synced), deadLetters: String(totals.deadLettered) };
  const [backlog, oldest, deadLetters] = [totals.entries, await oldestAgeMs(redis, totals.oldestMs), totals.deadLetters];
  return {
    name: m.name, version: m.version, loadedVersion: s['version'] ?? null, state: s['state'] ?? 'not loaded', runtime: s['runtime'] ?? null,
    backlog: Math.max(0, Number(s['queued'] ?? 0)), backlogEntries: backlog, oldestPendingMs: oldest, synced: Number(s['synced'] ?? 0), failures: Number(s['failures'] ?? 0),
    deadLettered: Number(s['deadLetters'] ?? 0), deadLetters,
    error: s['error'] || null, lastError: s['lastError'] || null, lastErrorAt: s['lastErrorAt'] || null, warning: s['warning'] || null,
    reconciling: s['reconciling'] || null, reconciledAt: s['reconciledAt'] || null, reconciledKeys: s['reconciledKeys'] === undefined ? null : Number(s['reconciledKeys']),
    sweeping: s['sweeping'] || null, goneRows: s['goneRows'] === undefined ? null : Number(s['goneRows']), goneRowsAt: s['goneRowsAt'] || null, flushKeptAt: s['flushKeptAt'] || null,
    overflowedAt: s['overflowedAt'] || null,
    overlaps: overlaps.map((o) => ({ name: o.b.name, keysPrefix: o.b.keysPrefix, sameTable: o.sameTable, message: describeOverlap(o) })),
  };
}

type RecipeStatus = Awaited<ReturnType<typeof recipeStatus>>;
type Runtime = Awaited<ReturnType<typeof liveRuntimes>>[number];

interface StatusOptions {
  json?: boolean;
  watch?: boolean;
  check?: boolean;
  stalledAfter: number;
}

function seconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a positive number of seconds');
  return n;
}

export const status = new Command('status')
  .description('per recipe: version, state, backlog and its oldest age, synced, failures, dead letters, last error; and live runtimes')
  .argument('[name]', 'only this recipe')
  .option('--json', 'print JSON')
  .option('--watch', 'redraw every second until interrupted')
  .option('--check', 'exit 1 when no runtime is alive or a recipe is failed, failing, stalled or paused (for cron jobs and monitors)')
  .option('--stalled-after <seconds>', 'with --check: a recipe whose oldest unwritten change is older than this is stalled', seconds, 60)
  .action(async (name: string | undefined, opts: StatusOptions, cmd: Command) => {
    await withRedis(cmd, async ({ redis, keys, limits, flags }) => {
      const target = redisTarget(flags).describe;
      const gather = async (): Promise<{ recipes: RecipeStatus[]; runtimes: Runtime[]; redis: ServerStatus }> => {
        const all = await new RecipeStore(redis, keys).list();
        const claims = await registeredClaims(redis, keys, all, limits);
        let metas = all;
        if (name !== undefined) {
          metas = metas.filter((m) => m.name === name);
          if (metas.length === 0) throw new CliError(`no recipe named '${name}' is registered; wb-cli list shows the registered ones`);
        }
        const runtimes = await liveRuntimes(redis, keys);
        const server = await serverStatus(redis, keys, target);
        // One runtime captures every master of a cluster (the capture lease): each master names it.
        const capturer = runtimes.find((r) => r.capture)?.id ?? null;
        if (server.masters) server.masters = server.masters.map((m) => ({ ...m, capturedBy: capturer }));
        return { recipes: await Promise.all(metas.map((m) => recipeStatus(redis, keys, m, claims))), runtimes, redis: server };
      };
      if (opts.watch) {
        const tty = process.stdout.isTTY === true;
        for (;;) {
          const now = await gather();
          if (tty && !opts.json) process.stdout.write('\x1b[H\x1b[2J'); // home, clear: a redraw in place
          if (opts.json) process.stdout.write(`${JSON.stringify(now)}\n`);
          else {
            print(now.recipes, now.runtimes, keys.ns, now.redis);
            process.stdout.write(`\n${new Date().toISOString()}  (every 1 s; Ctrl-C to stop)\n${tty ? '' : '\n'}`);
          }
          await new Promise((r) => setTimeout(r, 1000));
        }
      }
      const { recipes, runtimes, redis: server } = await gather();
      if (opts.json) process.stdout.write(`${JSON.stringify({ recipes, runtimes, redis: server }, null, 2)}\n`);
      else print(recipes, runtimes, keys.ns, server);
      if (opts.check) {
        const problems = checkProblems(recipes, runtimes, opts.stalledAfter * 1000);
        if (problems.length) throw new CliError(`check failed:\n${problems.map((p) => `  ${p}`).join('\n')}`);
      }
    });
  });

/**
 * What `status --check` fails on: no live runtime, and per recipe a failed state, a standing
 * error, a paused writer, or an oldest unwritten change older than `stalledMs`.
 */
export function checkProblems(recipes: readonly RecipeStatus[], runtimes: readonly Runtime[], stalledMs: number): string[] {
  const problems: string[] = [];
  if (runtimes.length === 0) problems.push('no runtime is alive');
  for (const r of recipes) {
    if (r.state === 'failed') problems.push(`${r.name}: failed${r.error ? `: ${r.error}` : ''}`);
    else if (r.error) problems.push(`${r.name}: failing: ${r.error}`);
    if (r.state === 'paused') problems.push(`${r.name}: paused`);
    if (r.state === 'not loaded' || r.state === 'unregistered') problems.push(`${r.name}: ${r.state}`);
    if (r.oldestPendingMs !== null && r.oldestPendingMs > stalledMs) problems.push(`${r.name}: stalled: its oldest unwritten change is ${(r.oldestPendingMs / 1000).toFixed(0)} s old`);
    if (r.overflowedAt) problems.push(`${r.name}: the backlog overflowed at ${r.overflowedAt}`);
  }
  return problems;
}

type ServerStatus = Awaited<ReturnType<typeof serverStatus>>;

function print(recipes: readonly RecipeStatus[], runtimes: readonly Runtime[], ns: string, server: ServerStatus): void {
  // `overflowed` joins the state: the recipe runs, but is not capturing until it catches up.
  const rows = recipes.map((r) => ({ ...r, state: r.overflowedAt ? `${r.state}, overflowed` : r.state, oldest: r.oldestPendingMs === null ? '' : `${(r.oldestPendingMs / 1000).toFixed(1)}s`, error: r.error ?? (r.lastError ? `(last: ${r.lastErrorAt}) ${r.lastError}` : '') }));
  printTable(rows, ['name', 'version', 'state', 'backlog', 'oldest', 'synced', 'failures', 'deadLetters', 'error'], false);
  for (const r of recipes) if (r.warning) process.stdout.write(`\nWARNING ${r.name}: ${r.warning}\n`);
  for (const r of recipes) {
    if (r.overflowedAt) process.stdout.write(`\nWARNING ${r.name}: the backlog overflowed at ${r.overflowedAt} (maxBacklog): changes are not captured until it has drained to half; a reconcile and a sweep then catch up\n`);
  }
  for (const r of recipes) for (const o of r.overlaps) process.stdout.write(`\nWARNING ${r.name}: ${o.message}\n`);
  for (const r of runtimes) if (r.warning) process.stdout.write(`\nWARNING runtime ${r.id}: ${r.warning}\n`);
  for (const r of recipes) {
    if (r.goneRows) process.stdout.write(`\nNOTE ${r.name}: ${r.goneRows} rows whose key is gone are kept (found ${r.goneRowsAt}); \`${deleteGoneRowsCommand(r.name, ns)}\` deletes them\n`);
  }
  process.stdout.write(`\nredis: ${server.address}${server.role ? ` (${server.role})` : ''}${server.target !== server.address ? `, reached as ${server.target}` : ''}\n`);
  for (const m of server.masters ?? []) process.stdout.write(`  master ${m.address}: slots ${m.slots}, shard ${m.shard}${m.replicas.length ? `, replicas ${m.replicas.join(', ')}` : ''}, ${m.capturedBy ? `captured by ${m.capturedBy}` : 'captured by no runtime'}\n`);
  process.stdout.write(`runtimes alive: ${runtimes.length ? runtimes.map((r) => `${r.id} (pid ${r.pid} on ${r.host}${r.http ? `, http://${r.http}/` : ''})`).join(', ') : 'none'}\n`);
  if (runtimes.length === 0) return;
  // What each one holds: the capture lease, and per recipe the backlog partitions it writes.
  process.stdout.write('\n');
  const held = runtimes.map((r) => ({
    runtime: r.id,
    capture: r.capture ? 'yes' : '-',
    partitions: Object.entries(r.partitions ?? {}).filter(([, ps]) => ps.length).map(([n, ps]) => `${n}: ${ps.join(',')}`).join('  ') || '-',
    'rows/s': r.rowsPerSec ?? 0,
  }));
  printTable(held, ['runtime', 'capture', 'partitions', 'rows/s'], false);
}
