import { Command } from 'commander';
import type { Redis } from 'ioredis';
import { liveRuntimes } from '../../runtime/heartbeat.ts';
import type { Keys } from '../../runtime/keys.ts';
import { describeOverlap, findOverlaps, type PrefixClaim } from '../../runtime/registry/overlap.ts';
import { RecipeStore, type RecipeMeta } from '../../runtime/registry/store.ts';
import { deleteGoneRowsCommand } from '../../runtime/verify/gone-rows.ts';
import { withRedis } from '../context.ts';
import { CliError, printTable } from '../output.ts';
import { registeredClaims } from '../recipe-loader.ts';

/** Age in ms of the oldest entry still in a stream (its id carries its time), or null when empty. */
async function oldestAgeMs(redis: Redis, stream: string): Promise<number | null> {
  const first = await redis.xrange(stream, '-', '+', 'COUNT', 1);
  const id = first[0]?.[0];
  return id === undefined ? null : Math.max(0, Date.now() - Number(id.split('-')[0]));
}

async function recipeStatus(redis: Redis, keys: Keys, m: RecipeMeta, claims: readonly PrefixClaim[]) {
  const own = claims.find((c) => c.name === m.name);
  const overlaps = own ? findOverlaps([own], claims) : [];
  const [s, backlog, oldest, deadLetters] = await Promise.all([
    redis.hgetall(keys.status(m.name)), redis.xlen(keys.backlog(m.name)), oldestAgeMs(redis, keys.backlog(m.name)), redis.xlen(keys.deadLetters(m.name)),
  ]);
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

export const status = new Command('status')
  .description('per recipe: version, state, backlog and its oldest age, synced, failures, dead letters, last error; and live runtimes')
  .argument('[name]', 'only this recipe')
  .option('--json', 'print JSON')
  .action(async (name: string | undefined, opts: { json?: boolean }, cmd: Command) => {
    await withRedis(cmd, async ({ redis, keys, limits }) => {
      const all = await new RecipeStore(redis, keys).list();
      const claims = await registeredClaims(redis, keys, all, limits);
      let metas = all;
      if (name !== undefined) {
        metas = metas.filter((m) => m.name === name);
        if (metas.length === 0) throw new CliError(`no recipe named '${name}' is registered; wb-cli list shows the registered ones`);
      }
      const recipes = await Promise.all(metas.map((m) => recipeStatus(redis, keys, m, claims)));
      const runtimes = await liveRuntimes(redis, keys);
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ recipes, runtimes }, null, 2)}\n`);
        return;
      }
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
        if (r.goneRows) process.stdout.write(`\nNOTE ${r.name}: ${r.goneRows} rows whose key is gone are kept (found ${r.goneRowsAt}); \`${deleteGoneRowsCommand(r.name, keys.ns)}\` deletes them\n`);
      }
      process.stdout.write(`\nruntimes alive: ${runtimes.length ? runtimes.map((r) => `${r.id} (pid ${r.pid} on ${r.host})`).join(', ') : 'none'}\n`);
    });
  });
