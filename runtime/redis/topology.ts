import type { Redis } from 'ioredis';

/** Redis Cluster is detected, and refused with what to do, until wbsync captures on every master. */
export class ClusterUnsupported extends Error {
  override readonly name = 'ClusterUnsupported';
}

/**
 * Refuses a node of a Redis Cluster (`cluster_enabled:1`), naming it: wbsync keeps its own keys
 * and captures changes on one server, and on a cluster those live on several masters (a single
 * node answers MOVED for most keys, and publishes only its own keys' events). Sentinel and
 * single servers pass.
 */
export async function refuseCluster(redis: Redis, where: string): Promise<void> {
  const info = await redis.info('cluster').catch(() => '');
  if (!/^cluster_enabled:1/m.test(info)) return;
  throw new ClusterUnsupported(`Redis at ${where} is a node of a Redis Cluster, which wbsync does not run on yet (capturing on every master is being built): point --host/--port or --url at a single server, or use Redis Sentinel (--sentinel, --sentinel-master)`);
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
