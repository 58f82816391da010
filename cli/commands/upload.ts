import { randomUUID } from 'node:crypto';
import { basename } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import type { Redis } from 'ioredis';
import { liveRuntimes } from '../../runtime/heartbeat.ts';
import type { Keys } from '../../runtime/keys.ts';
import { claimOf, describeOverlap, findOverlaps, type Overlap } from '../../runtime/registry/overlap.ts';
import { entryFields } from '../../runtime/redis/stream.ts';
import { RecipeStore, UploadRefused } from '../../runtime/registry/store.ts';
import { tellRuntimes, withRedis } from '../context.ts';
import { CliError, say } from '../output.ts';
import { progress } from '../progress.ts';
import { registeredClaims } from '../recipe-loader.ts';
import { checkKeyColumns, checkRegistrations, loadRecipeFile } from './check.ts';

function seconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a positive number of seconds');
  return n;
}

export const upload = new Command('upload')
  .description('bundle a recipe, validate it, store it, and wait until every running runtime has loaded it')
  .argument('<file>', 'recipe module (.ts or .js) whose default export is writeBehind({...}) or an array of them')
  .option('--force', 'replace a registered recipe even if its version is not higher, and accept a table another recipe writes too')
  .option('--timeout <seconds>', "how long to wait for the runtimes' verdicts", seconds, 10)
  .option('--check', 'check the recipe against its live table first (see wb-cli check) and refuse it on a problem')
  .option('--wait', "after the runtime loads it, wait until the recipe's existing keys are all queued (its first reconcile), with progress on a terminal")
  .action(async (file: string, opts: { force?: boolean; timeout: number; check?: boolean; wait?: boolean }, cmd: Command) => {
    await withRedis(cmd, async ({ redis, keys, limits }) => {
      const { code, regs } = await loadRecipeFile(file, redis, keys, limits);
      for (const reg of regs) {
        if (reg.keysPrefix === keys.ns || reg.keysPrefix.startsWith(`${keys.ns}:`)) {
          throw new CliError(`upload refused: '${reg.name}' keysPrefix '${reg.keysPrefix}' overlaps wbsync's own namespace '${keys.ns}'; choose another prefix`);
        }
      }
      // The same refusal as every runtime's on a cluster, also when none is alive to say it.
      for (const reg of regs) {
        if (keys.cluster && reg.kind === 'writeThrough') {
          throw new CliError(`upload refused: recipe '${reg.name}' is write-through, which does not run on a Redis Cluster yet (write-behind does); run it against a single server or Redis Sentinel`);
        }
      }
      const overlaps = findOverlaps(regs.map(claimOf), await registeredClaims(redis, keys, undefined, limits));
      const clashes = overlaps.filter((o) => o.sameTable);
      if (clashes.length && !opts.force) {
        throw new CliError(`upload refused: ${clashes.map(describeOverlap).join('\n')}\ngive each recipe a table of its own (and disjoint prefixes), or upload with --force if both are meant to write this table`);
      }
      warnOverlaps(overlaps);
      if (opts.check && !(await checkRegistrations(regs))) throw new CliError('upload refused: the check found problems (see above)');
      if (!opts.check) {
        const keyProblems = await checkKeyColumns(regs);
        if (keyProblems.length) throw new CliError(`upload refused: ${keyProblems.join('\n')}`);
      }
      const store = new RecipeStore(redis, keys);
      const claims = regs.map((r) => ({ version: r.version, partitions: r.partitions, ...claimOf(r) }));
      const refusals = await store.refusals(claims, opts.force === true);
      if (refusals.length) throw new CliError(`upload refused: ${refusals.join('\n')}`);
      // Every live runtime evaluates the bundle first (its code, its driver on that host, its
      // partitions): one that cannot load it refuses the upload before anything is stored, so
      // the previous version keeps running everywhere.
      const alive = await liveRuntimes(redis, keys);
      if (alive.length > 0) await prepareEverywhere(redis, keys, code, regs.map((r) => r.name), alive.map((r) => r.id), opts.timeout * 1000);
      let results;
      try {
        results = await store.put(claims, code, basename(file), opts.force === true);
      } catch (err) {
        if (err instanceof UploadRefused) throw new CliError(`upload refused: ${err.message}`);
        throw err;
      }
      for (const { meta, decision } of results) {
        if (decision.action === 'register') say(`registered ${meta.name} version ${meta.version}`);
        else if (decision.action === 'replace') say(`replaced ${meta.name} version ${decision.from} with ${meta.version}${decision.forced ? ' (--force)' : ''}`);
      }
      const runtimes = await liveRuntimes(redis, keys);
      const names = results.map((r) => r.meta.name);
      const nonce = randomUUID();
      // Taken before publishing: the verdict is added after it, whatever this host's clock says.
      const since = await verdictsStartId(redis);
      // What the last reconcile left, to tell the one this upload starts from it.
      const before = new Map<string, string | null>();
      for (const n of names) before.set(n, await redis.hget(keys.status(n), 'reconciledAt'));
      await tellRuntimes(redis, keys, { op: 'sync', nonce, names });
      if (runtimes.length === 0) {
        say('no runtime is connected; the recipe loads when wb-runtime starts');
        return;
      }
      const reconciling = await awaitVerdicts(redis, keys, nonce, names, runtimes.map((r) => r.id), since, opts.timeout * 1000);
      if (opts.wait) for (const n of names) await waitQueued(redis, keys, n, reconciling.has(n) ? before.get(n) ?? null : undefined);
    });
  });

/**
 * Two recipes may mean to write the same keys to two tables (two databases, say): that is a
 * warning, kept in `wb-cli status`. Two recipes writing one table is a mistake, refused without
 * --force: their rows mix in one key column.
 */
function warnOverlaps(overlaps: readonly Overlap[]): void {
  for (const o of overlaps) process.stderr.write(`wb-cli: warning: ${describeOverlap(o)}${o.sameTable ? ' (accepted with --force)' : ''}\n`);
}

/**
 * Where to start reading the verdicts stream so that the verdict to come is seen: just before
 * Redis's time now (TIME). XADD gives an entry an id from Redis's clock (or past the stream's
 * last id), so a start taken from this host's clock skipped the verdict whenever this host's
 * clock ran ahead of Redis's. TIME, not the stream's last id (XREVRANGE): the CLI's
 * least-privilege ACL user of docs/security.md may run TIME and not XREVRANGE. An older verdict
 * read after the start is another upload's, told apart by its nonce.
 */
export async function verdictsStartId(redis: Pick<Redis, 'time'>): Promise<string> {
  const [seconds, micros] = await redis.time();
  return `${Number(seconds) * 1000 + Math.floor(Number(micros) / 1000) - 1}-0`;
}

/**
 * The prepare phase: the bundle goes into a key of its own for two minutes, every runtime in
 * `runtimes` evaluates it as it would load it and answers `prepared` or `failed`. Throws (with
 * every runtime's reason) unless all of them prepared it; nothing is stored or changed then.
 */
async function prepareEverywhere(redis: Redis, keys: Keys, code: string, names: readonly string[], runtimes: readonly string[], timeoutMs: number): Promise<void> {
  const nonce = randomUUID();
  const since = await verdictsStartId(redis);
  await redis.set(keys.candidate(nonce), code, 'PX', 120_000);
  try {
    await tellRuntimes(redis, keys, { op: 'prepare', nonce, names });
    await awaitVerdicts(redis, keys, nonce, names, runtimes, since, timeoutMs, 'prepare');
  } catch (err) {
    if (err instanceof CliError) throw new CliError(`upload refused, nothing stored (the running version stays everywhere):\n${err.message}`);
    throw err;
  } finally {
    await redis.del(keys.candidate(nonce));
  }
}

/**
 * Waits for each name's verdict from every runtime alive when the upload was published (one that
 * dies meanwhile is not waited for); throws when one failed, or when one did not answer in time.
 */
async function awaitVerdicts(redis: Redis, keys: Keys, nonce: string, names: readonly string[], runtimes: readonly string[], since: string, timeoutMs: number, phase: 'prepare' | 'load' = 'load'): Promise<Set<string>> {
  const waiting = new Map(names.map((n) => [n, new Set(runtimes)]));
  const answered = new Set<string>();
  const reconciling = new Set<string>();
  const failed: string[] = [];
  const deadline = Date.now() + timeoutMs;
  let last = since;
  const open = (): number => [...waiting.values()].reduce((n, s) => n + s.size, 0);
  while (open() > 0 && Date.now() < deadline) {
    // A second at a time: a runtime that died meanwhile is not waited for.
    const res = (await redis.xread('COUNT', 100, 'BLOCK', Math.max(1, Math.min(1000, deadline - Date.now())), 'STREAMS', keys.verdicts(), last)) as
      | Array<[string, Array<[string, string[]]>]>
      | null;
    for (const [id, raw] of res?.[0]?.[1] ?? []) {
      last = id;
      const v = entryFields(raw);
      const name = v['name'] ?? '';
      const runtime = v['runtime'] ?? '';
      if (v['nonce'] !== nonce || !waiting.get(name)?.has(runtime)) continue;
      waiting.get(name)?.delete(runtime);
      answered.add(name);
      if (v['reconciles'] === '1') reconciling.add(name);
      if (v['status'] === 'loaded') say(`${name} version ${v['version']} loaded by runtime ${runtime}`);
      else if (v['status'] !== 'prepared') failed.push(`${name} version ${v['version']} failed to load in runtime ${runtime}: ${v['error']}`);
    }
    if (open() > 0) {
      const alive = new Set((await liveRuntimes(redis, keys)).map((r) => r.id));
      for (const set of waiting.values()) for (const r of [...set]) if (!alive.has(r)) set.delete(r);
    }
  }
  if (failed.length) throw new CliError(failed.join('\n'));
  const silent = [...waiting.entries()].filter(([, set]) => set.size > 0);
  if (silent.length) {
    const none = silent.filter(([n]) => !answered.has(n)).map(([n]) => n);
    const what = phase === 'prepare' ? 'not stored: ' : 'stored, but ';
    if (none.length === silent.length && none.length === names.length) {
      throw new CliError(`${what}no runtime reported loading ${none.join(', ')} within ${timeoutMs / 1000}s; check wb-cli status and the runtime's log`);
    }
    throw new CliError(`${what}${silent.map(([n, set]) => `runtime${set.size > 1 ? 's' : ''} ${[...set].join(', ')} did not report loading ${n}`).join('; ')} within ${timeoutMs / 1000}s; check wb-cli status and their logs`);
  }
  return reconciling;
}

/**
 * `--wait`: until the reconcile the load started is over (`reconciledAt` past `previous`, not
 * `reconciling`), so every key that existed is in the backlog. `previous` undefined: the load
 * started no reconcile (a new version on the same prefix), nothing to wait for.
 */
async function waitQueued(redis: Redis, keys: Keys, name: string, previous: string | null | undefined): Promise<void> {
  if (previous === undefined) {
    say(`${name}: same keys as the version before; nothing new to queue`);
    return;
  }
  const bar = await progress(`${name}: queueing existing keys`, 'keys');
  try {
    for (;;) {
      const [reconcilingNow, at, scanned, total] = await redis.hmget(keys.status(name), 'reconciling', 'reconciledAt', 'reconcilingKeys', 'reconciledKeys');
      if (!reconcilingNow && at !== null && at !== previous) {
        bar.stop();
        say(`${name}: ${Number(total ?? 0).toLocaleString('en')} existing keys queued`);
        return;
      }
      bar.update(Number(scanned ?? 0));
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    bar.stop();
  }
}
