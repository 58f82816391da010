import { entryFields } from '../../runtime/redis/stream.ts';
import { Command } from 'commander';
import { snapshotKeys } from '../../runtime/capture/capture-queue.ts';
import { resyncTarget } from '../../runtime/capture/targets.ts';
import { execChecked } from '../../runtime/redis/exec.ts';
import { shardTags } from '../../runtime/backlog/streams.ts';
import { compareIds } from '../../runtime/writer/through-marks.ts';
import { tellRuntimes, withRedis } from '../context.ts';
import { progress } from '../progress.ts';
import { CliError, printTable, say } from '../output.ts';
import { loadStoredRecipe } from '../recipe-loader.ts';

type Entry = [string, string[]];


export const dlq = new Command('dlq')
  .description("list a recipe's dead letters; --replay re-enqueues them, --purge drops them")
  .argument('<name>', 'recipe name')
  .option('--replay', 'enqueue every dead-lettered key again (its current state in Redis) and remove it from the list')
  .option('--purge', 'drop every dead letter')
  .option('--limit <n>', 'most entries to list', '100')
  .option('--json', 'print JSON')
  .action(async (name: string, opts: { replay?: boolean; purge?: boolean; limit: string; json?: boolean }, cmd: Command) => {
    if (opts.replay && opts.purge) throw new CliError('choose --replay or --purge, not both', 2);
    await withRedis(cmd, async ({ redis, keys, limits }) => {
      // Dead letters are kept with the backlog: per shard on a cluster (one shard on a single server).
      const shards = (await shardTags(redis, keys)).map((t) => keys.shard(t));
      const xlen = async (): Promise<number> => (await Promise.all(shards.map((k) => redis.xlen(k.deadLetters(name))))).reduce((a, b) => a + b, 0);
      if ((await redis.hexists(keys.recipes(), name)) === 0 && (await xlen()) === 0) {
        throw new CliError(`no recipe named '${name}' and no dead letters for it; wb-cli list shows the registered ones`);
      }
      if (opts.purge) {
        const n = await xlen();
        for (const k of shards) await redis.del(k.deadLetters(name), k.deadLetterIndex(name));
        return say(`purged ${n} dead letters of ${name}`);
      }
      if (opts.replay) {
        const reg = await loadStoredRecipe(redis, keys, name, limits);

        // Told before the first key is queued too: a runtime's reader may pick a replayed key up
        // before the message after the loop arrives, and must not write it with the table's
        // description from before an ALTER TABLE (it would be refused again). The message is on its
        // way to the runtime a full round trip before the first XADD below is even sent.
        await tellRuntimes(redis, keys, { op: 'backlog', names: [name] });
        let replayed = 0;
        const bar = await progress(`replaying dead letters of ${name}`, 'letters', { json: opts.json, total: await xlen() });
        for (const shard of shards) for (;;) {
          const stream = shard.deadLetters(name);
          const target = resyncTarget(shard, name, reg.partitions);
          const page = (await redis.xrange(stream, '-', '+', 'COUNT', 500)) as Entry[];
          if (page.length === 0) break;
          const letters = page.map(([, raw]) => entryFields(raw)).filter((f) => (f['key'] ?? '').startsWith(`${reg.keysPrefix}:`));
          if (reg.kind === 'writeThrough') {
            // A refused write-through never reached Redis: stage its record again.
            const tx = redis.multi();
            for (const f of letters) {
              const fields = JSON.parse(f['fields'] ?? '{}') as Record<string, string>;
              if (Object.keys(fields).length) tx.hset(`${reg.stagingPrefix}{${f['key']}}`, fields);
            }
            await execChecked(tx);
          } else {
            const unique = [...new Set(letters.map((f) => f['key'] as string))];
            if (unique.length) await snapshotKeys(redis, target, unique, unique.map(() => 'c0'));
          }
          // The index entry goes too, unless a newer dead letter of that key replaced it meanwhile.
          const tx = redis.multi().xdel(stream, ...page.map(([id]) => id));
          for (const [id, raw] of page) tx.eval("if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then redis.call('HDEL', KEYS[1], ARGV[1]) end", 1, shard.deadLetterIndex(name), entryFields(raw)['key'] ?? '', id);
          await execChecked(tx);
          replayed += page.length;
          bar.add(page.length);
        }
        bar.stop();
        // The runtime reads them at once instead of at its next idle poll.
        await tellRuntimes(redis, keys, { op: 'backlog', names: [name] });
        return say(`replayed ${replayed} dead letters of ${name}: their keys are queued again`);
      }
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1) throw new CliError('--limit must be a positive integer', 2);
      // The oldest `limit` over every shard, in id (time) order.
      const entries = (await Promise.all(shards.map(async (k) => (await redis.xrange(k.deadLetters(name), '-', '+', 'COUNT', limit)) as Entry[])))
        .flat().sort(([a], [b]) => compareIds(a, b)).slice(0, limit);
      const rows = entries.map(([id, raw]) => {
        const f = entryFields(raw);
        return { id, at: f['at'], key: f['key'], op: f['op'], version: f['version'], error: f['error'], ...fieldsOf(f['fields']) };
      });
      const total = await xlen();
      if (opts.json) {
        // The total too: a script sees whether --limit cut the list.
        process.stdout.write(`${JSON.stringify({ total, shown: rows.length, deadLetters: rows }, null, 2)}\n`);
        return;
      }
      printTable(rows, ['at', 'key', 'op', 'error'], false);
      if (total > rows.length) say(`(${rows.length} of ${total} shown; --limit to see more)`);
    });
  });

/** A refused upsert's hash (kept as JSON in its dead letter), for `--json`; nothing when it has none. */
function fieldsOf(json: string | undefined): { fields?: Record<string, string> } {
  if (!json) return {};
  try {
    return { fields: JSON.parse(json) as Record<string, string> };
  } catch {
    return {};
  }
}
