import { Command } from 'commander';
import { RecipeStore } from '../../runtime/registry/store.ts';
import { tellRuntimes, withRedis } from '../context.ts';
import { CliError, say } from '../output.ts';

export const unregister = new Command('unregister')
  .description('stop syncing a recipe and remove it (its backlog and dead letters are kept)')
  .argument('<name>', 'recipe name')
  .action(async (name: string, _opts: unknown, cmd: Command) => {
    await withRedis(cmd, async ({ redis, keys }) => {
      if (!(await new RecipeStore(redis, keys).remove(name))) {
        throw new CliError(`no recipe named '${name}' is registered; wb-cli list shows the registered ones`);
      }
      await tellRuntimes(redis, keys, { op: 'sync' });
      say(`unregistered ${name}`);
    });
  });
