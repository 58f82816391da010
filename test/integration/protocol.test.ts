import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestEnv } from '../helpers/env.ts';
import { startRuntime, type RuntimeProcess } from '../helpers/processes.ts';
import { waitFor } from '../helpers/wait.ts';

/** Waits for the ack stream `{key}id` and returns its entries as objects. */
async function ackOf(env: TestEnv, key: string, id: string): Promise<Array<Record<string, string>>> {
  const entries = await waitFor(`ack {${key}}${id}`, async () => {
    const e = await env.redis.xrange(`{${key}}${id}`, '-', '+');
    return e.length ? e : undefined;
  });
  return entries.map(([, f]) => Object.fromEntries(Array.from({ length: f.length / 2 }, (_, i) => [f[2 * i], f[2 * i + 1]])));
}

// RGSync's own scenarios for the `#` field, write-behind and write-through.
describe("RGSync's # protocol", () => {
  const behind = new TestEnv();
  const through = new TestEnv();
  let rt: RuntimeProcess;
  const bk = (id: string) => `${behind.prefix}:${id}`;
  const tk = (id: string) => `${through.prefix}:${id}`;
  const staging = (id: string) => `__{${tk(id)}}`;

  beforeAll(async () => {
    await behind.createTable();
    await through.createTable();
    // One runtime, one namespace, two recipes: the write-through one is written by hand.
    await behind.tuneCredentials();
    rt = await startRuntime(behind.runtimeArgs());
    await behind.upload(behind.writeRecipe({ version: '1' }), rt);
    const file = through.writeRecipe({ version: '1' });
    const { readFileSync, writeFileSync } = await import('node:fs');
    writeFileSync(file, readFileSync(file, 'utf8').replace(/writeBehind/g, 'writeThrough'));
    const up = await behind.upload(file, rt);
    expect(up.stdout).toContain(`${through.name} version 1 loaded`);
  });

  afterAll(async () => {
    await rt.stop();
    await Promise.all([behind.close(), through.close()]);
  });

  describe('write-behind', () => {
    it('# =1 syncs, acks done after the commit, and the # field is not stored', async () => {
      await behind.redis.hset(bk('1'), '#', '=1', 'first_name', 'foo', 'last_name', 'bar', 'age', '22');
      expect(await ackOf(behind, bk('1'), '1')).toEqual([{ status: 'done' }]);
      expect(await behind.row('1')).toMatchObject({ first: 'foo', last: 'bar', age: 22 });
      expect(await behind.redis.hgetall(bk('1'))).toEqual({ first_name: 'foo', last_name: 'bar', age: '22' });
      expect(await behind.redis.ttl(`{${bk('1')}}1`)).toBeGreaterThan(3500);
    });

    it('# ~2 deletes the hash and the row, with an ack', async () => {
      await behind.redis.hset(bk('1'), '#', '~2');
      expect(await ackOf(behind, bk('1'), '2')).toEqual([{ status: 'done' }]);
      expect(await behind.redis.exists(bk('1'))).toBe(0);
      expect(await behind.row('1')).toBeUndefined();
    });

    it('# - with a write of the key pipelined behind it: the row stays, however the events are coalesced', async () => {
      // Found from the outside: the pipelined HSET's event was taken for the echo of the
      // script's own DEL, and that DEL's event then for a delete of the row.
      for (let i = 0; i < 6; i++) {
        const id = `pm${i}`;
        await behind.redis.hset(bk(id), 'first_name', 'old');
        await waitFor(`row ${id}`, async () => (await behind.row(id))?.['first'] === 'old');
        await behind.redis.pipeline().hset(bk(id), '#', `-m${i}`).hset(bk(id), 'first_name', 'new').exec();
        expect(await ackOf(behind, bk(id), `m${i}`)).toEqual([{ status: 'done' }]);
        // As documented, the write made before the capture went with the key.
        expect(await behind.redis.exists(bk(id))).toBe(0);
        // Every event of the key is captured before a later key's row arrives.
        await behind.redis.hset(bk(`${id}after`), 'first_name', 'x');
        await waitFor(`row ${id}after`, async () => (await behind.row(`${id}after`)) !== undefined);
        await new Promise((r) => setTimeout(r, 100));
        expect(await behind.row(id), id).toMatchObject({ first: 'old' });
      }
    });

    it('# + changes Redis only', async () => {
      await behind.redis.hset(bk('2'), 'first_name', 'orig');
      await waitFor('row 2', () => behind.row('2'));
      await behind.redis.hset(bk('2'), '#', '+3', 'first_name', 'redis-only');
      expect(await ackOf(behind, bk('2'), '3')).toEqual([{ status: 'done' }]);
      expect(await behind.redis.hgetall(bk('2'))).toEqual({ first_name: 'redis-only' });
      await behind.redis.hset(`${behind.prefix}:fence1`, 'first_name', 'x'); // FIFO: after this arrives, # + was handled
      await waitFor('fence', () => behind.row('fence1'));
      expect(await behind.row('2')).toMatchObject({ first: 'orig' });
    });

    it('# - deletes in Redis only', async () => {
      await behind.redis.hset(bk('2'), '#', '-4');
      expect(await ackOf(behind, bk('2'), '4')).toEqual([{ status: 'done' }]);
      expect(await behind.redis.exists(bk('2'))).toBe(0);
      await behind.redis.hset(`${behind.prefix}:fence2`, 'first_name', 'x');
      await waitFor('fence', () => behind.row('fence2'));
      expect(await behind.row('2')).toMatchObject({ first: 'orig' });
    });

    it('a rejected record acks failed with the database error', async () => {
      await behind.redis.hset(bk('3'), '#', '=5', 'age', 'old');
      const [ack] = await ackOf(behind, bk('3'), '5');
      expect(ack?.['status']).toBe('failed');
      expect(ack?.['error']).toMatch(/field 'age' = 'old' cannot go into column age \(int\(11\)\): not an integer/);
    });

    it('an unknown # op is reported, not synced as data', async () => {
      await behind.redis.hset(bk('4'), '#', '?x', 'first_name', 'q');
      await waitFor('dead letter', async () => (await behind.redis.xlen(`${behind.ns}:dlq:${behind.name}`)) >= 2);
      const last = await behind.redis.xrevrange(`${behind.ns}:dlq:${behind.name}`, '+', '-', 'COUNT', 1);
      expect(last[0]?.[1].join(' ')).toContain("'#' op '?x' is not one of =, ~, + or -");
      // Named in words, as dlq shows it, not by the backlog's record code.
      const fields = last[0]?.[1] ?? [];
      expect(fields[fields.indexOf('op') + 1]).toBe('malformed');
      expect(await behind.redis.hexists(bk('4'), '#')).toBe(0);
      // Its suffix still names an acknowledgement stream: the writer is told it failed.
      const [ack] = await ackOf(behind, bk('4'), 'x');
      expect(ack).toMatchObject({ status: 'failed' });
      expect(ack?.['error']).toContain("'#' op '?x' is not one of =, ~, + or -");
    });
  });

  describe('write-through', () => {
    it('a refused change is superseded by a later one of the key: its dead letter goes, and a replay cannot write it back', async () => {
      // Found from the outside: dlq --replay after the table was fixed staged the old refused
      // values again, over the newer change in the table and in Redis.
      const list = async (): Promise<Array<{ key: string }>> => (JSON.parse((await behind.cli(['dlq', through.name, '--json'])).stdout) as { deadLetters: Array<{ key: string }> }).deadLetters;
      await through.db.query(`ALTER TABLE \`${through.table}\` ADD CONSTRAINT agechk CHECK (age >= 0)`);
      try {
        await through.redis.hset(staging('dl'), '#', '=r1', 'first_name', 'Old', 'age', '-1');
        expect((await ackOf(through, tk('dl'), 'r1'))[0]).toMatchObject({ status: 'failed' });
        expect((await list()).map((l) => l.key)).toContain(tk('dl'));
        await through.redis.hset(staging('dl'), '#', '=r2', 'first_name', 'New', 'age', '3');
        expect(await ackOf(through, tk('dl'), 'r2')).toEqual([{ status: 'done' }]);
        await waitFor('the dead letter superseded', async () => !(await list()).some((l) => l.key === tk('dl')));
      } finally {
        await through.db.query(`ALTER TABLE \`${through.table}\` DROP CONSTRAINT agechk`);
      }
      const replay = await behind.cli(['dlq', through.name, '--replay']);
      expect(replay.code, replay.stderr).toBe(0);
      await new Promise((r) => setTimeout(r, 500));
      expect(await through.row('dl')).toMatchObject({ first: 'New', age: 3 });
      expect(await through.redis.hgetall(tk('dl'))).toEqual({ first_name: 'New', age: '3' });
    });

    it('a staged write reaches the database, then the hash, then acks', async () => {
      await through.redis.hset(staging('1'), '#', '=1', 'first_name', 'foo', 'last_name', 'bar', 'age', '22');
      expect(await ackOf(through, tk('1'), '1')).toEqual([{ status: 'done' }]);
      expect(await through.row('1')).toMatchObject({ first: 'foo', last: 'bar', age: 22 });
      expect(await through.redis.hgetall(tk('1'))).toEqual({ first_name: 'foo', last_name: 'bar', age: '22' });
      expect(await through.redis.exists(staging('1'))).toBe(0);
    });

    it('a partial update is merged into the existing hash and row', async () => {
      await through.redis.hset(staging('1'), '#', '=2', 'age', '23');
      expect(await ackOf(through, tk('1'), '2')).toEqual([{ status: 'done' }]);
      expect(await through.row('1')).toMatchObject({ first: 'foo', last: 'bar', age: 23 });
      expect(await through.redis.hgetall(tk('1'))).toEqual({ first_name: 'foo', last_name: 'bar', age: '23' });
    });

    it('without # it still goes database first, then Redis', async () => {
      await through.redis.hset(staging('2'), 'first_name', 'plain');
      await waitFor('hash 2', async () => (await through.redis.hget(tk('2'), 'first_name')) === 'plain');
      expect(await through.row('2')).toMatchObject({ first: 'plain' });
    });

    it('a database failure (value too long) leaves the hash untouched and acks failed', async () => {
      await through.redis.hset(staging('1'), '#', '=3', 'first_name', 'x'.repeat(40));
      const [ack] = await ackOf(through, tk('1'), '3');
      expect(ack?.['status']).toBe('failed');
      expect(ack?.['error']).toMatch(/cannot go into column first \(varchar\(20\)\): longer than 20 characters/);
      expect(await through.redis.hgetall(tk('1'))).toEqual({ first_name: 'foo', last_name: 'bar', age: '23' });
      expect(await through.row('1')).toMatchObject({ first: 'foo', age: 23 });
    });

    it('# ~ deletes in the database, then in Redis', async () => {
      await through.redis.hset(staging('2'), '#', '~4');
      expect(await ackOf(through, tk('2'), '4')).toEqual([{ status: 'done' }]);
      expect(await through.row('2')).toBeUndefined();
      expect(await through.redis.exists(tk('2'))).toBe(0);
    });

    it('# + changes Redis only; # - deletes in Redis only', async () => {
      await through.redis.hset(staging('1'), '#', '+5', 'last_name', 'cache-only');
      expect(await ackOf(through, tk('1'), '5')).toEqual([{ status: 'done' }]);
      expect(await through.redis.hget(tk('1'), 'last_name')).toBe('cache-only');
      await through.redis.hset(staging('1'), '#', '-6');
      expect(await ackOf(through, tk('1'), '6')).toEqual([{ status: 'done' }]);
      expect(await through.redis.exists(tk('1'))).toBe(0);
      expect(await through.row('1')).toMatchObject({ first: 'foo', last: 'bar', age: 23 });
    });
  });
});
