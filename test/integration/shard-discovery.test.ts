// On a Redis Cluster each master's shard streams are found by a SCAN of its keys, not only from
// the record of shards (`{<ns>}:shards`), which goes with its node. What the scan takes for a
// shard's stream, against a real server: streams only, of the namespace only, with a namespace
// holding characters a SCAN pattern treats specially.
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { shardTagsOn } from '../../runtime/redis/nodes.ts';
import { uid } from '../helpers/wait.ts';

describe('shardTagsOn', () => {
  const redis = new Redis({ port: 6379, maxRetriesPerRequest: 1 });
  const ns = `wbt*${uid()}`;
  const other = `wbt${uid()}`;

  afterAll(async () => {
    for (const n of [ns, other]) {
      const keys = await redis.keys(`${n.replace('*', '\\*')}:*`);
      if (keys.length) await redis.del(...keys);
    }
    redis.disconnect();
  });

  it('names the tags of the namespace\'s backlog streams on the node, and nothing else', async () => {
    await redis.xadd(`${ns}:{s1}:backlog:{R/0}`, '*', 'k', 'v');
    await redis.xgroup('CREATE', `${ns}:{s7}:backlog:{Other/3}`, 'writers', '$', 'MKSTREAM');
    // Not a stream, not a backlog, another namespace: none of them is a shard.
    await redis.set(`${ns}:{s2}:backlog:{R/0}`, 'x');
    await redis.xadd(`${ns}:{s3}:deadletters:R`, '*', 'k', 'v');
    await redis.xadd(`${other}:{s4}:backlog:{R/0}`, '*', 'k', 'v');
    // A namespace whose '*' a pattern would take as a wildcard: only its own keys.
    await redis.xadd(`${ns.replace('*', 'x')}:{s5}:backlog:{R/0}`, '*', 'k', 'v');
    try {
      expect([...(await shardTagsOn(redis, ns))].sort()).toStrictEqual(['s1', 's7']);
      expect([...(await shardTagsOn(redis, other))]).toStrictEqual(['s4']);
    } finally {
      await redis.del(`${ns.replace('*', 'x')}:{s5}:backlog:{R/0}`);
    }
  });
});
