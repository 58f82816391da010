import { Command } from 'commander';
import { liveRuntimes } from '../../runtime/heartbeat.ts';
import { RecipeStore } from '../../runtime/registry/store.ts';
import { withRedis } from '../context.ts';
import { CliError, printTable } from '../output.ts';

export const status = new Command('status')
  .description('per recipe: version, state, backlog, synced and dead-lettered counts, last error; and live runtimes')
  .argument('[name]', 'only this recipe')
  .option('--json', 'print JSON')
  .action(async (name: string | undefined, opts: { json?: boolean }, cmd: Command) => {
    await withRedis(cmd, async ({ redis, keys }) => {
      let metas = await new RecipeStore(redis, keys).list();
      if (name !== undefined) {
        metas = metas.filter((m) => m.name === name);
        if (metas.length === 0) throw new CliError(`no recipe named '${name}' is registered; wb-cli list shows the registered ones`);
      }
      const recipes = await Promise.all(metas.map(async (m) => {
        const [s, backlog] = await Promise.all([redis.hgetall(keys.status(m.name)), redis.xlen(keys.backlog(m.name))]);
        return {
          name: m.name, version: m.version, loadedVersion: s['version'] ?? null, state: s['state'] ?? 'not loaded',
          backlog, synced: Number(s['synced'] ?? 0), deadLetters: Number(s['deadLetters'] ?? 0),
          error: s['error'] || null, lastError: s['lastError'] || null, lastErrorAt: s['lastErrorAt'] || null,
        };
      }));
      const runtimes = await liveRuntimes(redis, keys);
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ recipes, runtimes }, null, 2)}\n`);
        return;
      }
      printTable(recipes, ['name', 'version', 'state', 'backlog', 'synced', 'deadLetters', 'error'], false);
      process.stdout.write(`\nruntimes alive: ${runtimes.length ? runtimes.map((r) => `${r.id} (pid ${r.pid} on ${r.host})`).join(', ') : 'none'}\n`);
    });
  });
