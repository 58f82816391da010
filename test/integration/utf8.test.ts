// Bytes that are not UTF-8 are never turned into U+FFFD on their way to the table: a value (or
// field name) that is not valid UTF-8 is refused and dead-lettered with its bytes in hex, the row
// keeps its last good state; a key name that is not valid UTF-8 is dead-lettered with the key in hex.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestEnv } from '../helpers/env.ts';
import { startRuntime, type RuntimeProcess } from '../helpers/processes.ts';
import { waitFor } from '../helpers/wait.ts';

describe('text that is not UTF-8', () => {
  const env = new TestEnv();
  let rt: RuntimeProcess;
  const deadLetters = async (): Promise<Array<{ key: string; error: string }>> => (JSON.parse((await env.cli(['dlq', env.name, '--json'])).stdout) as { deadLetters: never[] }).deadLetters;

  beforeAll(async () => {
    rt = await env.startWithRecipe();
  });
  afterAll(async () => {
    await rt.stop();
    await env.close();
  });

  it('writes valid multi-byte text as it is', async () => {
    await env.redis.hset(`${env.prefix}:1`, 'first_name', 'Zoë 😀', 'last_name', 'Ωmega');
    const row = await waitFor('row 1', () => env.row('1'));
    expect(row).toMatchObject({ first: 'Zoë 😀', last: 'Ωmega' });
  });

  it('refuses a value that is not valid UTF-8: dead-lettered with its bytes, the row keeps its last good state', async () => {
    await env.redis.hset(`${env.prefix}:1`, 'first_name', Buffer.from([0x5a, 0x6f, 0xeb]), 'last_name', 'changed');
    const dead = await waitFor('the dead letter', async () => (await deadLetters()).find((d) => d.key === `${env.prefix}:1`));
    expect(dead.error).toBe(`key '${env.prefix}:1': field 'first_name' holds a value that is not valid UTF-8 (bytes 5a 6f eb); not synced: store text (base64 for bytes)`);
    // Another change to another key goes through meanwhile; row 1 was not touched.
    await env.redis.hset(`${env.prefix}:2`, 'first_name', 'next');
    await waitFor('row 2', () => env.row('2'));
    expect(await env.row('1')).toMatchObject({ first: 'Zoë 😀', last: 'Ωmega' });
    for (const bad of [[0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82]]) {
      await env.redis.hset(`${env.prefix}:3`, 'first_name', Buffer.from(bad));
      await waitFor(`refused ${Buffer.from(bad).toString('hex')}`, async () => (await deadLetters()).some((d) => d.error.includes(`(bytes ${Buffer.from(bad).toString('hex').replace(/(..)(?!$)/g, '$1 ')})`)));
    }
    expect(await env.row('3')).toBeUndefined();
  });

  it('dead-letters a key whose name is not valid UTF-8, with the key in hex, as it changes and at start-up', async () => {
    const name = (tail: number[]): Buffer => Buffer.concat([Buffer.from(`${env.prefix}:`), Buffer.from(tail)]);
    const spaced = (b: Buffer): string => b.toString('hex').replace(/(..)(?!$)/g, '$1 ');
    const live = name([0x41, 0xff]);
    await env.redis.hset(live, 'first_name', 'bad key');
    const dead = await waitFor('the live dead letter', async () => (await deadLetters()).find((d) => d.key === `hex:${live.toString('hex')}`));
    expect(dead.error).toBe(`key name is not valid UTF-8 (bytes ${spaced(live)}); not synced: rename the key to valid UTF-8`);
    // One written while no runtime runs is found by the start-up reconcile.
    await rt.stop();
    const offline = name([0xc3, 0x28]);
    await env.redis.hset(offline, 'first_name', 'bad key too');
    rt = await startRuntime(env.runtimeArgs());
    await waitFor('the start-up dead letter', async () => (await deadLetters()).some((d) => d.key === `hex:${offline.toString('hex')}`));
    // No row was written under a mangled id.
    expect((await env.rows()).map((r) => r['id'])).toEqual(['1', '2']);
  });
});
