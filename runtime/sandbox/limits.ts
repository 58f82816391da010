import { type Command, InvalidArgumentError, Option } from 'commander';

/** How long recipe code may run: its evaluation, and each credential call. */
export interface SandboxLimits {
  readonly evalTimeoutMs: number;
  readonly credentialTimeoutMs: number;
}

/**
 * 5 s to evaluate: a bundle's top level only declares registrations, which takes milliseconds.
 * 10 s per credential call: a secret store across the network answers well within it, and it
 * matches the database connect timeout it precedes.
 */
export const DEFAULT_SANDBOX_LIMITS: SandboxLimits = { evalTimeoutMs: 5000, credentialTimeoutMs: 10_000 };

function positiveMs(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer of milliseconds');
  return n;
}

/** `--eval-timeout-ms` and `--credential-timeout-ms`, the same on wb-runtime and wb-cli. */
export function addSandboxFlags(cmd: Command): Command {
  return cmd
    .addOption(new Option('--eval-timeout-ms <ms>', "stop a recipe whose code takes longer than this to load (its top level); it fails, nothing else does").argParser(positiveMs).default(DEFAULT_SANDBOX_LIMITS.evalTimeoutMs))
    .addOption(new Option('--credential-timeout-ms <ms>', "stop a recipe whose credential function has not settled after this long").argParser(positiveMs).default(DEFAULT_SANDBOX_LIMITS.credentialTimeoutMs));
}
