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
  const connOpts = { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null, sentinelRetryStrategy: () => null, connectTimeout: 5000, connectionName: `wbsync-cli:${cmd.name()}` };
  let redis = connectRedis(flags, connOpts);
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
    // A node of a Redis Cluster: the commands go through a cluster client, which routes each by
    // its keys' slot, seeded with that node.
    const { isClusterNode } = await import('../runtime/redis/topology.ts');
    const cluster = await isClusterNode(redis);
    if (cluster) {
      // A cluster that does not serve every slot (a master and its replicas down) is named as such.
      const info = String(await redis.call('CLUSTER', 'INFO').catch(() => ''));
      const state = /^cluster_state:(\w+)/m.exec(info)?.[1];
      // A node that knows no other node (one removed with del-node, or never joined) serves no cluster.
      if (state !== 'ok' && /^cluster_known_nodes:1\r?$/m.test(info)) {
        throw new CliError(`${where} is a Redis Cluster node that is in no cluster (it knows no other node: removed with del-node, or not joined yet); give the address of a node of the cluster`);
      }
      if (state !== undefined && state !== 'ok') {
        throw new CliError(`the Redis Cluster of ${where} is down (cluster_state:${state}: some slots have no master that answers); try again once CLUSTER INFO says cluster_state:ok`);
      }
      const { connectCluster } = await import('../runtime/redis/cluster-client.ts');
      const seed = { host: redis.options.host ?? '127.0.0.1', port: redis.options.port ?? 6379 };
      redis.disconnect();
      const client = connectCluster(flags, [seed], { ...connOpts, lazyConnect: false }, { clusterRetryStrategy: () => null, enableOfflineQueue: true, lazyConnect: true });
      client.on('error', (err: Error) => (lastError = err));
      redis = client as unknown as Redis;
      try {
        // ioredis may give up without settling connect() (its retry strategy says stop): an end,
        // or no answer within the connect timeout, is a failure too.
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error('no answer within 10 s')), 10_000);
          client.once('end', () => reject(lastError ?? new Error('the cluster client gave up')));
          client.connect().then(() => client.ping()).then(() => resolve(), reject).finally(() => clearTimeout(timer));
        });
      } catch (err) {
        const cause = lastError ?? err;
        throw new CliError(`cannot reach the Redis Cluster at ${where}: ${cause instanceof Error ? cause.message : String(cause)}`);
      }
    }
    const keys = new Keys(flags.namespace, { cluster });
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
