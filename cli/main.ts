import { Command, CommanderError } from 'commander';
import { packageVersion } from '../runtime/package-version.ts';
import { addRedisFlags } from '../runtime/redis/flags.ts';
import { addSandboxFlags } from '../runtime/sandbox/limits.ts';
import { check } from './commands/check.ts';
import { dlq } from './commands/dlq.ts';
import { list } from './commands/list.ts';
import { params } from './commands/params.ts';
import { pause, resume } from './commands/pause.ts';
import { status } from './commands/status.ts';
import { tune } from './commands/tune.ts';
import { unregister } from './commands/unregister.ts';
import { upload } from './commands/upload.ts';
import { verify } from './commands/verify.ts';
import { CliError } from './output.ts';

// A reader that closes early (`wb-cli status | head -1`) is not a failure: the rest of the output
// is dropped, with no EPIPE stack, and the command ends with its own exit code. Any other error
// on the output streams exits 1 with one line.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') return;
    if (stream === process.stdout) process.stderr.write(`wb-cli: cannot write the output: ${err.message}\n`);
    process.exit(1);
  });
}

const program = addSandboxFlags(addRedisFlags(new Command('wb-cli')))
  .description('Manage wbsync: upload recipes, tune parameters, inspect what the runtime is doing.')
  .version(packageVersion(), '-V, --version', 'print the wbsync version')
  .addHelpText('after', '\nEnvironment: WB_REDIS_URL, WB_REDIS_PASSWORD (fallbacks for --url and --password).\nExit codes: 0 ok, 1 refused or failed, 2 usage.')
  .showHelpAfterError();

for (const cmd of [upload, check, tune, params, list, status, verify, dlq, pause, resume, unregister]) program.addCommand(cmd);

// Usage errors exit 2; --help and --version exit 0.
const exitOverride = (err: CommanderError): never => {
  if (err.exitCode === 0) throw err;
  throw Object.assign(new CliError(err.message, 2), { printed: true }); // commander printed it already
};
for (const cmd of [program, ...program.commands, ...program.commands.flatMap((c) => c.commands)]) {
  cmd.exitOverride(exitOverride).configureHelp({ showGlobalOptions: true });
}

try {
  await program.parseAsync();
} catch (err) {
  if (err instanceof CommanderError && err.exitCode === 0) process.exit(0);
  if (err instanceof CliError) {
    if (!(err as { printed?: boolean }).printed) process.stderr.write(`wb-cli: ${err.message}\n`);
    process.exit(err.exitCode);
  }
  process.stderr.write(`wb-cli: unexpected error: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
