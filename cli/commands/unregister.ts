import { Command } from 'commander';
import { shardTags, backlogLength, partitionCounts } from '../../runtime/backlog/streams.ts';
import { liveRuntimes } from '../../runtime/heartbeat.ts';
import { execChecked } from '../../runtime/redis/exec.ts';
import { RecipeStore } from '../../runtime/registry/store.ts';
import { tellRuntimes, withRedis } from '../context.ts';
import { CliError, say } from '../output.ts';

export const unregister = new Command('unregister')
  .description('stop syncing a recipe and remove it (its backlog and dead letters are kept)')
  .argument('<name>', 'recipe name')
  .option('--drop-backlog', "also delete the recipe's backlog (what it holds is never written) and its partition count, so that an upload may choose another")
  .action(async (name: string, opts: { dropBacklog?: boolean }, cmd: Command) => {
    await withRedis(cmd, async ({ redis, keys }) => {
      const removed = await new RecipeStore(redis, keys).remove(name);
      if (!removed && !opts.dropBacklog) {
        throw new CliError(`no recipe named '${name}' is registered; wb-cli list shows the registered ones`);
      }
      if (removed) {
        await tellRuntimes(redis, keys, { op: 'sync' });
        say(`unregistered ${name}`);
      }
      if (opts.dropBacklog) {
        const [count] = await partitionCounts(redis, keys, [name], 0);
        if (!count) return say(`${name} has no backlog`);
        // Deleted only once no runtime runs the recipe any more (its heartbeat lists none of its
        // partitions): a worker still reading would create the streams again.
        const deadline = Date.now() + 20_000;
        for (;;) {
          const running = (await liveRuntimes(redis, keys)).filter((r) => Object.keys(r.partitions ?? {}).some((unit) => unit === name || unit.startsWith(`${name}@`))).map((r) => r.id);
          if (running.length === 0) break;
          if (Date.now() > deadline) throw new CliError(`${name}'s backlog is kept: runtime${running.length > 1 ? 's' : ''} ${running.join(', ')} still run${running.length > 1 ? '' : 's'} it; try again once wb-cli status no longer lists it`);
          await new Promise((r) => setTimeout(r, 250));
        }
        let left = 0;
        // Every shard's streams (one shard on a single server), each in one transaction of its slot.
        for (const shard of (await shardTags(redis, keys)).map((t) => keys.shard(t))) {
          left += await backlogLength(redis, shard, name, count);
          await execChecked(redis.multi().del(...shard.backlogs(name, count)).hset(shard.counters(name), 'queued', 0));
        }
        await redis.hdel(keys.partitions(), name);
        say(`dropped the backlog of ${name} (${count} partitions, ${left} entries left unwritten)`);
      }
    });
  });
