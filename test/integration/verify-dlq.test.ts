import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backlogLength } from '../helpers/backlog.ts';
import { TestEnv } from '../helpers/env.ts';
import { startRuntime, type RuntimeProcess } from '../helpers/processes.ts';
import { expectVerifyClean } from '../helpers/verify.ts';
import { waitFor } from '../helpers/wait.ts';

describe('wb-cli verify and the sweep', () => {
  const env = new TestEnv();
  let rt: RuntimeProcess;

  beforeAll(async () => {
    rt = await env.startWithRecipe();
    for (let i = 0; i < 50; i++) await env.redis.hset(`${env.prefix}:${i}`, 'first_name', `f${i}`, 'age', String(i));
    await waitFor('50 rows', async () => (await env.count()) === 50);
  });

  afterAll(async () => {
    await rt.stop();
    await env.close();
  });

  it('two keys deleted while the runtime was down are extra rows; --fix --delete-extra removes them', async () => {
    expect(await rt.stop()).toBe(0);
    await env.redis.del(`${env.prefix}:3`, `${env.prefix}:4`);
    rt = await startRuntime(env.runtimeArgs());
    const report = await env.cli(['verify', env.name]);
    expect(report.code).toBe(1);
    expect(report.stdout).toMatch(/extra rows\s+2\s+e\.g\. 3, 4/);
    expect(report.stdout).toMatch(/missing rows\s+0/);
    const json = JSON.parse((await env.cli(['verify', env.name, '--json'])).stdout);
    expect(json).toMatchObject({ keys: 48, rows: 50, extra: { count: 2, sample: ['3', '4'] }, clean: false });

    const keep = await env.cli(['verify', env.name, '--fix']);
    expect(keep.stdout).toContain('2 extra rows kept; add --delete-extra to delete them');
    expect(keep.code).toBe(1);
    const fix = await env.cli(['verify', env.name, '--fix', '--delete-extra']);
    expect(fix.stdout).toContain('2 extra rows to delete');
    expect(fix.code).toBe(0);
    await expectVerifyClean(env);
    expect(await env.row('3')).toBeUndefined();
  });

  it('a row changed behind our back is reported as differing and --fix writes it again', async () => {
    await env.db.query(`UPDATE ${env.table} SET first = 'tampered', age = 99 WHERE id = '7'`);
    await env.db.query(`DELETE FROM ${env.table} WHERE id = '8'`);
    const report = await env.cli(['verify', env.name]);
    expect(report.code).toBe(1);
    expect(report.stdout).toMatch(/differing rows\s+1\s+e\.g\. 7 \(first: table tampered redis f7; age: table 99 redis 7\)/);
    expect(report.stdout).toMatch(/missing rows\s+1\s+e\.g\. 8/);
    expect((await env.cli(['verify', env.name, '--fix'])).code).toBe(0);
    await expectVerifyClean(env);
    expect(await env.row('7')).toMatchObject({ first: 'f7', age: 7 });
  });

  it('--fix says a backlog only when one was pending before it: the keys it queues itself are not changes in flight', async () => {
    // Paused: what --fix queues stays in the backlog until resumed.
    expect((await env.cli(['pause', env.name])).code).toBe(0);
    await waitFor('paused', async () => JSON.parse((await env.cli(['status', env.name, '--json'])).stdout).recipes[0].state === 'paused', 10_000, 200);
    await env.db.query(`UPDATE ${env.table} SET first = 'tampered' WHERE id = '9'`);
    const fix = await env.cli(['verify', env.name, '--fix']);
    expect(fix.stdout).toContain('enqueued 1 keys to write again');
    expect(fix.stdout).not.toContain('still pending');
    expect(JSON.parse((await env.cli(['verify', env.name, '--fix', '--json'])).stdout)).toMatchObject({ backlog: 1 });
    // A verify now finds the fix's entries pending, and says so.
    const after = await env.cli(['verify', env.name]);
    expect(after.stdout).toMatch(/backlog: 2 changes still pending/);
    expect((await env.cli(['resume', env.name])).code).toBe(0);
    await expectVerifyClean(env);
    expect(await env.row('9')).toMatchObject({ first: 'f9' });
  });

  it('refuses --delete-extra without --fix, and an unknown recipe', async () => {
    expect((await env.cli(['verify', env.name, '--delete-extra'])).code).toBe(2);
    const unknown = await env.cli(['verify', 'NoSuchRecipe']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("no recipe named 'NoSuchRecipe'");
  });
});

describe('1,000 bad records mixed into 100,000 good ones', () => {
  const env = new TestEnv();
  let rt: RuntimeProcess;
  const bad = (i: number) => i % 101 === 50; // 1,000 of 101,000

  beforeAll(async () => {
    rt = await env.startWithRecipe();
  });

  afterAll(async () => {
    await rt.stop();
    await env.close();
  });

  it('dead-letters exactly the bad ones; every good one arrives; dlq --replay after fixing the column succeeds', async () => {
    const started = Date.now();
    for (let chunk = 0; chunk < 101; chunk++) {
      const p = env.redis.pipeline();
      for (let j = 0; j < 1000; j++) {
        const i = chunk * 1000 + j;
        p.hset(`${env.prefix}:${i}`, 'first_name', `n${i}`, 'age', bad(i) ? `bad${i}` : String(i % 1000));
      }
      await p.exec();
    }
    const dlqKey = `${env.ns}:dlq:${env.name}`;
    await waitFor('backlog drained', async () => (await backlogLength(env)) === 0 && (await env.redis.xlen(dlqKey)) >= 1000, 180_000, 500);
    console.log(`1,000 bad in 101,000: drained in ${Date.now() - started} ms`);
    expect(await env.count()).toBe(100_000);
    const letters = await env.redis.xrange(dlqKey, '-', '+');
    const keys = letters.map(([, f]) => f[f.indexOf('key') + 1]).sort();
    const expected = Array.from({ length: 101_000 }, (_, i) => i).filter(bad).map((i) => `${env.prefix}:${i}`).sort();
    expect(keys).toEqual(expected);
    const list = await env.cli(['dlq', env.name, '--limit', '3']);
    expect(list.stdout).toMatch(/field 'age' = 'bad\d+' cannot go into column age \(int\(11\)\): not an integer/);
    expect(list.stdout).toContain('(3 of 1000 shown');

    await env.db.query(`ALTER TABLE ${env.table} MODIFY age VARCHAR(20)`);
    const replay = await env.cli(['dlq', env.name, '--replay']);
    expect(replay.stdout).toContain('replayed 1000 dead letters');
    await waitFor('101,000 rows', async () => (await env.count()) === 101_000, 60_000, 500);
    expect(await env.redis.xlen(dlqKey)).toBe(0);
    expect(await env.row('50')).toMatchObject({ age: 'bad50' });
    await expectVerifyClean(env, 120_000);
  });
});
