// Upgrading wbsync itself: a namespace left by wbsync 0.1 (key layout 1: one backlog stream per
// recipe, no `<ns>:layout`) is migrated by the first runtime of layout 2, under load, without
// losing an entry: pending ones (delivered to the old runtime, never acknowledged) and undelivered
// ones alike. Deletes prove it: a delete of a key that is gone from Redis reaches the table only
// through the migrated backlog (a reconcile's SCAN cannot see a deleted key).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Logger } from 'pino';
import { partitionOf } from '../../runtime/backlog/partition.ts';
import { Keys } from '../../runtime/keys.ts';
import { migrateLayout } from '../../runtime/registry/layout.ts';
import { diffTable } from '../helpers/compare.ts';
import { TestEnv } from '../helpers/env.ts';
import { startRuntime, type RuntimeProcess } from '../helpers/processes.ts';
import { waitFor } from '../helpers/wait.ts';

const MAPPINGS = { first_name: 'first', last_name: 'last', age: 'age' };

describe('a namespace of wbsync 0.1 (key layout 1)', () => {
  const env = new TestEnv();
  const legacy = `${env.ns}:backlog:${env.name}`;
  let rt: RuntimeProcess | undefined;

  beforeAll(async () => {
    await env.createTable();
    await env.tuneCredentials();
    // The recipe as an upload stores it, then the namespace put back as 0.1 left it.
    const up = await env.cli(['upload', env.writeRecipe({ version: '1' })]);
    expect(up.code, up.stderr).toBe(0);
    await env.redis.del(`${env.ns}:layout`, `${env.ns}:partitions`);
    // Rows of keys deleted from Redis while no runtime ran: only their backlog entries delete them.
    for (let i = 0; i < 200; i++) await env.db.query(`INSERT INTO \`${env.table}\` (id, first) VALUES (?, 'stale')`, [`gone${i}`]);
    await env.redis.xgroup('CREATE', legacy, 'writers', '0', 'MKSTREAM');
    // 0.1's entries: each holds the records of one capture call, keys of every partition mixed.
    for (let e = 0; e < 20; e++) {
      const fields: string[] = [];
      for (let i = e * 10; i < e * 10 + 10; i++) fields.push(`${env.prefix}:gone${i}`, 'd:0:');
      // An upsert of a key that still exists, with an old value: the reconcile writes its newer one after.
      fields.push(`${env.prefix}:live${e}`, 'u:1:', 'first_name', 'old');
      await env.redis.xadd(legacy, '*', ...fields);
    }
    // Half of them were delivered to the 0.1 runtime, which died before acknowledging them.
    await env.redis.xreadgroup('GROUP', 'writers', 'rt-old', 'COUNT', 10, 'STREAMS', legacy, '>');
    await env.redis.hset(`${env.ns}:status:${env.name}`, 'queued', 220);
    for (let i = 0; i < 50; i++) await env.redis.hset(`${env.prefix}:live${i}`, 'first_name', 'now', 'age', '1');
  });

  afterAll(async () => {
    await rt?.stop();
    await env.redis.del(`${env.ns}:runtime:old`);
    await env.close();
  });

  it('the CLI refuses it and says how to upgrade', async () => {
    const res = await env.cli(['status']);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(`namespace '${env.ns}' cannot be used by this wb-cli (key layout 2): it is at key layout 1 (an older wbsync): start a wb-runtime of this version once the older runtimes are stopped, and it migrates the namespace`);
  });

  it('a runtime refuses to migrate it while another runtime is alive there', async () => {
    await env.redis.set(`${env.ns}:runtime:old`, JSON.stringify({ id: 'old', host: 'elsewhere', pid: 1, startedAt: new Date().toISOString() }), 'PX', 60_000);
    await env.redis.sadd(`${env.ns}:runtimes`, 'old');
    await expect(startRuntime(env.runtimeArgs())).rejects.toThrow(`namespace '${env.ns}' is at key layout 1 (wbsync 0.1) and served by runtime 'old': stop it, then start this runtime again; it migrates the namespace to layout 2 first`);
    expect(await env.redis.exists(legacy)).toBe(1);
    await env.redis.del(`${env.ns}:runtime:old`);
  });

  it('the first runtime of layout 2 migrates it under load: every entry, pending or not, is written; the table ends equal to Redis', async () => {
    let writing = true;
    let writes = 0;
    const load = (async () => {
      while (writing) {
        const id = writes++ % 50;
        await env.redis.hincrby(`${env.prefix}:live${id}`, 'age', 1);
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    try {
      rt = await startRuntime(env.runtimeArgs());
      expect(rt.hasLog((r) => r['msg'] === 'backlog migrated into partitions' && r['entries'] === 20 && r['partitions'] === 8)).toBe(true);
      expect(await env.redis.get(`${env.ns}:layout`)).toBe('2');
      expect(await env.redis.hget(`${env.ns}:partitions`, env.name)).toBe('8');
      expect(await env.redis.exists(legacy)).toBe(0);
      await new Promise((r) => setTimeout(r, 1000));
    } finally {
      writing = false;
      await load;
    }
    expect(writes).toBeGreaterThan(100);
    await waitFor('the stale rows deleted', async () => (await env.db.query(`SELECT COUNT(*) AS n FROM \`${env.table}\` WHERE id LIKE 'gone%'`) as unknown as [[{ n: number }]])[0][0].n === 0, 30_000);
    await waitFor('backlog empty', async () => {
      const lens = await Promise.all(Array.from({ length: 8 }, (_, p) => env.redis.xlen(`${env.ns}:backlog:{${env.name}/${p}}`)));
      return lens.every((n) => n === 0);
    }, 30_000);
    const verify = await env.cli(['verify', env.name]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect(await diffTable(env, MAPPINGS)).toEqual([]);
  }, 120_000);
});

describe('migrateLayout', () => {
  const env = new TestEnv();
  afterAll(() => env.close());

  it('splits each entry by its keys\' partitions under the entry\'s own id, in order, and malformed entries whole into partition 0', async () => {
    const keys = new Keys(env.ns);
    await env.redis.hset(keys.recipes(), 'R', JSON.stringify({ name: 'R', version: '1' }));
    const old = keys.legacyBacklog('R');
    const ids: string[] = [];
    for (let e = 0; e < 30; e++) {
      const fields: string[] = [];
      for (let i = 0; i < 7; i++) fields.push(`k:${e}:${i}`, 'u:1:a1', 'f', `v${e}`);
      ids.push(await env.redis.xadd(old, '*', ...fields) as string);
    }
    const bad = await env.redis.xadd(old, '*', 'k:bad', 'not a header') as string;
    const log = { info: () => undefined, warn: () => undefined } as unknown as Logger;
    await migrateLayout(env.redis, keys, 'me', async () => [], log);
    expect(await env.redis.exists(old)).toBe(0);
    expect(await env.redis.get(keys.layout())).toBe('2');
    let records = 0;
    for (let p = 0; p < 8; p++) {
      const entries = await env.redis.xrange(keys.backlog('R', p), '-', '+');
      for (const [id, raw] of entries) {
        if (id === bad) {
          expect(p).toBe(0);
          expect(raw).toEqual(['k:bad', 'not a header']);
          continue;
        }
        expect(ids).toContain(id);
        for (let i = 0; i < raw.length; i += 4) {
          expect(partitionOf(raw[i] as string, 8), raw[i]).toBe(p);
          expect(raw.slice(i + 1, i + 4)).toEqual(['u:1:a1', 'f', `v${(raw[i] as string).split(':')[1]}`]);
          records++;
        }
      }
      // In the order they were captured.
      const order = entries.map(([id]) => ids.indexOf(id)).filter((i) => i >= 0);
      expect(order).toEqual([...order].sort((a, b) => a - b));
    }
    expect(records).toBe(30 * 7);
  });
});
