import { describe, expect, it } from 'vitest';
import { redisUnavailable } from '../../runtime/redis/nodes.ts';

describe('redisUnavailable', () => {
  it('takes the answers of a Redis that does not answer for now for passing', () => {
    for (const message of [
      'Too many Cluster redirections. Last error: ReplyError: CLUSTERDOWN The cluster is down',
      'CLUSTERDOWN Hash slot not served',
      'TRYAGAIN Multiple keys request during rehashing of slot',
      'MOVED 7371 127.0.0.1:7001',
      'ASK 6970 127.0.0.1:7002',
      'LOADING Redis is loading the dataset in memory',
      "READONLY You can't write against a read only replica.",
      'MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to \'no\'.',
      'Connection is closed.',
      'connect ECONNREFUSED 127.0.0.1:6379',
      'read ECONNRESET',
      'connect ETIMEDOUT',
      'Failed to refresh slots cache.',
      'None of startup nodes is available',
    ]) expect(redisUnavailable(new Error(message)), message).toBe(true);
  });

  it('takes any other error for what it says', () => {
    for (const message of [
      "NOPERM this user has no permissions to run the 'xgroup' command",
      'ERR Error running script: TASK 5 failed',
      "Unknown column 'ASKED' in 'field list'",
      'WRONGPASS invalid username-password pair or user is disabled.',
      'recipe \'R\' declares partitions: 4, but its backlog has 8 partitions',
      'ERR unknown command',
    ]) expect(redisUnavailable(new Error(message)), message).toBe(false);
  });
});
