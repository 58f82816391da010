import { Command } from 'commander';
import { tellRuntimes, withRedis } from '../context.ts';
import { CliError, say } from '../output.ts';

function toggle(name: 'pause' | 'resume', description: string): Command {
  return new Command(name)
    .description(description)
    .argument('<recipe>', 'recipe name')
    .action(async (recipe: string, _opts: unknown, cmd: Command) => {
      await withRedis(cmd, async ({ redis, keys }) => {
        if ((await redis.hexists(keys.recipes(), recipe)) === 0) {
          throw new CliError(`no recipe named '${recipe}' is registered; wb-cli list shows the registered ones`);
        }
        if (name === 'pause') await redis.sadd(keys.paused(), recipe);
        else await redis.srem(keys.paused(), recipe);
        await tellRuntimes(redis, keys, { op: 'sync' });
        say(name === 'pause' ? `paused ${recipe}: changes are still captured into its backlog, nothing is written until wb-cli resume ${recipe}` : `resumed ${recipe}`);
      });
    });
}

export const pause = toggle('pause', 'stop writing a recipe to its database (changes keep being captured into the backlog)');
export const resume = toggle('resume', 'start writing a paused recipe again');
