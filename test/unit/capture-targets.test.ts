import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { afterAll, describe, it, expect } from 'vitest';
import { MySqlConnection, MySqlConnector, writeBehind, writeThrough } from '../../recipes/index.ts';
import { decodeEntry, type RawEntry } from '../../runtime/backlog/entry.ts';
import { partitionOf } from '../../runtime/backlog/partition.ts';
import { loadScript, snapshotKeys } from '../../runtime/capture/capture-queue.ts';
import { capturePattern, captureTarget, pacedTarget, resyncTarget, targetOfStaging } from '../../runtime/capture/targets.ts';
import { Keys } from '../../runtime/keys.ts';
import { REDIS_URL } from '../helpers/env.ts';
import { uid } from '../helpers/wait.ts';

const connector = new MySqlConnector(new MySqlConnection('u', 'p', 'localhost:3306/test'), 'persons', 'id');
const options = { version: '1', connector, keysPrefix: 'person', mappings: { first_name: 'first' } };
const behind = writeBehind({ name: 'WB', ...options });
const behindDeleting = writeBehind({ name: 'WBD', ...options, onExpire: 'delete' });
const through = writeThrough({ name: 'WT', ...options });
const custom = writeThrough({ name: 'WTC', ...options, stagingPrefix: 'stage.' });
const lua = (name: string): string => readFileSync(new URL(`../../runtime/capture/${name}.lua`, import.meta.url), 'utf8');
const partitionLua = readFileSync(new URL('../../runtime/backlog/partition.lua', import.meta.url), 'utf8');
/** A target's script as the runtime loads it: the shared utf8.lua and partition.lua, then the script itself. */
const withUtf8 = (name: string): string => [lua('utf8'), partitionLua, lua(name)].join('\n');
/** The 8 partition streams (the default count) of recipe `name`'s backlog under namespace `wb`. */
const streams8 = (name: string, ns = 'wb'): string[] => Array.from({ length: 8 }, (_, p) => `${ns}:backlog:{${name}/${p}}`);

describe('loadScript', () => {
  it.each(['capture', 'stage'])('reads %s.lua', (name) => {
    const script = loadScript(name);
    expect(script.name).toBe(name);
    expect(script.lua).toBe(lua(name));
  });

  it('loads the two different scripts', () => {
    const capture = loadScript('capture').lua;
    const stage = loadScript('stage').lua;
    expect(capture).toContain("KEYS[1]      the recipe's echo hash");
    expect(capture).toContain("KEYS[2]      the recipe's counters (Keys.counters): field `queued` counts records not yet written");
    expect(capture).toContain("KEYS[3..P+2] the backlog's partition streams");
    expect(capture).toContain('for i = first, #ARGV, 2 do');
    expect(stage).toContain("KEYS[1]      the recipe's counters (Keys.counters): field `queued` counts records not yet written");
    expect(stage).toContain("KEYS[2..P+1] the backlog's partition streams");
    expect(stage).toContain("record(target, 'w', ackId, fields)");
    expect(stage).toContain('for i = first, #ARGV, 3 do');
    expect(stage).not.toContain('echo');
  });

  it('fails for a script that does not exist', () => {
    expect(() => loadScript('nope')).toThrow(/ENOENT/);
  });
});

describe('capturePattern', () => {
  it('covers the keys of a write-behind registration', () => {
    expect(capturePattern(behind)).toBe('person:*');
  });

  it('covers the staging keys of a write-through registration', () => {
    expect(capturePattern(through)).toBe('__{person:*');
    expect(capturePattern(custom)).toBe('stage.{person:*');
  });
});

describe('targetOfStaging', () => {
  it('unwraps a staging key', () => {
    expect(targetOfStaging(through, '__{person:1}')).toBe('person:1');
    expect(targetOfStaging(through, '__{person:a:{b}}')).toBe('person:a:{b}');
    expect(targetOfStaging(custom, 'stage.{person:2}')).toBe('person:2');
  });

  it.each([
    ['__{person:1'],
    ['x{person:1}'],
    ['person:1'],
    ['_{person:1}'],
    ['__person:1}'],
  ])('is undefined for %s', (key) => {
    expect(targetOfStaging(through, key)).toBeUndefined();
  });

  it('needs the registration\'s own staging prefix', () => {
    expect(targetOfStaging(custom, '__{person:1}')).toBeUndefined();
  });
});

describe('captureTarget', () => {
  const keys = new Keys('wb');

  it('snapshots write-behind keys with capture.lua, the echo hash, the status hash, the partition streams, the bound, the expiry policy and the partition count', () => {
    const keep = captureTarget(behind, keys);
    expect(keep.script).toStrictEqual({ name: 'capture', lua: withUtf8('capture') });
    expect(keep.keys).toStrictEqual(['wb:echoes:WB', 'wb:status:WB', ...streams8('WB')]);
    expect(keep.args).toStrictEqual(['1000000', '0', '8']);
    expect(keep.partner).toBeUndefined();
    expect(keep.accepts('anything')).toBe(true);
    const deleting = captureTarget(behindDeleting, keys);
    expect(deleting.args).toStrictEqual(['1000000', '1', '8']);
    expect(deleting.keys).toStrictEqual(['wb:echoes:WBD', 'wb:status:WBD', ...streams8('WBD')]);
  });

  it("takes the registration's partition streams and hashes, under the namespace", () => {
    expect(captureTarget(behind, new Keys('ns')).keys).toStrictEqual(['ns:echoes:WB', 'ns:status:WB', ...streams8('WB', 'ns')]);
    expect(captureTarget(custom, new Keys('ns')).keys).toStrictEqual(['ns:status:WTC', ...streams8('WTC', 'ns')]);
  });

  it("follows the registration's partition count", () => {
    const three = captureTarget(writeBehind({ name: 'P3', ...options, partitions: 3 }), keys);
    expect(three.keys).toStrictEqual(['wb:echoes:P3', 'wb:status:P3', 'wb:backlog:{P3/0}', 'wb:backlog:{P3/1}', 'wb:backlog:{P3/2}']);
    expect(three.args).toStrictEqual(['1000000', '0', '3']);
    const one = captureTarget(writeThrough({ name: 'T1', ...options, partitions: 1 }), keys);
    expect(one.keys).toStrictEqual(['wb:status:T1', 'wb:backlog:{T1/0}']);
    expect(one.args).toStrictEqual(['1000000', '1']);
  });

  it('stages write-through keys with stage.lua, passing each staging key with its target', () => {
    const t = captureTarget(through, keys);
    expect(t.script).toStrictEqual({ name: 'stage', lua: withUtf8('stage') });
    expect(t.keys).toStrictEqual(['wb:status:WT', ...streams8('WT')]);
    expect(t.args).toStrictEqual(['1000000', '8']);
    expect(t.partner?.('__{person:1}')).toBe('person:1');
    expect(t.partner?.('person:1')).toBe('person:1');
    expect([t.accepts('__{person:1}'), t.accepts('person:1')]).toStrictEqual([true, false]);
  });
});

describe('pacedTarget', () => {
  it('replaces the bound (the first argument of both scripts) and waits with room', () => {
    const room = async (): Promise<void> => undefined;
    const keys = new Keys('wb');
    const behindPaced = pacedTarget(captureTarget(behindDeleting, keys), 250, room);
    expect(behindPaced.args).toStrictEqual(['250', '1', '8']);
    expect(behindPaced.room).toBe(room);
    expect(behindPaced.keys).toStrictEqual(['wb:echoes:WBD', 'wb:status:WBD', ...streams8('WBD')]);
    expect(pacedTarget(captureTarget(through, keys), 7, room).args).toStrictEqual(['7', '8']);
  });

  it('follows maxBacklog in the live bound', () => {
    expect(captureTarget(writeBehind({ name: 'B', ...options, maxBacklog: 500 }), new Keys('wb')).args).toStrictEqual(['500', '0', '8']);
  });
});

describe('resyncTarget', () => {
  it('snapshots keys of any registration with capture.lua, the echo and status hashes, unbounded, keeping rows on expiry', () => {
    const t = resyncTarget(new Keys('wb'), 'WT', 8);
    expect(t.script).toStrictEqual({ name: 'capture', lua: withUtf8('capture') });
    expect(t.keys).toStrictEqual(['wb:echoes:WT', 'wb:status:WT', ...streams8('WT')]);
    expect(t.args).toStrictEqual(['0', '0', '8']);
    expect(t.partner).toBeUndefined();
    expect(t.accepts('__{person:1}')).toBe(true);
  });

  it("takes the backlog's partition count it is given", () => {
    const t = resyncTarget(new Keys('wb'), 'Old', 1);
    expect(t.keys).toStrictEqual(['wb:echoes:Old', 'wb:status:Old', 'wb:backlog:{Old/0}']);
    expect(t.args).toStrictEqual(['0', '0', '1']);
  });
});

describe('the capture scripts route records to partitions (on a real Redis)', () => {
  // The machine's Redis (CI requires it): only keys of this test's own namespace are touched.
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  const ns = `wbct${uid()}`;
  const keys = new Keys(ns);
  afterAll(async () => {
    const left = await redis.keys(`${ns}*`);
    if (left.length) await redis.del(...left);
    redis.disconnect();
  });

  /** Per partition stream: the keys of its records, entry by entry. */
  async function recordKeys(streams: readonly string[]): Promise<string[][][]> {
    return Promise.all(streams.map(async (s, p) => ((await redis.xrange(s, '-', '+')) as RawEntry[]).map((raw) => decodeEntry(raw, p).records.map((r) => r.key))));
  }

  it("capture.lua puts each key's record into the stream of partitionOf(key), one entry per partition and call", async () => {
    const reg = writeBehind({ name: 'Routed', ...options, keysPrefix: `${ns}k` });
    const changed = Array.from({ length: 40 }, (_, i) => `${ns}k:${i}`);
    // Half of them hashes (upserts), half gone (deletes).
    for (const k of changed.slice(0, 20)) await redis.hset(k, 'first_name', k);
    const target = captureTarget(reg, keys);
    expect(await snapshotKeys(redis, target, changed, changed.map(() => 'c1'))).toBe(40);
    const streams = keys.backlogs('Routed', 8);
    const got = await recordKeys(streams);
    const expected = streams.map((_, p) => changed.filter((k) => partitionOf(k, 8) === p));
    // Forty keys spread over several partitions: the routing is really exercised.
    expect(expected.filter((ks) => ks.length > 0).length).toBeGreaterThan(3);
    for (let p = 0; p < 8; p++) {
      const want = expected[p] as string[];
      expect(got[p]).toStrictEqual(want.length ? [want] : []);
    }
    expect(await redis.hget(keys.status('Routed'), 'queued')).toBe('40');
  });

  it("stage.lua puts each staged write into the stream of its target key's partition", async () => {
    const reg = writeThrough({ name: 'Staged', ...options, keysPrefix: `${ns}t` });
    const targets = Array.from({ length: 30 }, (_, i) => `${ns}t:${i}`);
    const staging = targets.map((k) => `__{${k}}`);
    for (const s of staging) await redis.hset(s, 'first_name', 'x');
    const target = captureTarget(reg, keys);
    expect(await snapshotKeys(redis, target, staging, staging.map(() => 'c1'))).toBe(30);
    const streams = keys.backlogs('Staged', 8);
    const got = await recordKeys(streams);
    const expected = streams.map((_, p) => targets.filter((k) => partitionOf(k, 8) === p));
    expect(expected.filter((ks) => ks.length > 0).length).toBeGreaterThan(3);
    for (let p = 0; p < 8; p++) {
      const want = expected[p] as string[];
      expect(got[p]).toStrictEqual(want.length ? [want] : []);
    }
    expect(await redis.exists(...staging)).toBe(0);
  });

  it('a resync of a one-partition backlog puts everything into its only stream', async () => {
    const changed = Array.from({ length: 10 }, (_, i) => `${ns}r:${i}`);
    for (const k of changed) await redis.hset(k, 'first_name', k);
    expect(await snapshotKeys(redis, resyncTarget(keys, 'Single', 1), changed, changed.map(() => 'r1'))).toBe(10);
    const got = await recordKeys(keys.backlogs('Single', 1));
    expect(got).toStrictEqual([[changed]]);
  });
});
