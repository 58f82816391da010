import { afterEach, describe, expect, it } from 'vitest';
import { RecipeLoadError } from '../../recipes/evaluate.ts';
import { isRegistration } from '../../recipes/options.ts';
import { RecipeSandbox, SandboxStopped } from '../../runtime/sandbox/sandbox.ts';

// The sandbox runs the build's worker (dist/runtime/sandbox/worker.js): `npm test` builds first.
const open: RecipeSandbox[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

const LIMITS = { evalTimeoutMs: 1500, credentialTimeoutMs: 400 };
const noParams = async (): Promise<undefined> => undefined;

async function load(code: string, params: (name: string) => Promise<string | undefined> = noParams, onFail?: (r: string) => void, idleMs?: number) {
  const { regs, sandbox } = await RecipeSandbox.load(code, 'r.js', { params, limits: LIMITS, ...(onFail ? { onFail } : {}), ...(idleMs ? { idleMs } : {}) });
  open.push(sandbox);
  return { regs, sandbox };
}

const recipe = (connector: string, tail = '') => `const w = require('wbsync');
module.exports.default = w.writeBehind({ name: 'A', version: '2', connector: ${connector}, keysPrefix: 'p', mappings: { f: 'c' }, batchSize: 7 });
${tail}`;

describe('RecipeSandbox', () => {
  it('rebuilds every connector kind with the SDK classes; data as declared, credentials run in the thread', async () => {
    const cases: Array<[string, string]> = [
      ["new w.MySqlConnector(new w.MySqlConnection('u', () => 'pw-' + require('node:os').EOL.length, 'h:3307/db'), 't', 'id')", 'mysql h:3307/db table t'],
      ["new w.PostgresConnector(new w.PostgresConnection({ user: 'u', password: async () => 'pw-1', host: 'h', database: 'db' }), 's.t', 'id')", 'postgres h:5432/db table s.t'],
      ["new w.SqliteConnector(new w.SqliteConnection('/tmp/x.db'), 't', 'id')", 'sqlite /tmp/x.db table t'],
      ["new w.CassandraConnector(new w.CassandraConnection({ user: () => 'u', password: () => 'pw-1', contactPoints: ['a', 'b:9043'], localDataCenter: 'dc', keyspace: 'ks' }), 't', 'id')", 'cassandra a,b:9043/ks table t'],
      ["new w.OracleConnector(new w.OracleConnection('u', () => 'pw-1', 'h/XE'), 'T', 'ID')", 'oracle h/XE table T'],
      ["new w.SnowflakeConnector(new w.SnowflakeConnection('u', () => 'pw-1', 'acct/db', { warehouse: 'wh' }), 'T', 'ID')", 'snowflake acct/db/PUBLIC table T'],
    ];
    for (const [connector, described] of cases) {
      const { regs } = await load(recipe(connector));
      const reg = regs[0]!;
      expect(isRegistration(reg)).toBe(true);
      expect(reg).toMatchObject({ name: 'A', version: '2', keysPrefix: 'p', batchSize: 7, mappings: { f: 'c' }, kind: 'writeBehind' });
      expect(reg.connector.describe()).toBe(described);
      const password = (reg.connector.connection as unknown as { password?: () => Promise<string> }).password;
      if (typeof password === 'function') expect(await password()).toBe('pw-1');
    }
  });

  it('configGet in a credential reads through the runtime', async () => {
    const asked: string[] = [];
    const { regs } = await load(recipe("new w.MySqlConnector(new w.MySqlConnection('u', () => w.configGet('Pw'), 'h/db'), 't', 'id')"), async (n) => {
      asked.push(n);
      return n === 'Pw' ? 'from-redis' : undefined;
    });
    const conn = regs[0]!.connector.connection as unknown as { password: () => Promise<string> };
    expect(await conn.password()).toBe('from-redis');
    expect(asked).toEqual(['Pw']);
  });

  it('a credential that throws rejects that call only; the sandbox lives on', async () => {
    const fails: string[] = [];
    const { regs, sandbox } = await load(
      recipe("new w.MySqlConnector(new w.MySqlConnection('u', () => { if (globalThis.n = (globalThis.n ?? 0) + 1, globalThis.n === 1) throw new Error('vault down'); return 'ok'; }, 'h/db'), 't', 'id')"),
      noParams,
      (r) => fails.push(r),
    );
    const conn = regs[0]!.connector.connection as unknown as { password: () => Promise<string> };
    await expect(conn.password()).rejects.toThrow('vault down');
    expect(await conn.password()).toBe('ok');
    expect(fails).toEqual([]);
    expect(sandbox.failure).toBeUndefined();
  });

  it('a credential that never settles, or loops, stops the sandbox at the limit and says so', async () => {
    for (const fn of ['() => new Promise(() => {})', '() => { for (;;) {} }']) {
      const fails: string[] = [];
      const { regs } = await load(recipe(`new w.MySqlConnector(new w.MySqlConnection('u', ${fn}, 'h/db'), 't', 'id')`), noParams, (r) => fails.push(r));
      const conn = regs[0]!.connector.connection as unknown as { password: () => Promise<string>; user: string };
      const t0 = Date.now();
      await expect(conn.password()).rejects.toThrow(/did not settle within 0\.4 s/);
      expect(Date.now() - t0).toBeLessThan(2000);
      expect(fails).toHaveLength(1);
      // Every later call fails at once: the code is stopped.
      await expect(conn.password()).rejects.toBeInstanceOf(SandboxStopped);
    }
  });

  it('time spent waiting for a parameter is not the recipe\'s: that attempt fails, the sandbox lives', async () => {
    const fails: string[] = [];
    let slow = true;
    const { regs, sandbox } = await load(
      recipe("new w.MySqlConnector(new w.MySqlConnection('u', () => w.configGet('Pw'), 'h/db'), 't', 'id')"),
      (n) => (slow ? new Promise((r) => setTimeout(() => r(n), 800)) : Promise.resolve('fast')),
      (r) => fails.push(r),
    );
    const conn = regs[0]!.connector.connection as unknown as { password: () => Promise<string> };
    await expect(conn.password()).rejects.toThrow(/waited more than 0\.4 s for a parameter from Redis/);
    slow = false;
    expect(await conn.password()).toBe('fast');
    expect(fails).toEqual([]);
    expect(sandbox.failure).toBeUndefined();
  });

  it('refuses at load: a throw, a timer that throws, a rejection, an endless loop, process.exit, no default export', async () => {
    const connector = "new w.SqliteConnector(new w.SqliteConnection('/tmp/x.db'), 't', 'id')";
    const bad: Array<[string, RegExp]> = [
      [recipe(connector, "throw new Error('top')"), /r\.js failed while loading: top/],
      [recipe(connector, "setTimeout(() => { throw new Error('late') }, 20)"), /r\.js failed while loading: late/],
      [recipe(connector, "Promise.reject(new Error('unhandled'))"), /r\.js failed while loading: unhandled/],
      [recipe(connector, 'while (true) {}'), /r\.js did not finish loading within 1\.5 s/],
      [recipe(connector, 'process.exit(3)'), /r\.js ended its thread \(process\.exit\(3\)\)/],
      ["module.exports.x = 1", /has no default export/],
    ];
    for (const [code, message] of bad) {
      await expect(load(code)).rejects.toSatisfy((e: unknown) => e instanceof RecipeLoadError && message.test(e.message));
    }
  });

  it('a throw after the load calls onFail with the reason', async () => {
    const fails: string[] = [];
    await load(recipe("new w.SqliteConnector(new w.SqliteConnection('/tmp/x.db'), 't', 'id')", "setTimeout(() => { throw new Error('much later') }, 900)"), noParams, (r) => fails.push(r));
    await expect.poll(() => fails, { timeout: 3000 }).toEqual(["r.js threw outside any call: much later"]);
  });

  it('parks an idle thread and starts one again for the next call (memory stays flat)', async () => {
    const fails: string[] = [];
    const { regs, sandbox } = await load(recipe("new w.MySqlConnector(new w.MySqlConnection('u', () => 'pw-' + (globalThis.calls = (globalThis.calls ?? 0) + 1), 'h/db'), 't', 'id')"), noParams, (r) => fails.push(r), 200);
    const conn = regs[0]!.connector.connection as unknown as { password: () => Promise<string> };
    expect(await conn.password()).toBe('pw-1');
    expect(await conn.password()).toBe('pw-2'); // the same thread while busy
    expect(sandbox.active).toBe(true);
    await expect.poll(() => sandbox.active, { timeout: 2000 }).toBe(false);
    expect(await conn.password()).toBe('pw-1'); // a fresh thread: the bundle evaluated again
    expect(sandbox.active).toBe(true);
    expect(fails).toEqual([]);
  });
});
