// The echoes of capture's own writes (the HDEL of `#`, the DEL of `~` and `-`), against a real
// Redis, call by call as the capture queue makes them: an event of someone else's write is
// never taken for one of ours, and a key our own DEL removed is no delete of its row. Found from
// the outside: `HSET k # -` with `HSET k first_name new` pipelined behind it deleted the row
// (the HSET's event consumed the DEL's echo, and the DEL's event then read as a delete).
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Registration } from '../../recipes/options.ts';
import { decodeEntry } from '../../runtime/backlog/entry.ts';
import { runPerKey } from '../../runtime/capture/capture-queue.ts';
import { captureTarget } from '../../runtime/capture/targets.ts';
import { Keys } from '../../runtime/keys.ts';
import { freePort, TestRedis } from '../helpers/redis-server.ts';

describe('echoes of the capture script\'s own writes', () => {
  const server = new TestRedis(freePort());
  let redis: Redis;
  const keys = new Keys('wbe');
  const reg = { kind: 'writeBehind', name: 'E', partitions: 1, maxBacklog: 0, onExpire: 'keep', keysPrefix: 'e', stagingPrefix: '__' } as unknown as Registration;
  const target = captureTarget(reg, keys);

  beforeAll(async () => {
    await server.start();
    redis = new Redis(server.url);
  });

  afterAll(async () => {
    redis.disconnect();
    await server.stop();
  });

  /** The records of `key` the backlog received, as ops, in order. */
  async function ops(key: string): Promise<string[]> {
    const entries = (await redis.xrange(keys.backlog('E', 0), '-', '+')) as Array<[string, string[]]>;
    return entries.flatMap((e) => decodeEntry(e).records).filter((r) => r.key === key).map((r) => r.op);
  }

  /** One capture call for `key` with why `why` (`c<events>[/<del or hdel events>]`). */
  async function capture(key: string, why: string): Promise<void> {
    const res = await runPerKey(redis, target, [key], [why]);
    expect(res.error).toBeUndefined();
  }

  it('# - with a write behind it: that HSET\'s event is no echo, the DEL\'s event is, and the row is not deleted', async () => {
    await redis.hset('e:1', 'first_name', 'new', '#', '-a');
    await capture('e:1', 'c1'); // the `# -` write's event: the key goes, the ack is written
    expect(await redis.exists('e:1')).toBe(0);
    await capture('e:1', 'c1'); // the pipelined HSET's event, which came before our DEL's
    await capture('e:1', 'c1/1'); // our DEL's event
    expect(await ops('e:1')).toStrictEqual([]);
    expect(await redis.hget(keys.echoes('E'), 'e:1')).toBeNull(); // every echo heard
  });

  it('the same with both events in one call', async () => {
    await redis.hset('e:2', 'first_name', 'new', '#', '-b');
    await capture('e:2', 'c1');
    await capture('e:2', 'c2/1');
    expect(await ops('e:2')).toStrictEqual([]);
  });

  it('# ~ records its delete once; the later events add nothing', async () => {
    await redis.hset('e:3', 'first_name', 'x', '#', '~c');
    await capture('e:3', 'c1');
    await capture('e:3', 'c1');
    await capture('e:3', 'c1/1');
    expect(await ops('e:3')).toStrictEqual(['d']);
  });

  it('a DEL of someone else after our # = is a delete, even while our HDEL\'s echo is unheard', async () => {
    await redis.hset('e:4', 'first_name', 'x', '#', '=d');
    await capture('e:4', 'c1'); // HDEL # (an echo to come), upsert
    await redis.del('e:4');
    await capture('e:4', 'c2/2'); // our hdel's echo and their del
    expect(await ops('e:4')).toStrictEqual(['u', 'd']);
  });

  it('a key re-created and deleted by someone else after our # - is a delete', async () => {
    await redis.hset('e:5', 'first_name', 'x', '#', '-e');
    await capture('e:5', 'c1');
    await redis.hset('e:5', 'first_name', 'again');
    await redis.del('e:5');
    await capture('e:5', 'c3/2'); // our del's echo, their hset and their del
    expect(await ops('e:5')).toStrictEqual(['d']);
  });

  it('a write after our # = is captured, not taken for its echo', async () => {
    await redis.hset('e:6', 'first_name', 'x', '#', '=f');
    await capture('e:6', 'c1');
    await redis.hset('e:6', 'first_name', 'y');
    await capture('e:6', 'c1'); // their hset, before our hdel's echo
    await capture('e:6', 'c1/1'); // our hdel's echo
    expect(await ops('e:6')).toStrictEqual(['u', 'u']);
  });
});
