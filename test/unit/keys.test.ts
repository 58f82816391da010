// wbsync's key layout: unchanged on a single server; on a Redis Cluster every group of keys one
// script or transaction touches together hashes to one slot (Redis refuses declared keys of
// several slots with CROSSSLOT), the namespace-wide keys under `{<ns>}`, a shard's under its tag.
// Slots are computed by cluster-key-slot, the implementation ioredis routes with (the cluster
// integration test checks it against CLUSTER KEYSLOT).
import { describe, expect, it } from 'vitest';
import { Keys } from '../../runtime/keys.ts';
import { slotOf } from '../../runtime/redis/cluster.ts';

/** The slots of `keys`: one element when they may go into one script or transaction. */
function slots(keys: readonly string[]): Set<number> {
  return new Set(keys.map(slotOf));
}

describe('Keys on a single server', () => {
  const keys = new Keys('wb');

  it('keeps the layout of before clusters: one prefix, shards are the keys themselves', () => {
    expect(keys.cluster).toBe(false);
    expect(keys.shard('s1')).toBe(keys);
    expect([keys.recipes(), keys.code('R'), keys.params(), keys.runtime('a'), keys.status('R'), keys.layout()]).toStrictEqual(['wb:recipes', 'wb:code:R', 'wb:params', 'wb:runtime:a', 'wb:status:R', 'wb:layout']);
    expect([keys.backlog('R', 3), keys.lease('R', 3), keys.captureLease(), keys.leaseTokens(), keys.deadLetters('R'), keys.deadLetterIndex('R'), keys.echoes('R'), keys.throughMarks('R'), keys.sentinel()])
      .toStrictEqual(['wb:backlog:{R/3}', 'wb:lease:{R/3}', 'wb:lease:capture', 'wb:lease-tokens', 'wb:dlq:R', 'wb:dlqidx:R', 'wb:echoes:R', 'wb:wtmarks:R', 'wb:sentinel']);
    // The scripts' counters are the status hash, as before.
    expect(keys.counters('R')).toBe('wb:status:R');
  });
});

describe('Keys on a Redis Cluster', () => {
  const global = new Keys('wb', { cluster: true });
  const shard = global.shard('s7');
  const partitions = 8;

  it('puts every namespace-wide key in the slot of {<ns>}', () => {
    const all = [global.recipes(), global.code('R'), global.paused(), global.params(), global.candidate('n'), global.verdicts(), global.runtimes(), global.runtime('a'),
      global.partitions(), global.layout(), global.status('R'), global.history('R')];
    expect(slots(all)).toStrictEqual(new Set([slotOf('{wb}')]));
    expect(global.recipes()).toBe('{wb}:recipes');
    // The shard's keys see the same namespace-wide keys.
    expect(shard.recipes()).toBe(global.recipes());
  });

  it("puts every shard key in the slot of the shard's tag, so each script's declared keys share one slot", () => {
    const tag = slotOf('{s7}');
    const groups: Record<string, string[]> = {
      'capture.lua': [shard.echoes('R'), shard.counters('R'), ...shard.backlogs('R', partitions)],
      'stage.lua': [shard.counters('R'), ...shard.backlogs('R', partitions)],
      'finish.lua': [shard.backlog('R', 5), shard.counters('R'), shard.lease('R', 5)],
      'settle.lua': [shard.lease('R', 5), shard.deadLetters('R'), shard.deadLetterIndex('R')],
      'dead-letter.lua': [shard.deadLetters('R'), shard.deadLetterIndex('R')],
      'lease.lua (partition)': [shard.lease('R', 5), shard.leaseTokens()],
      'lease.lua (capture)': [shard.captureLease(), shard.leaseTokens()],
      'prune-marks.lua': [shard.throughMarks('R'), ...shard.backlogs('R', partitions)],
    };
    for (const [script, keys] of Object.entries(groups)) expect(slots(keys), script).toStrictEqual(new Set([tag]));
    expect(shard.backlog('R', 5)).toBe('wb:{s7}:backlog:{R/5}');
    expect(shard.counters('R')).toBe('wb:{s7}:counters:R');
    expect(shard.counters('R')).not.toBe(shard.status('R'));
    // Two shards' keys are apart.
    expect(global.shard('s8').backlog('R', 5)).not.toBe(shard.backlog('R', 5));
  });

  it('refuses a shard key asked of the namespace-wide keys, which name no shard', () => {
    expect(() => global.backlog('R', 0)).toThrow(/shard key of namespace 'wb' was asked for without a shard/);
    expect(() => global.counters('R')).toThrow(/without a shard/);
  });
});
