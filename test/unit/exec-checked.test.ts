import type { ChainableCommander, Redis } from 'ioredis';
import { describe, it, expect } from 'vitest';
import { Backlog } from '../../runtime/backlog/backlog.ts';
import { Keys } from '../../runtime/keys.ts';
import { execChecked, isWrongType } from '../../runtime/redis/exec.ts';

/** A transaction whose exec() resolves to `replies`, as ioredis does when commands fail inside it. */
const tx = (replies: Array<[Error | null, unknown]> | null): ChainableCommander =>
  ({ exec: async () => replies }) as unknown as ChainableCommander;

const wrongType = new Error('WRONGTYPE Operation against a key holding the wrong kind of value');

describe('execChecked', () => {
  it('returns the replies when every command succeeded', async () => {
    expect(await execChecked(tx([[null, 1], [null, 'OK']]))).toStrictEqual([[null, 1], [null, 'OK']]);
  });

  it('throws the first error a command got inside the transaction', async () => {
    const nogroup = new Error("NOGROUP No such key 'wb:backlog:{R/0}' or consumer group 'writers'");
    await expect(execChecked(tx([[null, 1], [nogroup, null], [wrongType, null]]))).rejects.toBe(nogroup);
  });

  it('returns null when a WATCHed key changed (nothing ran)', async () => {
    expect(await execChecked(tx(null))).toBeNull();
  });

  it('leaves the errors a caller expects in the replies, and throws any other', async () => {
    expect(await execChecked(tx([[null, 'string'], [wrongType, null]]), isWrongType)).toStrictEqual([[null, 'string'], [wrongType, null]]);
    const oom = new Error("OOM command not allowed when used memory > 'maxmemory'.");
    await expect(execChecked(tx([[wrongType, null], [oom, null]]), isWrongType)).rejects.toBe(oom);
  });

  it('passes on a failed EXEC itself', async () => {
    const aborted = new Error('EXECABORT Transaction discarded because of previous errors.');
    await expect(execChecked({ exec: async () => Promise.reject(aborted) } as unknown as ChainableCommander)).rejects.toBe(aborted);
  });
});

describe('Backlog.finish and a command refused inside its transaction', () => {
  it('throws (the pipeline retries it) instead of passing for acknowledged', async () => {
    const chain: Record<string, unknown> = {};
    for (const name of ['eval', 'xadd', 'expire', 'xack', 'xdel', 'hincrby']) chain[name] = () => chain;
    chain['exec'] = async () => [[null, 1], [new Error('NOGROUP No such key or consumer group'), null], [null, 1]];
    const redis = { multi: () => chain } as unknown as Redis;
    await expect(new Backlog(redis, new Keys('wb'), 'R', 1).finish({ entries: [{ id: '1-0', partition: 0, records: 1, synced: 1, deadLetters: 0 }], dead: [], acks: [], version: '1' }))
      .rejects.toThrow('NOGROUP');
  });
});
