import type { Redis } from 'ioredis';

/** Whether the server `redis` talks to is a node of a Redis Cluster (`INFO cluster`); a failed INFO counts as no. */
export async function isClusterNode(redis: Redis): Promise<boolean> {
  return /^cluster_enabled:1/m.test(await redis.info('cluster').catch(() => ''));
}

/** A runtime made for a single server found a Redis Cluster node there. */
export class ClusterUnsupported extends Error {
  override readonly name = 'ClusterUnsupported';
}

/**
 * Refuses a node of a Redis Cluster (`cluster_enabled:1`) where a single server was expected:
 * the bins detect a cluster before they connect for good (`cluster-client.ts` detectShape), so
 * this catches only a server that became a cluster node between that look and this one.
 */
export async function refuseCluster(redis: Redis, where: string): Promise<void> {
  if (!(await isClusterNode(redis))) return;
  throw new ClusterUnsupported(`Redis at ${where} is a node of a Redis Cluster, but this runtime was started for a single server: start it again, and it runs on the cluster`);
}

/** One field of an INFO section ('' when absent). */
function infoField(info: string, name: string): string {
  return new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim() ?? '';
}

/** Which server answers: its run_id (another one after a failover or a restart) and its role. */
export async function serverIdentity(redis: Redis): Promise<{ runId: string; role: string }> {
  const [server, replication] = await Promise.all([redis.info('server'), redis.info('replication')]);
  return { runId: infoField(server, 'run_id'), role: infoField(replication, 'role') };
}
