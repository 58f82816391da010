import { Cluster, type ClusterOptions, type Redis, type RedisOptions } from 'ioredis';
import { connectRedis } from './connect.ts';
import { redisTarget, replicaFlags, type RedisFlags } from './flags.ts';
import { isClusterNode } from './topology.ts';

/** Where the bins' flags point: one server (or Sentinel's master), or any node of a Redis Cluster. */
export type RedisShape = { readonly cluster: false } | { readonly cluster: true; readonly seeds: ReadonlyArray<{ readonly host: string; readonly port: number }> };

/**
 * Asks the server the flags point at whether it is a node of a Redis Cluster (INFO cluster),
 * over a connection of its own that fails fast. Sentinel's master is never a cluster node.
 */
export async function detectShape(flags: RedisFlags, connectTimeoutMs = 5000): Promise<RedisShape> {
  const target = redisTarget(flags);
  if (target.options.sentinels !== undefined) return { cluster: false };
  const probe = connectRedis(flags, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: connectTimeoutMs, enableOfflineQueue: false });
  let lastError: Error | undefined;
  probe.on('error', (err: Error) => (lastError = err));
  try {
    try {
      await probe.connect();
    } catch (err) {
      throw lastError ?? err;
    }
    if (!(await isClusterNode(probe))) return { cluster: false };
    return { cluster: true, seeds: [{ host: probe.options.host ?? '127.0.0.1', port: probe.options.port ?? 6379 }] };
  } finally {
    probe.disconnect();
  }
}

/**
 * The per-node options of the flags (auth, TLS), without the address: what `replicaFlags` keeps
 * of them for any one server, a URL's credentials and TLS included.
 */
export function nodeOptions(flags: RedisFlags): RedisOptions {
  const { host: _h, port: _p, ...rest } = redisTarget(replicaFlags(flags, '127.0.0.1', 6379)).options;
  return rest;
}

/**
 * A cluster client (ioredis `Cluster`) from the bins' flags, seeded with the node they name: it
 * reads the slots from there and routes every command by its keys' slot. `extra` tunes each
 * node's connection (retries, names); `cluster` the client's own (its retry strategy).
 */
export function connectCluster(flags: RedisFlags, seeds: ReadonlyArray<{ readonly host: string; readonly port: number }>, extra: RedisOptions = {}, cluster: ClusterOptions = {}): Cluster {
  return new Cluster(seeds.map((s) => ({ host: s.host, port: s.port })), {
    redisOptions: { ...nodeOptions(flags), ...extra },
    // Slots are read again every few seconds as well as on MOVED, so a failover is followed.
    slotsRefreshInterval: 5000,
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 200,
    retryDelayOnTryAgain: 100,
    ...cluster,
  });
}

/** A plain connection to one node of the cluster, with the flags' auth and TLS. */
export function connectNode(flags: RedisFlags, host: string, port: number, extra: RedisOptions = {}): Redis {
  return connectRedis(replicaFlags(flags, host, port), extra);
}
