import { Command } from 'commander';
import { driverFor } from '../../runtime/connectors/drivers.ts';
import { backlogTotals, shardTags } from '../../runtime/backlog/streams.ts';
import { execChecked } from '../../runtime/redis/exec.ts';
import { clusterMasters, inRanges, slotOf, tagIn } from '../../runtime/redis/cluster.ts';
import type { Keys } from '../../runtime/keys.ts';
import { isClean, verifyRecipe, type VerifyReport } from '../../runtime/verify/verify.ts';
import { errorText } from '../../runtime/writer/table-writer.ts';
import { tellRuntimes, withRedis } from '../context.ts';
import { CliError, say } from '../output.ts';
import { progress, progressNow, type Progress } from '../progress.ts';
import { loadStoredRecipe } from '../recipe-loader.ts';

export const verify = new Command('verify')
  .description('compare every key of a recipe with its table: missing, differing and extra rows; exit 1 on any difference')
  .argument('<name>', 'recipe name')
  .option('--fix', 'enqueue the keys that differ, so the runtime writes them again')
  .option('--delete-extra', 'with --fix: also delete rows whose key is gone from Redis')
  .option('--json', 'print the report as JSON')
  .action(async (name: string, opts: { fix?: boolean; deleteExtra?: boolean; json?: boolean }, cmd: Command) => {
    if (opts.deleteExtra && !opts.fix) throw new CliError('--delete-extra only works with --fix', 2);
    await withRedis(cmd, async ({ redis, keys, limits }) => {
      const reg = await loadStoredRecipe(redis, keys, name, limits);
      const driver = driverFor(reg.connector);
      const session = await driver.connect(reg.connector.table).catch((err: unknown) => {
        throw new CliError(`cannot connect to ${driver.describe()}: ${errorText(err)}`);
      });
      let report: VerifyReport;
      // With --fix, the backlog that can explain a difference is the one before the fix queues its own keys.
      const pendingBefore = opts.fix ? (await backlogTotals(redis, keys, name, reg.partitions, await shardTags(redis, keys))).entries : 0;
      // On a terminal: keys compared, then rows swept, with their rate (the totals are not known up front).
      const bars = { keys: await progress(`verify ${name}: comparing`, 'keys', { json: opts.json }), rows: undefined as Progress | undefined };
      // As for dlq --replay: the runtime re-reads the table's shape before it writes what --fix queues.
      if (opts.fix) await tellRuntimes(redis, keys, { op: 'backlog', names: [name] });
      // On a cluster, a key to fix is queued in the shard of the master that owns its slot.
      const masters = keys.cluster ? await clusterMasters(redis) : [];
      const shardOf = (key: string): Keys => {
        const owner = masters.find((m) => inRanges(slotOf(key), m.slots));
        if (!owner) throw new Error(`no master of the cluster serves the slot of '${key}'`);
        return keys.shard(tagIn(owner.slots));
      };
      try {
        report = await verifyRecipe(redis, keys, reg, session, {
          fix: opts.fix === true, deleteExtra: opts.deleteExtra === true,
          ...(keys.cluster ? { shardOf } : {}),
          progress: (phase, done) => {
            if (phase === 'keys') return bars.keys.update(done);
            if (bars.rows === undefined) {
              bars.keys.stop();
              bars.rows = progressNow(`verify ${name}: sweeping`, 'rows', { json: opts.json });
            }
            bars.rows.update(done);
          },
        });
      } catch (err) {
        throw new CliError(`verify ${name} failed: ${errorText(err)}`);
      } finally {
        bars.keys.stop();
        bars.rows?.stop();
        await session.close();
      }
      // The runtime reads what --fix queued at once instead of at its next idle poll.
      if (opts.fix) await tellRuntimes(redis, keys, { op: 'backlog', names: [name] });
      // Every row whose key is gone is queued for delete now, those a flush left included: status
      // stops pointing at them, and gap sweeps delete again (see runtime/capture/gap-sweep.ts).
      if (opts.fix && opts.deleteExtra) {
        await execChecked(redis.multi().hset(keys.status(name), 'goneRows', 0, 'goneRowsAt', new Date().toISOString()).hdel(keys.status(name), 'flushKeptAt'));
      }
      const backlog = opts.fix ? pendingBefore : (await backlogTotals(redis, keys, name, reg.partitions, await shardTags(redis, keys))).entries;
      const unrepaired = report.notHash.count + (opts.fix ? (opts.deleteExtra ? 0 : report.extra.count) : report.missing.count + report.differing.count + report.extra.count);
      if (opts.json) say(JSON.stringify({ name, ...report, backlog, clean: isClean(report) }, null, 2));
      else printReport(name, report, backlog, opts.fix === true);
      if (unrepaired > 0) process.exitCode = 1;
    });
  });

function printReport(name: string, r: VerifyReport, backlog: number, fixing: boolean): void {
  const eg = (sample: readonly string[], count: number): string => (count ? `   e.g. ${sample.join(', ')}${count > sample.length ? ', ...' : ''}` : '');
  say(`verify ${name}: ${r.keys} keys in Redis, ${r.rows} rows in the table`);
  say(`  missing rows     ${r.missing.count}${eg(r.missing.sample, r.missing.count)}`);
  say(`  differing rows   ${r.differing.count}${eg(r.differing.sample.map((d) => `${d.id} (${d.columns.map((c) => `${c.column}: table ${c.table} redis ${c.redis}`).join('; ')})`), r.differing.count)}`);
  say(`  extra rows       ${r.extra.count}${eg(r.extra.sample, r.extra.count)}`);
  if (r.notHash.count) say(`  keys not hashes  ${r.notHash.count}${eg(r.notHash.sample, r.notHash.count)}`);
  if (backlog) say(`  backlog: ${backlog} changes still pending; some differences may be in flight`);
  if (isClean(r)) return say('clean: the table equals Redis');
  if (!fixing) return say('differences found; --fix enqueues them (add --delete-extra to delete extra rows)');
  say(`enqueued ${r.enqueued} keys to write again${r.deleteEnqueued ? ` and ${r.deleteEnqueued} extra rows to delete` : ''}`);
  if (r.extra.count && !r.deleteEnqueued) say(`${r.extra.count} extra rows kept; add --delete-extra to delete them`);
}
