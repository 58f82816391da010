import { Command } from 'commander';
import { ParamStore } from '../../runtime/params/param-store.ts';
import { withRedis } from '../context.ts';
import { printTable } from '../output.ts';

export const params = new Command('params')
  .description('list stored parameters (values are never shown)')
  .option('--json', 'print JSON')
  .action(async (opts: { json?: boolean }, cmd: Command) => {
    await withRedis(cmd, async ({ redis, keys }) => {
      const names = await new ParamStore(redis, keys).names();
      printTable(names.map((name) => ({ name, value: '<redacted>' })), ['name', 'value'], opts.json === true);
    });
  });
