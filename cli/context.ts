import type { Command } from 'commander';
import type { Redis } from 'ioredis';
import { Keys } from '../runtime/keys.ts';
import { DEFAULT_SANDBOX_LIMITS, type SandboxLimits } from '../runtime/sandbox/limits.ts';
import type { ControlMessage } from '../runtime/runtime.ts';
import { FlagError, redisTarget, type RedisFlags } from '../runtime/redis/flags.ts';
import { CliError } from './output.ts';

/** A command's connection to Redis and the namespace's keys. */
export interface CliContext {
  readonly redis: Redis;
  readonly keys: Keys;
  readonly flags: RedisFlags;
  /** Time limits on recipe code evaluated by this command (the same flags and defaults as wb-runtime's). */
  readonly limits: SandboxLimits;
}

/** Connects (failing fast, with a clear message), runs `fn`, and always disconnects. */
export async function withRedis<T>(cmd: Command, fn: (ctx: CliContext) => Promise<T>): Promise<T> {
  const flags = cmd.optsWithGlobals<RedisFlags & Partial<SandboxLimits>>();
  const limits: SandboxLimits = {
    evalTimeoutMs: flags.evalTimeoutMs ?? DEFAULT_SANDBOX_LIMITS.evalTimeoutMs,
    credentialTimeoutMs: flags.credentialTimeoutMs ?? DEFAULT_SANDBOX_LIMITS.credentialTimeoutMs,
  };
  let where: string;
  try {
    where = redisTarget(flags).describe;
  } catch (err) {
    if (err instanceof FlagError) throw new CliError(err.message, 2);
    throw err;
  }
  // ioredis is loaded here, not at start, so `wb-cli --help` and usage errors stay fast.
  const { connectRedis } = await import('../runtime/redis/connect.ts');
  const redis = connectRedis(flags, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null, sentinelRetryStrategy: () => null, connectTimeout: 5000, connectionName: `wbsync-cli:${cmd.name()}` });
  let lastError: Error | undefined;
  redis.on('error', (err: Error) => (lastError = err)); // reported below, with where it was going
  // A sentinel that answers but knows no such master replies with nothing: say so.
  redis.on('sentinelError', (err: Error) => {
    if (/invalid reply: null/.test(err.message)) lastError = new Error(`the sentinels know no master named '${flags.sentinelMaster ?? process.env['WB_SENTINEL_MASTER']}'`);
    else lastError ??= err;
  });
  try {
    try {
      await redis.connect();
      await redis.ping();
    } catch (err) {
      const cause = lastError ?? err;
      const text = cause instanceof Error ? cause.message : String(cause);
      // A sentinel that wants TLS (or a client certificate) just closes the connection: ioredis
      // keeps no TLS reason to show, so say what to check.
      const hint = /Connection is closed/.test(text) && /via sentinel/.test(where)
        ? ` (a sentinel that requires TLS closes a connection without it: check --tls, --tls-ca, --tls-cert and --tls-key)`
        : '';
      throw new CliError(`cannot reach Redis at ${where}: ${text}${hint}`);
    }
    const { refuseCluster, ClusterUnsupported } = await import('../runtime/redis/topology.ts');
    await refuseCluster(redis, where).catch((err: unknown) => {
      throw err instanceof ClusterUnsupported ? new CliError(err.message) : err;
    });
    const keys = new Keys(flags.namespace);
    const { checkLayout, LayoutMismatch } = await import('../runtime/registry/layout.ts');
    // A new namespace is recorded at this layout: what the CLI stores there (an upload before any
    // runtime ran) must not read as an older layout's later.
    await checkLayout(redis, keys, 'wb-cli').catch((err: unknown) => {
      throw err instanceof LayoutMismatch ? new CliError(err.message) : err;
    });
    return await fn({ redis, keys, flags, limits });
  } finally {
    redis.disconnect();
  }
}

/** Tells the namespace's runtimes something on its control channel. */
export async function tellRuntimes(redis: Redis, keys: Keys, msg: ControlMessage): Promise<void> {
  await redis.publish(keys.control(), JSON.stringify(msg));
}
