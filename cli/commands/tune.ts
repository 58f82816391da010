import { Command } from 'commander';
import { ParamStore } from '../../runtime/params/param-store.ts';
import { withRedis } from '../context.ts';
import { CliError, say } from '../output.ts';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

const param = new Command('param')
  .description('store a parameter that recipes read with configGet(NAME); used from the next connection attempt on')
  .argument('<name>', 'parameter name')
  .argument('[value]', 'value (prefer --stdin for secrets, so they stay out of shell history)')
  .option('--stdin', 'read the value from standard input')
  .action(async (name: string, value: string | undefined, opts: { stdin?: boolean }, cmd: Command) => {
    if (name.trim() === '') throw new CliError('the parameter name must not be empty: wb-cli tune param NAME VALUE', 2);
    if (opts.stdin && value !== undefined) throw new CliError('give the value either as an argument or with --stdin, not both', 2);
    if (!opts.stdin && value === undefined) throw new CliError(`missing value: wb-cli tune param ${name} VALUE, or pipe it with --stdin`, 2);
    const v = opts.stdin ? await readStdin() : (value as string);
    await withRedis(cmd, async ({ redis, keys }) => {
      await new ParamStore(redis, keys).set(name, v);
      // An empty value is legitimate (a database user without a password), but say so: piped
      // from a command that printed nothing, it is more often a mistake.
      say(v === '' ? `parameter ${name} set to the empty string` : `parameter ${name} set`);
    });
  });

export const tune = new Command('tune').description('store parameters that recipes read with configGet').addCommand(param);
