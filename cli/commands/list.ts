import { Command } from 'commander';
import { RecipeStore } from '../../runtime/registry/store.ts';
import { withRedis } from '../context.ts';
import { printTable } from '../output.ts';

export const list = new Command('list')
  .description('list registered recipes')
  .option('--json', 'print JSON')
  .action(async (opts: { json?: boolean }, cmd: Command) => {
    await withRedis(cmd, async ({ redis, keys }) => {
      const metas = await new RecipeStore(redis, keys).list();
      const states = await Promise.all(metas.map((m) => redis.hget(keys.status(m.name), 'state')));
      const rows = metas.map((m, i) => ({ name: m.name, version: m.version, state: states[i] ?? 'not loaded', file: m.file, uploadedAt: m.uploadedAt }));
      printTable(rows, ['name', 'version', 'state', 'file', 'uploadedAt'], opts.json === true);
    });
  });
