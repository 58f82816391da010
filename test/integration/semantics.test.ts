import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareIds } from '../../runtime/writer/through-marks.ts';
import { backlogLength, backlogPending, backlogStreamOf, backlogStreams } from '../helpers/backlog.ts';
import { TestEnv } from '../helpers/env.ts';
import { startRuntime, type RuntimeProcess } from '../helpers/processes.ts';
import { waitFor } from '../helpers/wait.ts';

describe('more commands, onExpire delete, reconcile', () => {
  const env = new TestEnv();
  let rt: RuntimeProcess;
  const key = (id: string) => `${env.prefix}:${id}`;

  beforeAll(async () => {
    rt = await env.startWithRecipe({ version: '1', extra: "onExpire: 'delete'," });
  });

  afterAll(async () => {
    await rt.stop();
    await env.close();
  });

  it('HINCRBY, UNLINK and RENAME are followed', async () => {
    await env.redis.hset(key('inc'), 'age', '1');
    await env.redis.hincrby(key('inc'), 'age', 41);
    await waitFor('age 42', async () => (await env.row('inc'))?.['age'] === 42);
    await env.redis.unlink(key('inc'));
    await waitFor('row inc gone', async () => (await env.row('inc')) === undefined);
    await env.redis.hset(key('from'), 'first_name', 'Ren');
    await waitFor('row from', () => env.row('from'));
    await env.redis.rename(key('from'), key('to'));
    await waitFor('row moved', async () => (await env.row('from')) === undefined && (await env.row('to'))?.['first'] === 'Ren');
  });

  it("with onExpire: 'delete' an expired key deletes its row", async () => {
    await env.redis.hset(key('ttl'), 'first_name', 'Tim');
    await waitFor('row ttl', () => env.row('ttl'));
    await env.redis.pexpire(key('ttl'), 50);
    await waitFor('row ttl gone', async () => (await env.row('ttl')) === undefined);
  });

  it('a hash with no mapped field still mirrors as a row of NULLs', async () => {
    await env.redis.hset(key('bare'), 'unmapped', 'x');
    expect(await waitFor('row bare', () => env.row('bare'))).toMatchObject({ first: null, last: null, age: null });
  });

  it('changes made while the runtime was stopped arrive at start-up (reconcile)', async () => {
    expect(await rt.stop()).toBe(0);
    for (let i = 0; i < 100; i++) await env.redis.hset(key(`offline${i}`), 'first_name', `o${i}`);
    rt = await startRuntime(env.runtimeArgs());
    await waitFor('100 offline rows', async () => (await env.db.query<any[]>(`SELECT COUNT(*) n FROM ${env.table} WHERE id LIKE 'offline%'`))[0][0].n === 100);
    expect(rt.hasLog((r) => r['msg'] === 'reconciled' && r['reason'] === 'start-up')).toBe(true);
  });

  it('a cut change subscription is logged and reconciled, and syncing goes on', async () => {
    await env.redis.client('KILL', 'TYPE', 'pubsub');
    await waitFor('gap logged', () => rt.hasLog((r) => String(r['msg']).includes('subscription was cut')));
    await waitFor('reconciled after the gap', () => rt.hasLog((r) => r['msg'] === 'reconciled' && r['reason'] === 'subscription restored'));
    await env.redis.hset(key('after'), 'first_name', 'Later');
    await waitFor('row after', () => env.row('after'));
  });

  it('pause stops writing while capture goes on; resume writes what was captured', async () => {
    const paused = await env.cli(['pause', env.name]);
    expect(paused.code).toBe(0);
    await waitFor('state paused', async () => JSON.parse((await env.cli(['status', env.name, '--json'])).stdout).recipes[0].state === 'paused');
    // The writers' group on the stream of `k`'s partition: where it has read to, and what it holds unacknowledged.
    const delivered = async (k: string) => {
      const groups = (await env.redis.xinfo('GROUPS', backlogStreamOf(env, k))) as unknown[][];
      const info = groups.map((g) => Object.fromEntries(Array.from({ length: g.length / 2 }, (_, i) => [g[2 * i], g[2 * i + 1]])));
      return { last: String(info[0]?.['last-delivered-id']), pending: Number(info[0]?.['pending']) };
    };
    // No fixed sleep: a row is written only after its entry is delivered, so it is enough that
    // no entry is delivered, and stays so across a later capture (each capture call carries the
    // read it leaves out while paused).
    const before = await backlogLength(env);
    await env.redis.hset(key('during-pause'), 'first_name', 'Held');
    await waitFor('captured into the backlog', async () => (await backlogLength(env)) >= before + 1);
    const first = (await env.redis.xrevrange(backlogStreamOf(env, key('during-pause')), '+', '-', 'COUNT', 1))[0]?.[0];
    await env.redis.hset(key('during-pause-2'), 'first_name', 'Held too');
    await waitFor('the second captured too', async () => (await backlogLength(env)) >= before + 2);
    const second = (await env.redis.xrevrange(backlogStreamOf(env, key('during-pause-2')), '+', '-', 'COUNT', 1))[0]?.[0];
    expect(await backlogPending(env)).toBe(0);
    for (const [k, held] of [[key('during-pause'), first], [key('during-pause-2'), second]] as const) {
      const state = await delivered(k);
      expect(state.pending).toBe(0);
      expect(compareIds(state.last, String(held))).toBe(-1); // the group never got to the held entry
    }
    expect(await env.row('during-pause')).toBeUndefined();
    expect((await env.cli(['resume', env.name])).code).toBe(0);
    await waitFor('row written after resume', () => env.row('during-pause'));
    expect((await env.cli(['pause', 'NoSuchRecipe'])).code).toBe(1);
  });
});

describe('a recipe uploaded over keys that already exist', () => {
  const env = new TestEnv();
  let rt: RuntimeProcess;

  afterAll(async () => {
    await rt.stop();
    await env.close();
  });

  it('queues them all, and status says when that initial reconcile is done and how many keys it took', async () => {
    const tx = env.redis.multi();
    for (let i = 0; i < 2500; i++) tx.hset(`${env.prefix}:pre${i}`, 'first_name', `p${i}`);
    tx.hset(`${env.prefix}x:other`, 'first_name', 'not covered'); // another prefix
    await tx.exec();
    const before = Date.now();
    rt = await env.startWithRecipe();
    const status = await waitFor('reconcile done', async () => {
      const s = JSON.parse((await env.cli(['status', '--json'])).stdout).recipes[0];
      return s.reconciledAt ? s : undefined;
    });
    expect(status.reconciledKeys).toBe(2500);
    expect(status.reconciling).toBeNull();
    expect(Date.parse(status.reconciledAt)).toBeGreaterThanOrEqual(before - 1000);
    await waitFor('2500 rows', async () => (await env.count()) === 2500);
    expect(rt.hasLog((r) => r['msg'] === 'reconciled' && r['reason'] === 'new recipe' && r['keys'] === 2500)).toBe(true);
  });
});

describe('entries read for the runtime whose reply it never got (a reconnect lost it)', () => {
  const env = new TestEnv();
  let rt: RuntimeProcess;
  const key = (id: string) => `${env.prefix}:${id}`;

  afterAll(async () => {
    await rt.stop();
    await env.close();
  });

  it('are claimed back once idle and written with the current state, after newer entries of the same keys', async () => {
    await env.createTable();
    await env.tuneCredentials();
    rt = await startRuntime(env.runtimeArgs(['--claim-idle-ms', '1000']));
    await env.upload(env.writeRecipe({ version: '1' }), rt);
    // A backlog of exactly 5 below: only once the start-up reconcile is over (see TestEnv.reconciled).
    await env.reconciled();
    expect((await env.cli(['pause', env.name])).code).toBe(0);
    await waitFor('state paused', async () => JSON.parse((await env.cli(['status', env.name, '--json'])).stdout).recipes[0].state === 'paused');
    for (let i = 0; i < 5; i++) await env.redis.hset(key(`s${i}`), 'first_name', `old${i}`);
    await waitFor('5 captured', async () => JSON.parse((await env.cli(['status', env.name, '--json'])).stdout).recipes[0].backlog === 5);
    // Read them as the runtime's consumer: now pending for it, though it never saw them.
    const streams = backlogStreams(env);
    const taken = (await env.redis.xreadgroup('GROUP', 'writers', `rt-${env.id}`, 'COUNT', 100, 'STREAMS', ...streams, ...streams.map(() => '>'))) as Array<[string, unknown[]]>;
    expect(taken.reduce((n, [, entries]) => n + entries.length, 0)).toBeGreaterThan(0);
    await env.redis.hset(key('s0'), 'first_name', 'new0'); // a newer entry for s0, read normally
    expect((await env.cli(['resume', env.name])).code).toBe(0);
    await waitFor('5 rows', async () => (await env.count()) === 5, 20_000);
    await waitFor('backlog acknowledged', async () => (await backlogLength(env)) === 0, 20_000);
    expect((await env.rows()).map((r) => [r['id'], r['first']])).toEqual([['s0', 'new0'], ['s1', 'old1'], ['s2', 'old2'], ['s3', 'old3'], ['s4', 'old4']]);
    expect(await backlogPending(env)).toBe(0);
  });
});
