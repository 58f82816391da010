import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RowDataPacket } from 'mysql2/promise';
import { TestEnv } from '../helpers/env.ts';
import { startRuntime, type RuntimeProcess } from '../helpers/processes.ts';
import { waitFor } from '../helpers/wait.ts';

/** A describe's own world: a table, the credentials and a runtime, from beforeAll to afterAll. */
function withRuntime(): { env: TestEnv; rt: () => RuntimeProcess } {
  const env = new TestEnv();
  let rt: RuntimeProcess;
  beforeAll(async () => {
    await env.createTable();
    await env.tuneCredentials();
    rt = await startRuntime(env.runtimeArgs());
  });
  afterAll(async () => {
    await rt.stop();
    await env.close();
  });
  return { env, rt: () => rt };
}

describe('upload: versions and broken recipes', () => {
  const { env, rt: runtime } = withRuntime();
  const listed = async () => JSON.parse((await env.cli(['list', '--json'])).stdout) as Array<{ name: string; version: string }>;

  it('v1 registers and syncs with its mappings', async () => {
    const up = await env.cli(['upload', env.writeRecipe({ version: '1', mappings: { first_name: 'first' } })]);
    expect(up.stdout).toContain(`registered ${env.name} version 1`);
    expect(up.stdout).toContain(`${env.name} version 1 loaded by runtime rt-${env.id}`);
    expect(up.code).toBe(0);
    await env.redis.hset(`${env.prefix}:1`, 'first_name', 'Ann', 'age', '40');
    expect(await waitFor('row 1', () => env.row('1'))).toMatchObject({ first: 'Ann', age: null });
  });

  it('v2 replaces v1 and its new mapping is used for later writes', async () => {
    const up = await env.cli(['upload', env.writeRecipe({ version: '2', mappings: { first_name: 'first', age: 'age' } })]);
    expect(up.stdout).toContain(`replaced ${env.name} version 1 with 2`);
    expect(up.stdout).toContain('version 2 loaded');
    expect(up.code).toBe(0);
    await env.redis.hset(`${env.prefix}:2`, 'first_name', 'Bob', 'age', '41');
    expect(await waitFor('row 2', () => env.row('2'))).toMatchObject({ first: 'Bob', age: 41 });
    expect(await listed()).toMatchObject([{ name: env.name, version: '2' }]);
  });

  it('v1 again is refused, naming the registered version; nothing changes', async () => {
    const up = await env.cli(['upload', env.writeRecipe({ version: '1', mappings: { first_name: 'first' } })]);
    expect(up.code).toBe(1);
    expect(up.stderr).toContain(`'${env.name}' version 2 is registered; version 1 is lower than it`);
    expect(up.stderr).toContain('--force');
    expect(await listed()).toMatchObject([{ name: env.name, version: '2' }]);
  });

  it('an equal version is refused too', async () => {
    const up = await env.cli(['upload', env.writeRecipe({ version: '2.0', mappings: { first_name: 'first' } })]);
    expect(up.code).toBe(1);
    expect(up.stderr).toContain('version 2.0 is equal to it');
  });

  it('--force replaces it with the lower version', async () => {
    const up = await env.cli(['upload', env.writeRecipe({ version: '1', mappings: { first_name: 'first' } }), '--force']);
    expect(up.stdout).toContain(`replaced ${env.name} version 2 with 1 (--force)`);
    expect(up.stdout).toContain('version 1 loaded');
    expect(up.code).toBe(0);
    await env.redis.hset(`${env.prefix}:3`, 'first_name', 'Cy', 'age', '42');
    expect(await waitFor('row 3', () => env.row('3'))).toMatchObject({ first: 'Cy', age: null });
  });

  describe('broken recipes are refused and store nothing', () => {
    const cases: Array<[string, string, RegExp]> = [
      ['a syntax error', `import { writeBehind } from 'wbsync';\nexport default writeBehind({ name: 'Broken1', version: '1' ;\n`, /broken\.ts:2:\d+: Expected/],
      ['no default export', `import { writeBehind } from 'wbsync';\nexport const x = 1;\n`, /has no default export; end it with: export default writeBehind/],
      ['a missing module', `import { helper } from 'left-padder-that-does-not-exist';\nexport default helper;\n`, /cannot find module 'left-padder-that-does-not-exist'; install it next to the recipe/],
      ['an invalid option', `import { writeBehind, MySqlConnection, MySqlConnector } from 'wbsync';\nexport default writeBehind({ name: 'Broken4', version: '1', keysPrefix: 'x*', mappings: { a: 'a' }, connector: new MySqlConnector(new MySqlConnection('u', 'p', 'h/db'), 't', 'id') });\n`, /keysPrefix must not contain '\*'/],
      // Names wbsync does not export are refused by name, with what it exports, even when only a
      // credential function would have used one (before, such a recipe was stored and failed at connect).
      ['a misspelt import', `import { writeBehindd, MySqlConnection, MySqlConnector } from 'wbsync';\nexport default writeBehindd({ name: 'Broken5', version: '1', keysPrefix: 'x5', mappings: { a: 'a' }, connector: new MySqlConnector(new MySqlConnection('u', 'p', 'h/db'), 't', 'id') });\n`,
        /broken\.ts imports 'writeBehindd' from 'wbsync', which does not export it \(did you mean 'writeBehind'\?\); wbsync exports: .*MySqlConnector, .*writeBehind, writeThrough$/m],
      ['a connector wbsync does not have', `import { writeBehind, MongoConnector } from 'wbsync';\nexport default writeBehind({ name: 'Broken6', version: '1', keysPrefix: 'x6', mappings: { a: 'a' }, connector: new MongoConnector('t', 'id') });\n`,
        /imports 'MongoConnector' from 'wbsync', which does not export it; wbsync exports: /],
      ['an unknown import used only in a credential function', `import { configGett, writeBehind, MySqlConnection, MySqlConnector } from 'wbsync';\nexport default writeBehind({ name: 'Broken7', version: '1', keysPrefix: 'x7', mappings: { a: 'a' }, connector: new MySqlConnector(new MySqlConnection(() => configGett('U'), 'p', '127.0.0.1:3306/test'), 't', 'id') });\n`,
        /imports 'configGett' from 'wbsync', which does not export it \(did you mean 'configGet'\?\)/],
    ];
    for (const [what, source, message] of cases) {
      it(what, async () => {
        const file = join(env.dir, 'broken.ts');
        writeFileSync(file, source);
        const up = await env.cli(['upload', file]);
        expect(up.code).toBe(1);
        expect(up.stderr).toMatch(/^wb-cli: upload refused: /);
        expect(up.stderr).toMatch(message);
        expect(up.stderr).not.toMatch(/\n\s+at /); // no stack trace
        expect((await listed()).map((r) => r.name)).toEqual([env.name]);
      });
    }
  });

  it('a file that does not exist is refused', async () => {
    const up = await env.cli(['upload', join(env.dir, 'nope.ts')]);
    expect(up.code).toBe(1);
    expect(up.stderr).toContain('file not found');
  });

  it('usage errors exit 2', async () => {
    const res = await env.cli(['upload']);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain("missing required argument 'file'");
    expect((await env.cli(['frobnicate'])).code).toBe(2);
  });

  it('unregister stops syncing; an unknown name exits 1', async () => {
    const res = await env.cli(['unregister', env.name]);
    expect(res.code).toBe(0);
    expect(await listed()).toEqual([]);
    await waitFor('runtime dropped the recipe', () => runtime().hasLog((r) => r['msg'] === 'recipe unregistered'));
    expect((await env.cli(['unregister', env.name])).code).toBe(1);
  });
});

describe('upload with no runtime connected', () => {
  const env = new TestEnv();
  afterAll(() => env.close());

  it('stores the recipe and says it loads when a runtime starts', async () => {
    const up = await env.cli(['upload', env.writeRecipe({ version: '1' })]);
    expect(up.code).toBe(0);
    expect(up.stdout).toContain('no runtime is connected');
    expect(JSON.parse((await env.cli(['list', '--json'])).stdout)).toMatchObject([{ name: env.name, version: '1', state: 'not loaded' }]);
  });
});

describe('upload while the runtime does not answer', () => {
  const env = new TestEnv();
  let rt: RuntimeProcess;

  beforeAll(async () => {
    await env.createTable();
    await env.tuneCredentials();
    rt = await startRuntime(env.runtimeArgs());
  });

  afterAll(async () => {
    if (rt.pid) process.kill(rt.pid, 'SIGCONT');
    await rt.stop();
    await env.close();
  });

  it('stores nothing while a live runtime has not evaluated it: exits 1 after --timeout saying so; once the runtime answers, the upload goes through', async () => {
    process.kill(rt.pid as number, 'SIGSTOP'); // alive by its heartbeat, but hung
    const file = env.writeRecipe({ version: '1' });
    const up = await env.cli(['upload', file, '--timeout', '1']);
    expect(up.code).toBe(1);
    expect(up.stderr).toContain(`upload refused, nothing stored (the running version stays everywhere):\nnot stored: no runtime reported loading ${env.name} within 1s`);
    expect(up.stdout).not.toContain('registered');
    expect(JSON.parse((await env.cli(['list', '--json'])).stdout)).toEqual([]);
    process.kill(rt.pid as number, 'SIGCONT');
    await env.upload(file, rt);
    await env.redis.hset(`${env.prefix}:1`, 'first_name', 'Ann');
    expect(await waitFor('row 1', () => env.row('1'))).toMatchObject({ first: 'Ann' });
  });
});

describe('upload with several runtimes', () => {
  const env = new TestEnv();
  let a: RuntimeProcess;
  let b: RuntimeProcess;
  // Version 2 cannot load in a runtime started with WB_TEST_REFUSE_V2 (as a driver missing on one host would).
  const recipe = (version: string): string => env.writeRecipe({ version, tail: version === '2' ? "if (process.env['WB_TEST_REFUSE_V2']) throw new Error('this host cannot load version 2');" : '' });

  beforeAll(async () => {
    await env.createTable();
    await env.tuneCredentials();
    a = await startRuntime([...env.flags, '--id', `a-${env.id}`]);
    b = await startRuntime([...env.flags, '--id', `b-${env.id}`], { WB_TEST_REFUSE_V2: '1' });
  });

  afterAll(async () => {
    await Promise.all([a.stop(), b.stop()]);
    await env.close();
  });

  it('waits for the verdict of every live runtime', async () => {
    const up = await env.upload(recipe('1'), a);
    expect(up.stdout).toContain(`${env.name} version 1 loaded by runtime a-${env.id}`);
    expect(up.stdout).toContain(`${env.name} version 1 loaded by runtime b-${env.id}`);
  });

  it('one runtime that cannot load the new version refuses the upload: nothing is stored, version 1 keeps running everywhere', async () => {
    const up = await env.cli(['upload', recipe('2')]);
    expect(up.code).toBe(1);
    expect(up.stderr).toContain('upload refused, nothing stored (the running version stays everywhere)');
    expect(up.stderr).toContain(`${env.name} version ? failed to load in runtime b-${env.id}:`);
    expect(up.stderr).toContain('this host cannot load version 2');
    expect(JSON.parse((await env.cli(['list', '--json'])).stdout)).toMatchObject([{ name: env.name, version: '1' }]);
    for (const rt of [a, b]) expect(rt.hasLog((r) => r['msg'] === 'recipe loaded' && r['version'] === '2')).toBe(false);
    // Both still sync version 1.
    for (let i = 0; i < 50; i++) await env.redis.hset(`${env.prefix}:${i}`, 'first_name', `n${i}`);
    await waitFor('50 rows', async () => (await env.count()) === 50);
    const s = JSON.parse((await env.cli(['status', '--json'])).stdout) as { recipes: Array<{ loadedVersion: string; state: string }> };
    expect(s.recipes[0]).toMatchObject({ loadedVersion: '1', state: 'loaded' });
  });
});

describe('upload: the backlog\'s partition count', () => {
  const { env, rt: runtime } = withRuntime();

  it('is fixed once uploaded: a change is refused naming the current count; unregister --drop-backlog starts over', async () => {
    await env.upload(env.writeRecipe({ version: '1' }), runtime());
    expect(await env.redis.hget(`${env.ns}:partitions`, env.name)).toBe('8');
    const changed = await env.cli(['upload', env.writeRecipe({ version: '2', extra: 'partitions: 4,' })]);
    expect(changed.code).toBe(1);
    expect(changed.stderr).toContain(`upload refused: '${env.name}' has a backlog of 8 partitions; partitions: 4 would change it`);
    expect(changed.stderr).toContain(`wb-cli unregister ${env.name} --drop-backlog`);
    expect(JSON.parse((await env.cli(['list', '--json'])).stdout)).toMatchObject([{ name: env.name, version: '1' }]);
    // A new version that keeps the count is fine.
    await env.upload(env.writeRecipe({ version: '2', extra: 'partitions: 8,' }), runtime());
    const gone = await env.cli(['unregister', env.name, '--drop-backlog']);
    expect(gone.code, gone.stderr).toBe(0);
    expect(gone.stdout).toContain(`dropped the backlog of ${env.name} (8 partitions`);
    expect(await env.redis.hexists(`${env.ns}:partitions`, env.name)).toBe(0);
    await env.upload(env.writeRecipe({ version: '3', extra: 'partitions: 4,' }), runtime());
    expect(await env.redis.hget(`${env.ns}:partitions`, env.name)).toBe('4');
    await env.redis.hset(`${env.prefix}:1`, 'first_name', 'Ann');
    expect(await waitFor('row 1', () => env.row('1'))).toMatchObject({ first: 'Ann' });
    const streams = await env.redis.keys(`${env.ns}:backlog:*`);
    expect(streams.sort()).toEqual([0, 1, 2, 3].map((p) => `${env.ns}:backlog:{${env.name}/${p}}`));
  });
});

describe('upload: key prefixes that overlap another recipe', () => {
  const env = new TestEnv();
  const other = `${env.table}_b`;
  const third = `${env.table}_d`;
  const name = (suffix: string) => `${env.name}_${suffix}`;
  const recipe = (suffix: string, keysPrefix: string, table = env.table): string => {
    const file = join(env.dir, `${suffix}.ts`);
    writeFileSync(file, `import { configGet, MySqlConnection, MySqlConnector, writeBehind } from 'wbsync';
const connection = new MySqlConnection(() => configGet('MySqlUser'), () => configGet('MySqlPassword'), '127.0.0.1:3306/test');
export default writeBehind({ name: '${name(suffix)}', version: '1', connector: new MySqlConnector(connection, '${table}', 'id'), keysPrefix: '${keysPrefix}', mappings: { first_name: 'first' } });
`);
    return file;
  };
  const listed = async () => (JSON.parse((await env.cli(['list', '--json'])).stdout) as Array<{ name: string }>).map((r) => r.name);
  const target = (table: string) => `mysql 127.0.0.1:3306/test table ${table}`;

  beforeAll(async () => {
    await env.createTable();
    for (const t of [other, third]) await env.db.query(`CREATE TABLE \`${t}\` (id VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin PRIMARY KEY, first VARCHAR(20))`);
    await env.tuneCredentials();
    const up = await env.cli(['upload', recipe('a', env.prefix)]);
    expect(up.code, up.stderr).toBe(0);
    expect(up.stderr).toBe('');
  });

  afterAll(async () => {
    for (const t of [other, third]) await env.db.query(`DROP TABLE IF EXISTS \`${t}\``);
    await env.close();
  });

  const refusedB = async () => {
    const up = await env.cli(['upload', recipe('b', `${env.prefix}:vip`)]);
    expect(up.code).toBe(1);
    expect(up.stderr).toContain(
      `wb-cli: upload refused: '${name('b')}' (keysPrefix '${env.prefix}:vip') overlaps '${name('a')}' (keysPrefix '${env.prefix}') and both write to ${target(env.table)}: a key such as ${env.prefix}:vip:1 is written by both into the same row`,
    );
    expect(up.stderr).toContain('--force');
    expect(await listed()).toEqual([name('a')]);
  };

  it('into the same table, a prefix under another recipe\'s is refused, naming it, a shared key and --force', refusedB);

  it('a recipe stored before metadata kept its prefix is read from its bundle', async () => {
    const meta = JSON.parse((await env.redis.hget(`${env.ns}:recipes`, name('a'))) as string) as Record<string, unknown>;
    expect(meta).toMatchObject({ keysPrefix: env.prefix, target: target(env.table) });
    delete meta['keysPrefix'];
    delete meta['target'];
    await env.redis.hset(`${env.ns}:recipes`, name('a'), JSON.stringify(meta));
    await refusedB();
  });

  it('--force accepts it with a warning, and status keeps showing it', async () => {
    const up = await env.cli(['upload', recipe('b', `${env.prefix}:vip`), '--force']);
    expect(up.code, up.stderr).toBe(0);
    expect(up.stderr).toContain(`wb-cli: warning: '${name('b')}' (keysPrefix '${env.prefix}:vip') overlaps '${name('a')}'`);
    expect(up.stderr).toContain('(accepted with --force)');
    const status = await env.cli(['status']);
    expect(status.stdout).toContain(`WARNING ${name('b')}: '${name('b')}' (keysPrefix '${env.prefix}:vip') overlaps '${name('a')}'`);
    expect((await env.cli(['unregister', name('b')])).code).toBe(0);
  });

  it('into another table, the same prefix is stored with a warning (two databases can be meant), kept in status', async () => {
    const up = await env.cli(['upload', recipe('c', env.prefix, other)]);
    expect(up.code, up.stderr).toBe(0);
    expect(up.stderr).toBe(
      `wb-cli: warning: '${name('c')}' (keysPrefix '${env.prefix}') overlaps '${name('a')}' (keysPrefix '${env.prefix}'): a key such as ${env.prefix}:1 is synced by both, to ${target(other)} and to ${target(env.table)}\n`,
    );
    expect(await listed()).toEqual([name('a'), name('c')]);
    const json = JSON.parse((await env.cli(['status', name('c'), '--json'])).stdout) as { recipes: Array<{ overlaps: unknown[] }> };
    expect(json.recipes[0]?.overlaps).toEqual([expect.objectContaining({ name: name('a'), keysPrefix: env.prefix, sameTable: false })]);
    expect((await env.cli(['status'])).stdout).toContain(`WARNING ${name('c')}: '${name('c')}' (keysPrefix '${env.prefix}') overlaps '${name('a')}'`);
  });

  it('into the same table, a prefix of its own is refused too: ids of both would share its key column', async () => {
    // Found from the outside: two recipes on one table, each with onExpire 'delete', lost every
    // row at a restart, each sweep taking the other's rows for its own keys gone.
    const up = await env.cli(['upload', recipe('e', `${env.prefix}other`)]);
    expect(up.code).toBe(1);
    expect(up.stderr).toContain(
      `wb-cli: upload refused: '${name('e')}' (keysPrefix '${env.prefix}other') and '${name('a')}' (keysPrefix '${env.prefix}') both write to ${target(env.table)}: ids of both share its key column`,
    );
    expect(up.stderr).toContain('--force');
    expect(await listed()).not.toContain(name('e'));
  });

  it('a prefix that only starts with the same letters does not overlap; a new version of the same recipe does not overlap itself', async () => {
    const up = await env.cli(['upload', recipe('d', `${env.prefix}al`, third)]);
    expect(up.code, up.stderr).toBe(0);
    expect(up.stderr).toBe('');
    const again = await env.cli(['upload', recipe('d', `${env.prefix}al`, third), '--force']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toBe('');
  });
});

describe('upload: a new version that writes elsewhere or maps other fields', () => {
  const env = new TestEnv();
  const moved = `${env.table}_v2`;
  let rt: RuntimeProcess;

  beforeAll(async () => {
    rt = await env.startWithRecipe({ version: '1', mappings: { first_name: 'first' } });
    await env.db.query(`CREATE TABLE \`${moved}\` (id VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin PRIMARY KEY, first VARCHAR(20), last VARCHAR(255), age INT)`);
    for (let i = 0; i < 10; i++) await env.redis.hset(`${env.prefix}:${i}`, 'first_name', `f${i}`, 'last_name', `l${i}`);
    await waitFor('10 rows', async () => (await env.count()) === 10);
  });

  afterAll(async () => {
    await rt.stop();
    await env.db.query(`DROP TABLE IF EXISTS \`${moved}\``);
    await env.close();
  });

  const rowsOf = async (table: string): Promise<RowDataPacket[]> => (await env.db.query<RowDataPacket[]>(`SELECT * FROM \`${table}\` ORDER BY id`))[0];

  it('queues every key again for a version with another table: the new table holds them all, not only keys changed since', async () => {
    // Found from the outside: the new table stayed empty until each key changed.
    const up = await env.upload(env.writeRecipe({ version: '2', mappings: { first_name: 'first' }, table: moved }), rt, ['--wait']);
    expect(up.stdout).not.toContain('nothing new to queue');
    await waitFor('10 rows in the new table', async () => (await rowsOf(moved)).length === 10);
    expect((await rowsOf(moved)).map((r) => r['first'])).toEqual(Array.from({ length: 10 }, (_, i) => `f${i}`));
  });

  it('queues every key again for a version that maps another field: the new column is filled for every row', async () => {
    const up = await env.upload(env.writeRecipe({ version: '3', mappings: { first_name: 'first', last_name: 'last' }, table: moved }), rt, ['--wait']);
    expect(up.stdout).not.toContain('nothing new to queue');
    await waitFor('the new column filled', async () => (await rowsOf(moved)).every((r) => r['last'] !== null));
    expect((await rowsOf(moved)).map((r) => r['last'])).toEqual(Array.from({ length: 10 }, (_, i) => `l${i}`));
  });

  it('queues nothing for a version that changes none of them', async () => {
    const up = await env.upload(env.writeRecipe({ version: '4', mappings: { first_name: 'first', last_name: 'last' }, table: moved }), rt, ['--wait']);
    expect(up.stdout).toContain('nothing new to queue');
  });
});
